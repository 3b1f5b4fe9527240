"""Bedrock Runtime's wire format: routes, error answers, AWS event-stream frames, and the checks AWS makes.

The checks are those botocore's service model does not express (a conversation must start with a user
turn and alternate roles, no empty content); :mod:`agents.testing.bedrock.service_model` holds the rest.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Mapping

    from agents.testing.bedrock.script import Fault

__all__ = [
    "chunks",
    "encode_event_frame",
    "error_response",
    "event",
    "exception_event",
    "parse_route",
    "text_length",
    "validation_error",
]

_ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
_PRELUDE = struct.Struct(">II")
_UINT32 = struct.Struct(">I")
_STRING_HEADER_TYPE = 7
_NOT_PROMPT_TEXT = frozenset({"role", "toolUseId", "status", "format", "type"})

_MUST_START_WITH_USER = (
    "A conversation must start with a user message. Try again with a conversation that starts with a user message."
)
_MUST_ALTERNATE = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation "
    "alternates between user and assistant roles and try again."
)


def encode_event_frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """Encode one AWS event-stream message with string-valued headers.

    Layout (all integers big-endian): total length u32, headers length u32, CRC32 of those 8 bytes;
    headers (name length u8, name, type u8 = 7 for string, value length u16, value); payload; CRC32
    of everything before it.
    """
    header_bytes = b"".join(_encode_string_header(name, value) for name, value in headers.items())
    total_length = _PRELUDE.size + _UINT32.size + len(header_bytes) + len(payload) + _UINT32.size
    prelude = _PRELUDE.pack(total_length, len(header_bytes))
    message = prelude + _UINT32.pack(zlib.crc32(prelude)) + header_bytes + payload
    return message + _UINT32.pack(zlib.crc32(message))


def _encode_string_header(name: str, value: str) -> bytes:
    name_bytes = name.encode()
    value_bytes = value.encode()
    return (
        struct.pack(">B", len(name_bytes))
        + name_bytes
        + struct.pack(">BH", _STRING_HEADER_TYPE, len(value_bytes))
        + value_bytes
    )


def event(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """One ``:message-type: event`` frame with a JSON payload."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_event_frame(headers, json.dumps(payload).encode())


def exception_event(fault: Fault) -> bytes:
    """The ``:message-type: exception`` frame ConverseStream raises ``fault`` with mid-stream."""
    headers = {
        ":exception-type": fault.exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_event_frame(headers, json.dumps({"message": fault.message}).encode())


def chunks(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size`` characters (one empty piece for no text)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def text_length(value: object) -> int:
    """Total length of the prompt strings inside ``value`` (keys, roles and tool-use ids excluded)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(text_length(item) for key, item in value.items() if key not in _NOT_PROMPT_TEXT)
    if isinstance(value, list):
        return sum(text_length(item) for item in value)
    return 0


def validation_error(body: Mapping[str, Any]) -> str | None:
    """The message Bedrock would reject ``body`` with, or ``None`` if it is acceptable."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _MUST_START_WITH_USER
    previous_role = None
    for index, message in enumerate(messages):
        error = _message_error(index, message, previous_role)
        if error is not None:
            return error
        previous_role = message["role"]
    config = body.get("inferenceConfig")
    max_tokens = config.get("maxTokens") if isinstance(config, dict) else None
    if isinstance(max_tokens, int) and max_tokens < 1:
        return (
            f"1 validation error detected: Value '{max_tokens}' at 'inferenceConfig.maxTokens' failed to "
            "satisfy constraint: Member must have value greater than or equal to 1"
        )
    return None


def _message_error(index: int, message: object, previous_role: str | None) -> str | None:
    role = message.get("role") if isinstance(message, dict) else None
    if role not in {"user", "assistant"}:
        return (
            f"1 validation error detected: Value '{role}' at 'messages.{index + 1}.member.role' "
            "failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]"
        )
    if index == 0 and role != "user":
        return _MUST_START_WITH_USER
    if role == previous_role:
        return _MUST_ALTERNATE
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list) or not content:
        return (
            f"The content field in the Message object at messages.{index} is empty. "
            "Add a ContentBlock object to the content field and try again."
        )
    return None


def error_response(code: str, message: str, status: int, request_id: str) -> web.Response:
    """An error answer as Bedrock sends it: the code in ``x-amzn-ErrorType``, the message in the body."""
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode(),
        content_type="application/json",
        headers={"x-amzn-ErrorType": code + _ERROR_TYPE_SUFFIX, "x-amzn-RequestId": request_id},
    )


def parse_route(request: web.BaseRequest) -> tuple[str, bool] | None:
    """``(model_id, stream)`` for ``POST /model/{modelId}/converse[-stream]``, else ``None``."""
    if request.method != "POST":
        return None
    path = request.raw_path.partition("?")[0]
    if not path.startswith("/model/"):
        return None
    encoded_model_id, _, operation = path.removeprefix("/model/").rpartition("/")
    if not encoded_model_id or operation not in {"converse", "converse-stream"}:
        return None
    return unquote(encoded_model_id), operation == "converse-stream"
