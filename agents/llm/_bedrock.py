"""Amazon Bedrock's Converse API behind the :class:`ChatModel` port.

This is the only module that sees botocore's exceptions: each is translated here, once, into the
``agents.errors`` tree. The client is aiobotocore's, so hundreds of calls can wait on Bedrock at once
without a thread pool in the way, and botocore's own retries are off: :mod:`agents.llm._retry` is the
single retry layer.
"""

from __future__ import annotations

import json
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

from agents.cputime import CpuClock
from agents.errors import (
    LLMAccessDenied,
    LLMError,
    LLMModelFailed,
    LLMModelNotFound,
    LLMNoCredentials,
    LLMRequestRejected,
    LLMThrottled,
    LLMTransient,
)
from agents.llm._base import (
    ChatMessage,
    ModelReply,
    ModelRequest,
    ReplyComplete,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from agents.llm._caching import CACHE_POINT, MAX_CACHE_POINTS, cache_fields, message_cache_points

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping

    from types_aiobotocore_bedrock_runtime import BedrockRuntimeClient

_VENDOR_ERRORS = (ClientError, BotoCoreError, aiohttp.ClientError, TimeoutError)
_THROTTLED = frozenset({"ThrottlingException", "TooManyRequestsException"})
# What AWS says to retry (botocore's service model for bedrock-runtime and its standard retry rules):
# 5xx, ModelNotReadyException (``retryable`` trait) and modelStreamErrorException mid-stream ("Retry your
# request."). ModelErrorException (424) and ModelTimeoutException (408) carry no retry trait: not retried.
_TRANSIENT = frozenset(
    {
        "ServiceUnavailableException",
        "ModelNotReadyException",
        "InternalServerException",
        "ModelStreamErrorException",
    }
)
_MODEL_FAILED = frozenset({"ModelErrorException", "ModelTimeoutException"})
_BLANK_RESULT = "(the tool returned nothing)"


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
    """Calls Converse / ConverseStream once per request; never retries.

    ``on_client_cpu(model_id, seconds)``, when given, hears after each call how much CPU the Bedrock client
    spent on it (signing, serialising, reading and decoding the response), counted with :class:`CpuClock`.
    """

    def __init__(
        self, client: BedrockRuntimeClient, *, on_client_cpu: Callable[[str, float], None] | None = None
    ) -> None:
        self._client = client
        self._on_client_cpu = on_client_cpu

    def _report(self, model_id: str, clock: CpuClock) -> None:
        if self._on_client_cpu is not None:
            self._on_client_cpu(model_id, clock.seconds)

    async def converse(self, request: ModelRequest) -> ModelReply:
        """Send ``request`` to Bedrock and return its reply, or raise an :class:`LLMError`."""
        clock = CpuClock()
        try:
            response = await clock.run(self._client.converse(**_request_kwargs(request)))
        except _VENDOR_ERRORS as exc:
            raise translate_error(exc, model_id=request.model_id) from exc
        finally:
            self._report(request.model_id, clock)
        message = response.get("output", {}).get("message", {})
        content = message.get("content", [])
        text = "".join(block.get("text", "") for block in content)
        calls = tuple(
            ToolCall(id=use["toolUseId"], name=use["name"], input=dict(use.get("input") or {}))
            for use in (block["toolUse"] for block in content if "toolUse" in block)
        )
        usage = response.get("usage", {})
        return ModelReply(
            text=text,
            model_id=request.model_id,
            usage=Usage.from_bedrock(usage),
            stop_reason=response.get("stopReason", "end_turn"),
            tool_calls=calls,
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Yield the answer's text as Bedrock streams it, then the complete reply."""
        reply = _StreamedReply()
        clock = CpuClock()
        try:
            response = await clock.run(self._client.converse_stream(**_request_kwargs(request)))
            events = aiter(response["stream"])
            while (event := await clock.run(anext(events, None))) is not None:
                delta = reply.absorb(event)
                if delta:
                    yield TextDelta(delta)
        except _VENDOR_ERRORS as exc:
            raise translate_error(exc, model_id=request.model_id) from exc
        finally:
            self._report(request.model_id, clock)
        yield ReplyComplete(reply.finish(request.model_id))


class _StreamedReply:
    """Reassembles a ConverseStream: text deltas, tool-use blocks whose input arrives as JSON fragments."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.tools: dict[int, tuple[str, str, list[str]]] = {}
        self.stop_reason = "end_turn"
        self.usage = Usage()

    def absorb(self, event: Mapping[str, Any]) -> str:
        """Take one stream event; return the text it adds, if any."""
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = start.get("start", {}).get("toolUse")
            if use:
                self.tools[start.get("contentBlockIndex", 0)] = (use["toolUseId"], use["name"], [])
        elif "contentBlockDelta" in event:
            block = event["contentBlockDelta"]
            delta = block.get("delta", {})
            if "text" in delta:
                self.text.append(delta["text"])
                return str(delta["text"])
            if "toolUse" in delta and block.get("contentBlockIndex", 0) in self.tools:
                self.tools[block["contentBlockIndex"]][2].append(delta["toolUse"].get("input", ""))
        elif "messageStop" in event:
            self.stop_reason = event["messageStop"].get("stopReason", "end_turn")
        elif "metadata" in event:
            usage = event["metadata"].get("usage", {})
            self.usage = Usage.from_bedrock(usage)
        return ""

    def finish(self, model_id: str) -> ModelReply:
        calls = tuple(
            ToolCall(id=tool_id, name=name, input=_parse_input("".join(parts)))
            for _, (tool_id, name, parts) in sorted(self.tools.items())
        )
        return ModelReply(
            text="".join(self.text),
            model_id=model_id,
            usage=self.usage,
            stop_reason=self.stop_reason,
            tool_calls=calls,
        )


def _parse_input(raw: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {"_unparsable_input": raw[:2000]}
    return value if isinstance(value, dict) else {"value": value}


def _content(message: ChatMessage, *, context_point: bool = False) -> list[dict[str, Any]]:
    """The turn's content blocks, without blank text; a cache point after its context when asked.

    Bedrock refuses a whole request over one whitespace-only text block (typically an assistant's blank
    line before its tool calls).
    """
    blocks: list[dict[str, Any]] = [{"text": piece} for piece in message.context if piece.strip()]
    if context_point and blocks:
        blocks.append(dict(CACHE_POINT))
    if message.text.strip():
        blocks.append({"text": message.text})
    blocks.extend(
        {"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.input}} for call in message.tool_calls
    )
    blocks.extend(
        {
            "toolResult": {
                "toolUseId": result.tool_call_id,
                "content": [{"text": result.text if result.text.strip() else _BLANK_RESULT}],
                "status": "error" if result.is_error else "success",
            }
        }
        for result in message.tool_results
    )
    return blocks


def _request_kwargs(request: ModelRequest) -> dict[str, Any]:
    places = cache_fields(request.model_id) if request.cache else frozenset()
    system_point = "system" in places
    points: tuple[tuple[int, str], ...] = ()
    if "messages" in places:
        # The end of this request (the next turn reads it), the end of the previous turn's request (read
        # now), the thread context (the next follow-up reads it): see agents.llm._caching.
        context_turn = bool(request.messages and any(p.strip() for p in request.messages[0].context))
        budget = MAX_CACHE_POINTS - int(system_point)
        points = message_cache_points(turns=len(request.messages), context_turn=context_turn, budget=budget)
    contents = [_content(m, context_point=(index, "context") in points) for index, m in enumerate(request.messages)]
    for index, kind in points:
        if kind == "end" and contents[index] and contents[index][-1] != CACHE_POINT:
            contents[index].append(dict(CACHE_POINT))
    used = sum(block == CACHE_POINT for content in contents for block in content) + int(system_point)
    tools_point = "tools" in places and used < MAX_CACHE_POINTS
    messages = [{"role": m.role, "content": content} for m, content in zip(request.messages, contents, strict=True)]
    kwargs: dict[str, Any] = {
        "modelId": request.model_id,
        "system": [{"text": request.system}, *([dict(CACHE_POINT)] if system_point else [])],
        "messages": messages,
        "inferenceConfig": {"maxTokens": request.max_tokens, "temperature": request.temperature},
    }
    if request.tools:
        choice = {"auto": {}} if request.tool_choice == "auto" else {"tool": {"name": request.tool_choice}}
        kwargs["toolConfig"] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": t.name,
                        "description": t.description,
                        "inputSchema": {"json": t.input_schema},
                    }
                }
                for t in request.tools
            ]
            + ([dict(CACHE_POINT)] if tools_point else []),
            "toolChoice": choice,
        }
    return kwargs


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
    code = str(error.get("Code", ""))
    code = code[:1].upper() + code[1:]  # errors inside an event stream use lowerCamel codes
    message = error.get("Message", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _THROTTLED:
        return LLMThrottled(message or "throttled", vendor_code=code)
    if code in _TRANSIENT or status >= 500:  # noqa: PLR2004 - any server error is worth retrying
        return LLMTransient(message or code, vendor_code=code)
    if code in _MODEL_FAILED:
        return LLMModelFailed(message or code, vendor_code=code)
    if code in {"AccessDeniedException", "UnrecognizedClientException"}:
        return LLMAccessDenied(model_id=model_id)
    if code == "ResourceNotFoundException" or "model identifier is invalid" in message.lower():
        return LLMModelNotFound(model_id=model_id)
    return LLMRequestRejected(f"{code}: {message}" if message else code)
