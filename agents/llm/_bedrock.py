"""Amazon Bedrock's Converse API behind the :class:`ChatModel` port.

This is the only module that sees botocore's exceptions: each is translated here, once, into the
``agents.errors`` tree. The client is aiobotocore's, so hundreds of calls can wait on Bedrock at once
without a thread pool in the way, and botocore's own retries are off: :mod:`agents.llm._retry` is the
single retry layer.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from agents.errors import (
    LLMAccessDenied,
    LLMError,
    LLMModelNotFound,
    LLMNoCredentials,
    LLMRequestRejected,
    LLMThrottled,
    LLMTransient,
)
from agents.llm._base import ModelReply, ModelRequest, Usage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from types_aiobotocore_bedrock_runtime import BedrockRuntimeClient

_THROTTLED = frozenset({"ThrottlingException", "TooManyRequestsException"})
_TRANSIENT = frozenset(
    {
        "ServiceUnavailableException",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "InternalServerException",
        "ModelErrorException",
    }
)


@asynccontextmanager
async def bedrock_client(
    *, region: str, max_connections: int = 1000, read_timeout: float = 120.0
) -> AsyncIterator[BedrockRuntimeClient]:
    """Open one Bedrock Runtime client for the life of the process.

    Credentials, region and endpoint (``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, ``AWS_ENDPOINT_URL``) come from
    the standard chain; nothing is hard-coded.
    """
    config = AioConfig(
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=max_connections,
        connect_timeout=5,
        read_timeout=read_timeout,
    )
    async with AioSession().create_client("bedrock-runtime", region_name=region, config=config) as client:
        yield client


class BedrockChatModel:
    """Calls Converse once per request; never retries."""

    def __init__(self, client: BedrockRuntimeClient) -> None:
        self._client = client

    async def converse(self, request: ModelRequest) -> ModelReply:
        """Send ``request`` to Bedrock and return its reply, or raise an :class:`LLMError`."""
        try:
            response = await self._client.converse(
                modelId=request.model_id,
                system=[{"text": request.system}],
                messages=[{"role": m.role, "content": [{"text": m.text}]} for m in request.messages],
                inferenceConfig={"maxTokens": request.max_tokens, "temperature": request.temperature},
            )
        except (ClientError, BotoCoreError, aiohttp.ClientError, TimeoutError) as exc:
            raise translate_error(exc, model_id=request.model_id) from exc
        return _to_reply(response, request.model_id)


def _to_reply(response: Any, model_id: str) -> ModelReply:
    content = response.get("output", {}).get("message", {}).get("content", [])
    text = "".join(block.get("text", "") for block in content)
    usage = response.get("usage", {})
    return ModelReply(
        text=text,
        model_id=model_id,
        usage=Usage(usage.get("inputTokens", 0), usage.get("outputTokens", 0)),
        stop_reason=response.get("stopReason", "end_turn"),
    )


def translate_error(exc: BaseException, *, model_id: str) -> LLMError:
    """Map a botocore or aiohttp failure to our error tree; anything unknown is re-raised as it is."""
    if isinstance(exc, ClientError):
        return _translate_client_error(exc, model_id=model_id)
    if isinstance(exc, NoCredentialsError):
        return LLMNoCredentials("no AWS credentials found")
    if isinstance(exc, _CONNECTION_ERRORS):
        return LLMTransient(type(exc).__name__, vendor_code=type(exc).__name__)
    if isinstance(exc, BotoCoreError):
        return LLMRequestRejected(type(exc).__name__)
    raise exc


_CONNECTION_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
    aiohttp.ClientError,
    TimeoutError,
)


def _translate_client_error(exc: ClientError, *, model_id: str) -> LLMError:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _THROTTLED:
        return LLMThrottled(message or "throttled", vendor_code=code)
    if code in _TRANSIENT or status >= 500:  # noqa: PLR2004 - any server error is worth retrying
        return LLMTransient(message or code, vendor_code=code)
    if code in {"AccessDeniedException", "UnrecognizedClientException"}:
        return LLMAccessDenied(model_id=model_id)
    if code == "ResourceNotFoundException" or "model identifier is invalid" in message.lower():
        return LLMModelNotFound(model_id=model_id)
    return LLMRequestRejected(f"{code}: {message}" if message else code)
