"""A fake Amazon Bedrock Runtime that the real aiobotocore client can talk to over HTTP.

Why it exists: mocking ``client.converse`` in-process skips everything that actually breaks in
production: botocore's request serialisation, URL-encoding of model ids, error parsing from
``x-amzn-ErrorType``, event-stream decoding, connection pooling under load. This module runs a real
aiohttp server on 127.0.0.1 that speaks Bedrock's wire protocol (rest-json for ``Converse``, AWS
event-stream binary frames for ``ConverseStream``), so the bot's own client code runs unchanged with
``endpoint_url`` (or ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``) pointed at it.

Tests script model turns with :meth:`FakeBedrock.enqueue` (:class:`Reply` and :class:`Fault` items,
consumed FIFO, one per model invocation) and inspect what was sent through :attr:`FakeBedrock.calls`.
Load benchmarks use ``latency`` / ``chunk_delay`` (plain ``asyncio.sleep``, nothing blocks) and read
:attr:`FakeBedrock.peak_in_flight`. Standalone: ``python -m tests.fakes.bedrock --port 0 --latency 2``
prints the endpoint URL and serves until interrupted.

Shapes follow botocore's service model ``botocore/data/bedrock-runtime/2023-09-30/service-2.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import struct
import sys
import time
import uuid
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import unquote

from aiohttp import web

from tests.fakes.bedrock_model import documented_errors, request_problem, stop_reasons, stream_exceptions

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from types import TracebackType

__all__ = [
    "ERROR_STATUS",
    "STOP_REASONS",
    "STREAM_ERRORS",
    "ConverseCall",
    "FakeBedrock",
    "Fault",
    "Reply",
    "echo_reply",
    "encode_event_frame",
    "run_cli",
]

#: HTTP status Bedrock Runtime returns for each error code: every exception in botocore's service model
#: (its ``error.httpStatusCode``), plus the errors AWS's front door returns before Bedrock sees the request.
ERROR_STATUS: dict[str, int] = {
    "SerializationException": 400,
    "UnrecognizedClientException": 403,
    "InvalidSignatureException": 403,
    "ExpiredTokenException": 403,
    "UnknownOperationException": 404,
    "TooManyRequestsException": 429,
    **{code: spec.status for code, spec in documented_errors().items()},
}

#: Every ``stopReason`` the service model documents; :class:`Reply` can end a turn with any of them.
STOP_REASONS: tuple[str, ...] = stop_reasons()

#: The error codes ConverseStream can raise mid-stream (as ``:exception-type`` frames, in lowerCamelCase).
STREAM_ERRORS: tuple[str, ...] = tuple(name[:1].upper() + name[1:] for name in stream_exceptions())

_ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
_EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
_PRELUDE = struct.Struct(">II")
_UINT32 = struct.Struct(">I")
_STRING_HEADER_TYPE = 7
_SHUTDOWN_GRACE_SECONDS = 1.0
_LISTEN_BACKLOG = 2048
_NOT_PROMPT_TEXT = frozenset({"role", "toolUseId", "status", "format", "type"})

_DENIED_MESSAGE = "You don't have access to the model with the specified model ID."
_UNKNOWN_MODEL_MESSAGE = "The provided model identifier is invalid."
_MUST_START_WITH_USER = (
    "A conversation must start with a user message. Try again with a conversation that starts with a user message."
)
_MUST_ALTERNATE = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation "
    "alternates between user and assistant roles and try again."
)


@dataclass
class ConverseCall:
    """One request the fake received (recorded even when it was rejected).

    ``body`` is the decoded JSON request body (``{}`` if it was not a JSON object); ``headers`` has
    lower-cased names, as HTTP header names are case-insensitive. ``at`` is when the request arrived and
    ``first_text_at`` when the first streamed text delta was written (``None`` until then, and for
    ``Converse``), both :func:`time.monotonic`, for benchmarks that time the bot's reaction.
    """

    model_id: str
    body: dict[str, Any]
    stream: bool
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    first_text_at: float | None = None


@dataclass
class Reply:
    """One scripted model turn.

    ``tool_uses`` items are ``{"toolUseId": .., "name": .., "input": {...}}``; ``toolUseId`` defaults
    to a fresh ``tooluse_…`` id and ``input`` to ``{}``. Any tool use makes the stop reason
    ``tool_use``, else it is ``end_turn``; ``stop`` sends any other documented stop reason
    (:data:`STOP_REASONS`: ``max_tokens``, ``guardrail_intervened``, ``malformed_tool_use``…).
    Token counts default to rough estimates; ``latency`` overrides :attr:`FakeBedrock.latency` for this turn.
    """

    text: str = ""
    tool_uses: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency: float | None = None
    stop: str | None = None

    def __post_init__(self) -> None:
        self.tool_uses = [_normalise_tool_use(tool) for tool in self.tool_uses]
        if self.stop is not None and self.stop not in STOP_REASONS:
            raise ValueError(f"undocumented stopReason {self.stop!r}; botocore documents {list(STOP_REASONS)}")

    @property
    def stop_reason(self) -> str:
        """``stop`` when given, else ``tool_use`` when the turn calls tools, else ``end_turn``."""
        if self.stop is not None:
            return self.stop
        return "tool_use" if self.tool_uses else "end_turn"


@dataclass
class Fault:
    """One scripted failure, answered instead of a model turn.

    ``status`` defaults from :data:`ERROR_STATUS` (an unknown ``code`` needs an explicit status).
    With ``mid_stream`` a ``ConverseStream`` request first gets a 200 response with ``partial`` text
    (by default the start of the default reply; ``""`` sends none), then an exception frame whose
    ``:exception-type`` is ``code`` in lowerCamelCase; only the codes the service model lists for the
    stream (:data:`STREAM_ERRORS`) can be sent that way. ``Converse`` ignores the flag. ``latency`` (an
    addition to the brief) delays the failure like :attr:`Reply.latency`.
    """

    code: str
    message: str = "scripted fault"
    status: int | None = None
    mid_stream: bool = False
    latency: float | None = None
    partial: str | None = None

    def __post_init__(self) -> None:
        if self.mid_stream and self.code not in STREAM_ERRORS:
            raise ValueError(f"{self.code} is not a ConverseStream event; botocore documents {list(STREAM_ERRORS)}")
        if self.status is None:
            if self.code not in ERROR_STATUS:
                raise ValueError(f"unknown error code {self.code!r}: pass status= explicitly")
            self.status = ERROR_STATUS[self.code]

    @property
    def exception_type(self) -> str:
        """``code`` as an event-stream ``:exception-type`` (lowerCamelCase: ``throttlingException``)."""
        return self.code[:1].lower() + self.code[1:]


def echo_reply(call: ConverseCall) -> Reply:
    """Default :attr:`FakeBedrock.default_reply`: ``"echo: "`` plus the last user message's text."""
    messages = call.body.get("messages")
    text = ""
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                blocks = content if isinstance(content, list) else []
                text = "".join(
                    block["text"] for block in blocks if isinstance(block, dict) and isinstance(block.get("text"), str)
                )
                break
    return Reply(text=f"echo: {text}")


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


