"""The fake Bedrock Runtime server: ``Converse`` and ``ConverseStream`` over HTTP, scripted turn by turn."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

from agents.testing.bedrock.cache import PromptCache, cache_point_problem
from agents.testing.bedrock.script import (
    ERROR_STATUS,
    ConverseCall,
    Fault,
    Reply,
    echo_reply,
    forced_default,
    forced_tool,
)
from agents.testing.bedrock.service_model import request_problem
from agents.testing.bedrock.wire import (
    chunks,
    error_response,
    event,
    exception_event,
    parse_route,
    validation_error,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import TracebackType

__all__ = ["FakeBedrock"]

_EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
_SHUTDOWN_GRACE_SECONDS = 1.0
_LISTEN_BACKLOG = 2048
_DENIED_MESSAGE = "You don't have access to the model with the specified model ID."
_UNKNOWN_MODEL_MESSAGE = "The provided model identifier is invalid."


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
        #: What an unscripted forced-tool request (routing) gets: the forced tool's spec is the second argument.
        self.default_forced: Callable[[ConverseCall, dict[str, Any]], Reply] = forced_default
        #: Bedrock's prompt cache, as the fake models it (per model, prefix hash up to a cache point, TTL).
        self.prompt_cache = PromptCache()
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
        return [call for call in self.calls if forced_tool(call) is None]

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
        route = parse_route(request)
        if route is None:
            message = f"No operation matches {request.method} {request.raw_path}"
            return error_response("UnknownOperationException", message, 404, request_id)
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
            return error_response(code, message, ERROR_STATUS[code], request_id)

        forced = forced_tool(call)
        if forced is not None:
            # A forced tool choice (routing, classification) is scripted apart from answers, so tests script
            # what the user sees without counting the bot's internal calls.
            item = self._forced.popleft() if self._forced else self.default_forced(call, forced)
        else:
            item = self._script.popleft() if self._script else self.default_reply(call)
        latency = self.latency if item.latency is None else item.latency
        if stream and (isinstance(item, Reply) or item.mid_stream):
            return await self._stream(request, call, item, request_id=request_id, latency=latency, started=started)
        await sleep(latency)
        if isinstance(item, Fault):
            return error_response(item.code, item.message, item.status or 400, request_id)
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
        message = (
            (request_problem(model_id, body, stream=stream) if self.validate else None)
            or validation_error(body)
            or cache_point_problem(model_id, body)
        )
        return None if message is None else ("ValidationException", message)

    def _usage(self, call: ConverseCall, reply: Reply) -> dict[str, int]:
        """Scripted counts as given; else estimates (about four characters a token) through the prompt cache."""
        output_tokens = len(reply.text) // 4 + 1 if reply.output_tokens is None else reply.output_tokens
        if reply.input_tokens is not None:
            call.usage = {
                "inputTokens": reply.input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": reply.input_tokens + output_tokens,
            }
            return call.usage
        counted = self.prompt_cache.account(call.model_id, call.body)
        usage = {
            "inputTokens": counted.input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": counted.input_tokens + counted.cache_read + counted.cache_write + output_tokens,
        }
        if counted.cache_read or counted.cache_write:
            usage["cacheReadInputTokens"] = counted.cache_read
            usage["cacheWriteInputTokens"] = counted.cache_write
        call.usage = usage
        return usage

    def _converse_body(self, call: ConverseCall, reply: Reply, started: float) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.text or not reply.tool_uses:
            content.append({"text": reply.text})
        content.extend({"toolUse": dict(tool)} for tool in reply.tool_uses)
        return {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": reply.stop_reason,
            "usage": self._usage(call, reply),
            "metrics": {"latencyMs": elapsed_ms(started)},
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
        await sleep(latency)
        response = web.StreamResponse(
            headers={"Content-Type": _EVENTSTREAM_CONTENT_TYPE, "x-amzn-RequestId": request_id}
        )
        await response.prepare(request)
        try:
            await response.write(event("messageStart", {"role": "assistant"}))
            if isinstance(item, Fault):
                partial = item.partial
                if partial is None:
                    partial = self.default_reply(call).text[: self.chunk_size] or "partial"
                if partial:
                    await self._write_deltas(response, 0, [{"text": partial}], call=call)
                    await sleep(self.chunk_delay)
                await response.write(exception_event(item))
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
            text_deltas = ({"text": chunk} for chunk in chunks(reply.text, self.chunk_size))
            await self._write_deltas(response, index, text_deltas, call=call)
            await response.write(event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        for tool in reply.tool_uses:
            start = {"toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}}
            await response.write(event("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            fragments = chunks(json.dumps(tool["input"]), self.chunk_size)
            await self._write_deltas(response, index, ({"toolUse": {"input": f}} for f in fragments))
            await response.write(event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        await response.write(event("messageStop", {"stopReason": reply.stop_reason}))
        metadata = {"usage": self._usage(call, reply), "metrics": {"latencyMs": elapsed_ms(started)}}
        await response.write(event("metadata", metadata))

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
                await sleep(self.chunk_delay)
            await response.write(event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
            if call is not None and call.first_text_at is None:
                call.first_text_at = time.monotonic()


async def sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