def _event(event_type: str, payload: Mapping[str, Any]) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_event_frame(headers, json.dumps(payload).encode())


def _exception_event(fault: Fault) -> bytes:
    headers = {
        ":exception-type": fault.exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_event_frame(headers, json.dumps({"message": fault.message}).encode())


def _normalise_tool_use(tool: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(tool.get("name"), str):
        raise TypeError(f"a tool use needs a string 'name': {tool!r}")
    return {
        "toolUseId": tool.get("toolUseId") or f"tooluse_{uuid.uuid4().hex[:22]}",
        "name": tool["name"],
        "input": tool.get("input", {}),
    }


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _text_length(value: object) -> int:
    """Total length of the prompt strings inside ``value`` (keys, roles and tool-use ids excluded)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_text_length(item) for key, item in value.items() if key not in _NOT_PROMPT_TEXT)
    if isinstance(value, list):
        return sum(_text_length(item) for item in value)
    return 0


def _validation_error(body: Mapping[str, Any]) -> str | None:
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


def _error_response(code: str, message: str, status: int, request_id: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode(),
        content_type="application/json",
        headers={"x-amzn-ErrorType": code + _ERROR_TYPE_SUFFIX, "x-amzn-RequestId": request_id},
    )


def _parse_route(request: web.BaseRequest) -> tuple[str, bool] | None:
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


class FakeBedrock:
    """A Bedrock Runtime ``Converse`` / ``ConverseStream`` server on 127.0.0.1.

    Use as ``async with FakeBedrock() as fake:`` and point the client at :attr:`endpoint_url`.
    Requests are first checked against :attr:`denied_models`, :attr:`unknown_models` and Bedrock's
    request validation (those rejections consume no scripted item and are answered without latency);
    then the next :meth:`enqueue`-d item is served, or :attr:`default_reply` when the script is empty.

    ``latency`` is the delay before the response (for a stream: before its first event);
    ``chunk_delay`` is the pause between streamed deltas, which are at most ``chunk_size`` characters.
    ``host`` and ``port`` (additions to the brief, used by the CLI) choose where to listen; port 0
    picks a free one.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        chunk_delay: float = 0.0,
        chunk_size: int = 16,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.latency = latency
        self.chunk_delay = chunk_delay
        self.chunk_size = chunk_size
        self.calls: list[ConverseCall] = []
        self.default_reply: Callable[[ConverseCall], Reply] = echo_reply
        self.validate = True  # hold requests to botocore's service model (~0.1 ms each; benchmarks may skip it)
        self.denied_models: set[str] = set()
        self.unknown_models: set[str] = set()
        self.in_flight = 0
        self.peak_in_flight = 0
        self._host = host
        self._port = port
        self._script: deque[Reply | Fault] = deque()
        self._forced: deque[Reply | Fault] = deque()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._runner: web.ServerRunner | None = None
        self._url: str | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening; afterwards :attr:`endpoint_url` is valid."""
        if self._runner is not None:
            raise RuntimeError("FakeBedrock is already running")
        server = web.Server(self._handle, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=_SHUTDOWN_GRACE_SECONDS)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, backlog=_LISTEN_BACKLOG)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Stop listening; requests still running get a short grace period, then are cancelled."""
        runner, self._runner = self._runner, None
        self._url = None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._url is None:
            raise RuntimeError("FakeBedrock is not running: call start() or use 'async with'")
        return self._url

    # -- scripting and inspection --------------------------------------------------------------

    def enqueue_forced(self, *items: Reply | Fault) -> None:
        """Script the replies to requests that force a tool choice (``toolChoice: {"tool": …}``), in order.

        Unscripted, such a request gets a call of the forced tool whose input takes the first allowed value
        of every enum property (and ``"scripted"`` for other strings), as a model obeying the schema would.
        """
        self._forced.extend(items)

    def answer_calls(self) -> list[ConverseCall]:
        """Calls that did not force a tool choice: the ones that produce what users read."""
        return [call for call in self.calls if _forced_tool(call) is None]

    def enqueue(self, *items: Reply | Fault) -> None:
        """Append scripted turns; each model invocation consumes one, oldest first."""
        self._script.extend(items)

    async def wait_for_calls(
        self,
        count: int,
        timeout: float = 5.0,
    ) -> list[ConverseCall]:
        """Wait until at least ``count`` requests arrived; return all calls so far.

        Raises:
            TimeoutError: fewer than ``count`` requests arrived within ``timeout`` seconds.
        """
        if len(self.calls) < count:
            waiter = (count, asyncio.get_running_loop().create_future())
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(timeout):
                    await waiter[1]
            except TimeoutError:
                raise TimeoutError(f"expected {count} Bedrock calls within {timeout}s, got {len(self.calls)}") from None
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        return list(self.calls)

    def _record(self, call: ConverseCall) -> None:
        self.calls.append(call)
        if self._waiters:
            seen = len(self.calls)
            for count, future in self._waiters:
                if seen >= count and not future.done():
                    future.set_result(None)

    # -- HTTP ------------------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        route = _parse_route(request)
        if route is None:
            message = f"No operation matches {request.method} {request.raw_path}"
            return _error_response("UnknownOperationException", message, 404, request_id)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._serve(request, request_id, *route)
        finally:
            self.in_flight -= 1

    async def _serve(
        self, request: web.BaseRequest, request_id: str, model_id: str, stream: bool
    ) -> web.StreamResponse:
        started = time.monotonic()
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in request.headers.items()}
        call = ConverseCall(model_id, body if isinstance(body, dict) else {}, stream, headers)
        self._record(call)

        rejection = self._rejection(model_id, body, stream=stream)
        if rejection is not None:
            code, message = rejection
            return _error_response(code, message, ERROR_STATUS[code], request_id)

        forced = _forced_tool(call)
        if forced is not None:
            # A forced tool choice (routing, classification) is scripted apart from answers, so tests script
            # what the user sees without counting the bot's internal calls.
            item = self._forced.popleft() if self._forced else _forced_default(call, forced)
        else:
            item = self._script.popleft() if self._script else self.default_reply(call)
        latency = self.latency if item.latency is None else item.latency
        if stream and (isinstance(item, Reply) or item.mid_stream):
            return await self._stream(request, call, item, request_id=request_id, latency=latency, started=started)
        await _sleep(latency)
        if isinstance(item, Fault):
            return _error_response(item.code, item.message, item.status or 400, request_id)
        return web.Response(
            body=json.dumps(self._converse_body(call, item, started)).encode(),
            content_type="application/json",
            headers={"x-amzn-RequestId": request_id},
        )

    def _rejection(self, model_id: str, body: object, *, stream: bool) -> tuple[str, str] | None:
        if model_id in self.denied_models:
            return "AccessDeniedException", _DENIED_MESSAGE
        if model_id in self.unknown_models:
            return "ResourceNotFoundException", _UNKNOWN_MODEL_MESSAGE
        if not isinstance(body, dict):
            return "SerializationException", "The request body is not a JSON object."
        message = (request_problem(model_id, body, stream=stream) if self.validate else None) or _validation_error(body)
        return None if message is None else ("ValidationException", message)

    def _usage(self, call: ConverseCall, reply: Reply) -> dict[str, int]:
        input_tokens = reply.input_tokens
        if input_tokens is None:
            prompt_chars = _text_length(call.body.get("system")) + _text_length(call.body.get("messages"))
            input_tokens = max(1, prompt_chars // 4)
        output_tokens = len(reply.text) // 4 + 1 if reply.output_tokens is None else reply.output_tokens
        return {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        }

    def _converse_body(self, call: ConverseCall, reply: Reply, started: float) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.text or not reply.tool_uses:
            content.append({"text": reply.text})
        content.extend({"toolUse": dict(tool)} for tool in reply.tool_uses)
        return {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": reply.stop_reason,
            "usage": self._usage(call, reply),
            "metrics": {"latencyMs": _elapsed_ms(started)},
        }

    async def _stream(
        self,
        request: web.BaseRequest,
        call: ConverseCall,
        item: Reply | Fault,
        *,
        request_id: str,
        latency: float,
        started: float,
    ) -> web.StreamResponse:
        await _sleep(latency)
        response = web.StreamResponse(
            headers={"Content-Type": _EVENTSTREAM_CONTENT_TYPE, "x-amzn-RequestId": request_id}
        )
        await response.prepare(request)
        try:
            await response.write(_event("messageStart", {"role": "assistant"}))
            if isinstance(item, Fault):
                partial = item.partial
                if partial is None:
                    partial = self.default_reply(call).text[: self.chunk_size] or "partial"
                if partial:
                    await self._write_deltas(response, 0, [{"text": partial}], call=call)
                    await _sleep(self.chunk_delay)
                await response.write(_exception_event(item))
            else:
                await self._write_reply_events(response, call, item, started)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away mid-stream; nothing left to tell it
        return response

    async def _write_reply_events(
        self, response: web.StreamResponse, call: ConverseCall, reply: Reply, started: float
    ) -> None:
        index = 0
        if reply.text or not reply.tool_uses:
            text_deltas = ({"text": chunk} for chunk in _chunks(reply.text, self.chunk_size))
            await self._write_deltas(response, index, text_deltas, call=call)
            await response.write(_event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        for tool in reply.tool_uses:
            start = {"toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}}
            await response.write(_event("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            fragments = _chunks(json.dumps(tool["input"]), self.chunk_size)
            await self._write_deltas(response, index, ({"toolUse": {"input": f}} for f in fragments))
            await response.write(_event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        await response.write(_event("messageStop", {"stopReason": reply.stop_reason}))
        metadata = {"usage": self._usage(call, reply), "metrics": {"latencyMs": _elapsed_ms(started)}}
        await response.write(_event("metadata", metadata))

    async def _write_deltas(
        self,
        response: web.StreamResponse,
        index: int,
        deltas: Iterable[dict[str, Any]],
        *,
        call: ConverseCall | None = None,
    ) -> None:
        """Write ``contentBlockDelta`` events, pausing ``chunk_delay`` between consecutive ones.

        With ``call`` (text deltas), the time the first one was written is stored in ``call.first_text_at``.
        """
        for position, delta in enumerate(deltas):
            if position:
                await _sleep(self.chunk_delay)
            await response.write(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
            if call is not None and call.first_text_at is None:
                call.first_text_at = time.monotonic()


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


# -- standalone ------------------------------------------------------------------------------------


async def _serve_forever(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    fake = FakeBedrock(
        latency=args.latency,
        chunk_delay=args.chunk_delay,
        chunk_size=args.chunk_size,
        host=args.host,
        port=args.port,
    )
    async with fake:
        sys.stdout.write(f"{fake.endpoint_url}\n")
        sys.stdout.flush()
        await stop.wait()


def run_cli(argv: Sequence[str] | None = None) -> None:
    """Serve a :class:`FakeBedrock` until SIGINT/SIGTERM, printing its endpoint URL as the first line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.bedrock", description="Fake Amazon Bedrock Runtime server."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each response")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between streamed deltas")
    parser.add_argument("--chunk-size", type=int, default=16, help="characters per streamed delta")
    asyncio.run(_serve_forever(parser.parse_args(argv)))


def _forced_tool(call: ConverseCall) -> dict[str, Any] | None:
    """The tool spec a request forces the model to call, if it does."""
    config = call.body.get("toolConfig") or {}
    name = ((config.get("toolChoice") or {}).get("tool") or {}).get("name")
    if not name:
        return None
    for tool in config.get("tools") or []:
        spec = tool.get("toolSpec") or {}
        if spec.get("name") == name:
            return dict(spec)
    return {"name": name}


def _forced_default(call: ConverseCall, spec: dict[str, Any]) -> Reply:
    """A schema-obeying call of the forced tool: first enum values, placeholder strings."""
    schema = ((spec.get("inputSchema") or {}).get("json")) or {}
    arguments: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if prop.get("enum"):
            arguments[name] = prop["enum"][0]
        elif prop.get("type") == "string":
            arguments[name] = "scripted"
    del call
    return Reply(tool_uses=[{"toolUseId": "tooluse_forced", "name": spec["name"], "input": arguments}])


if __name__ == "__main__":
    run_cli()
