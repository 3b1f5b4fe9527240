"""A fake of Slack's Web API and Socket Mode that the real slack_sdk / slack_bolt clients talk to over HTTP.

Why it exists: mocking ``AsyncWebClient`` in-process tests our assumptions about Slack instead of the
code that breaks in production: slack_sdk's request encoding (JSON for ``chat.*``, form and query
strings elsewhere), its retry handlers reacting to HTTP 429 + ``Retry-After``, the three-step
``files_upload_v2`` dance, response_url posts, and the Socket Mode handshake, pings and acks. This
module runs a real aiohttp server on 127.0.0.1 that speaks those wire protocols, so the bot runs
unchanged with ``base_url`` pointed at :attr:`FakeSlack.base_url`.

Every Web API request is recorded as a :class:`SlackCall` (O(1) append, indexed by method) and tests
wait on them with :meth:`FakeSlack.wait_for`, which is woken by the request itself, never by polling.
Slack's failure modes are injectable: :meth:`FakeSlack.fail_next`, :meth:`FakeSlack.rate_limit_next`,
:attr:`FakeSlack.not_in_channel`, :meth:`FakeSlack.expire_stream`, :meth:`FakeSlack.disconnect_sockets`.
Block Kit limits are enforced the way Slack enforces them (``invalid_blocks``), so a renderer that
overflows a limit fails here rather than in a customer's workspace. So are Slack's rate limits
(:class:`RateLimits`: each method's tier per workspace and minute, ``chat.postMessage`` about one a second
per channel, HTTP 429 with ``Retry-After``), the streaming rules (``chat.update`` on a message that is
still streaming answers ``streaming_state_conflict``) and the shape of stream ``chunks``.

The module also builds the inbound side (signed slash-command forms, Events API envelopes) exactly as
Slack sends them, for tests that drive the bot's HTTP endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import math
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Self
from urllib.parse import urlencode

from aiohttp import BodyPartReader, WSCloseCode, WSMsgType, web

from bot.scopes import HISTORY_SCOPE_BY_CHANNEL_TYPE, method_scopes, scope_names

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from aiohttp.web_request import FileField

__all__ = [
    "APP_ID",
    "METHOD_TIERS",
    "SCOPES",
    "FakeSlack",
    "RateLimits",
    "SlackCall",
    "app_mention_event",
    "dm_message_event",
    "event_callback",
    "sign_request",
    "slash_command_form",
]

#: The app id the fake reports in Socket Mode's hello and in built envelopes.
APP_ID = "A0TEST"

#: Scopes the fake's bot token has by default: exactly what orch-bot's manifest asks for (the one list).
SCOPES = ",".join(sorted(scope_names()))

#: Scopes of methods the fake serves that orch does not call (so they are not in its list).
_OTHER_METHOD_SCOPES = {
    "conversations.info": frozenset({"channels:read", "groups:read", "im:read", "mpim:read"}),
}

# Block Kit and message limits, as Slack documents and enforces them.
MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_SECTION_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_MARKDOWN_BLOCKS_TEXT = 12000
MAX_MESSAGE_TEXT = 40000
MAX_STREAM_MARKDOWN_TEXT = 12000
MAX_RESPONSE_URL_POSTS = 5
MAX_REPLIES_LIMIT = 1000

#: Each method's rate-limit tier, as Slack's method reference lists it (``chat.postMessage`` is special:
#: about one a second per channel, see :class:`RateLimits`). ``assistant.threads.setStatus`` and
#: ``auth.test`` are "special" with limits Slack does not publish; the fake does not limit them.
METHOD_TIERS: dict[str, int] = {
    "apps.connections.open": 1,
    "chat.startStream": 2,
    "chat.stopStream": 2,
    "chat.update": 3,
    "chat.delete": 3,
    "conversations.replies": 3,
    "conversations.info": 3,
    "chat.appendStream": 4,
    "chat.postEphemeral": 4,
    "assistant.threads.setSuggestedPrompts": 4,
    "assistant.threads.setTitle": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "files.info": 4,
    "users.info": 4,
    "views.publish": 4,
}
#: Stream chunk types Slack accepts, and a task's statuses.
_CHUNK_TYPES = frozenset({"markdown_text", "task_update", "plan_update", "blocks"})
_TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
_TASK_DISPLAY_MODES = frozenset({"timeline", "plan"})

#: Arguments slack_sdk (or any client) may send as JSON-encoded strings in a form or query string.
_JSON_STRING_FIELDS = frozenset({"blocks", "attachments", "prompts", "files", "metadata", "chunks"})
#: Methods an app-level (``xapp-``) token may call; every other method answers ``not_allowed_token_type``.
_APP_TOKEN_METHODS = frozenset({"apps.connections.open", "auth.test"})
_FIRST_TS_MICROS = 1_700_000_000_000_000
_TS_STEP_MICROS = 100
_MICROS = 1_000_000
_MAX_BODY_BYTES = 64 * 1024 * 1024
_SOCKET_CLOSE_TIMEOUT = 2.0
_SHUTDOWN_TIMEOUT = 2.0
_CURSOR_PREFIX = "offset:"


@dataclass
class SlackCall:
    """One request the fake received, recorded even when it was rejected.

    ``args`` merges the query string, form fields and JSON body (JSON values keep their types;
    JSON-encoded form fields such as ``blocks`` are decoded). ``token`` comes from
    ``Authorization: Bearer`` or the ``token`` argument (which is then removed from ``args``).
    ``response`` is the JSON body the fake answered with (``None`` until it is computed).
    ``at`` is when the call was recorded (:func:`time.monotonic`, comparable across processes on one
    host), for benchmarks that time what the bot sends. ``verb`` is the HTTP method it came with.
    """

    method: str
    args: dict[str, Any]
    token: str | None
    response: dict[str, Any] | None = None
    at: float = field(default_factory=time.monotonic)
    verb: str = "POST"


class _SlackError(Exception):
    """Raised by a method handler to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


@dataclass
class _Injection:
    error: str
    status: int
    retry_after: int | None
    remaining: int
    raw_body: str | None = None  # a non-JSON answer (a proxy's error page) instead of Slack's JSON
    content_type: str = "text/html"


@dataclass
class _Waiter:
    where: Callable[[SlackCall], bool] | None
    count: int
    matched: list[SlackCall]
    future: asyncio.Future[list[SlackCall]]


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The rate limits the fake enforces; the defaults are Slack's published numbers.

    Slack evaluates Web API calls per method and per workspace, in tiers of requests per minute (Tier 1:
    1+, Tier 2: 20+, Tier 3: 50+, Tier 4: 100+) "with occasional bursts": modelled as a token bucket per
    workspace and method that holds a minute's calls and refills at the tier's rate. ``chat.postMessage``
    allows about one message a second per channel with short bursts (the burst size is not published;
    ``post_message_burst`` is ours). Over a limit the answer is HTTP 429, ``ratelimited`` and a
    ``Retry-After`` in whole seconds, as Slack's.

    ``per="channel"`` counts each channel as its own workspace, for a test session that shares one fake
    between many tests that each use their own channels; the limits themselves stay Slack's.
    """

    per_minute: dict[int, float] = field(default_factory=lambda: {1: 1.0, 2: 20.0, 3: 50.0, 4: 100.0})
    post_message_per_second: float = 1.0
    post_message_burst: float = 4.0
    per: Literal["workspace", "channel"] = "workspace"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class _RateLimiter:
    """Token buckets by (workspace or channel, method); ``take`` answers the seconds to wait, or ``None``."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def take(self, method: str, args: dict[str, Any], team_id: str) -> int | None:
        channel = str(args.get("channel") or args.get("channel_id") or "")
        if method == "chat.postMessage":
            key, rate, burst = channel or team_id, self.limits.post_message_per_second, self.limits.post_message_burst
        else:
            tier = METHOD_TIERS.get(method)
            if tier is None:
                return None
            per_minute = self.limits.per_minute[tier]
            key = channel if self.limits.per == "channel" and channel else team_id
            rate, burst = per_minute / 60.0, per_minute
        now = self._clock()
        bucket = self._buckets.get((key, method))
        if bucket is None:
            bucket = self._buckets[key, method] = _Bucket(burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / rate))


class FakeSlack:
    """A local Slack (Web API, response_urls, file uploads, Socket Mode) on a free 127.0.0.1 port.

    Use as ``async with FakeSlack() as slack:`` and point clients at :attr:`base_url`. State is public
    so tests can seed and inspect it: :attr:`threads`, :attr:`not_in_channel`, :attr:`uploaded_files`,
    :attr:`files`, :attr:`users`.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",  # noqa: S107 - a fake's fixed test token
        app_token: str = "xapp-test-token",  # noqa: S107
        team_id: str = "T0TEST",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        rate_limits: RateLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id

        self.calls: list[SlackCall] = []
        #: The bot token's scopes: a method whose scope is missing answers ``missing_scope``, as Slack does.
        self.scopes: set[str] = set(scope_names())
        #: Which agent pane the app has: ``agent_view`` (new apps) or ``assistant_view`` (older installs).
        self.experience = "agent_view"
        #: Suggested prompts a person actually sees, by DM channel (agent_view) or ``channel:thread_ts``.
        self.suggested_prompts: dict[str, list[dict[str, str]]] = {}
        #: Conversation types that are not what the id says (``D…`` is an ``im``, anything else a ``channel``).
        self.channel_types: dict[str, str] = {}
        #: Channels the bot is not a member of: posting there answers ``not_in_channel``.
        self.not_in_channel: set[str] = set()
        #: ``(channel, thread_ts)`` -> messages, parent first; top-level posts start their own thread.
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        #: Raw bytes posted to each upload URL, by file id.
        self.uploaded_files: dict[str, bytes] = {}
        #: File objects (as ``files.info`` returns them), by file id.
        self.files: dict[str, dict[str, Any]] = {}
        self._file_content: dict[str, bytes] = {}
        #: The Home tab last published for each user.
        self.home_views: dict[str, dict[str, Any]] = {}
        #: Per-user overrides merged into the ``users.info`` answer.
        self.users: dict[str, dict[str, Any]] = {}
        #: Every Socket Mode ack received (``{"envelope_id": ..., "payload"?: ...}``), in order.
        self.socket_acks: list[dict[str, Any]] = []
        self.socket_connections_opened = 0
        #: Whether this workspace's Slack takes task chunks (``task_update``, ``task_display_mode``); an older
        #: one answers ``invalid_arguments`` to them, as Slack does to an argument it does not know.
        self.task_chunks = True
        #: Each streamed message's tasks as last updated, by ``(channel, ts)`` then task id.
        self.tasks: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._limiter = _RateLimiter(rate_limits or RateLimits(), clock)

        self._by_method: dict[str, list[SlackCall]] = {}
        self._waiters: dict[str, list[_Waiter]] = {}
        self._injections: dict[str, deque[_Injection]] = {}
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._streaming: set[tuple[str, str]] = set()
        self._response_urls: dict[str, int] = {}
        self._ts_micros = _FIRST_TS_MICROS
        self._file_seq = 0
        self._socket_seq = 0
        self._socket_ids: set[int] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_connected = asyncio.Event()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ack_by_id: dict[str, dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self._port: int | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "assistant.threads.setStatus": _ok,
            "assistant.threads.setSuggestedPrompts": self._set_suggested_prompts,
            "assistant.threads.setTitle": _ok,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.info": self._files_info,
            "users.info": self._users_info,
            "views.publish": self._views_publish,
            "apps.connections.open": self._apps_connections_open,
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port and start serving."""
        self._stopping = False
        app = web.Application(client_max_size=_MAX_BODY_BYTES)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_post("/response/{response_id}", self._handle_response_url)
        app.router.add_get("/socket/{n}", self._handle_socket)
        app.router.add_get("/files-pri/{file_id}/{name}", self._handle_download)
        app.on_shutdown.append(self._close_sockets_on_shutdown)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Close open sockets and stop serving (a client still running cannot reconnect). Idempotent."""
        self._stopping = True
        await self.disconnect_sockets()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _close_sockets_on_shutdown(self, _app: web.Application) -> None:
        await self.disconnect_sockets()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._port is None:
            raise RuntimeError("FakeSlack is not started; call start() or use `async with`")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """The Web API base URL to give ``AsyncWebClient(base_url=...)``; method names are appended."""
        return f"{self.root_url}/api/"

    # ------------------------------------------------------------------ recording and waiting

    def calls_to(self, method: str) -> list[SlackCall]:
        """Calls recorded for ``method`` (``"response_url"`` for response_url posts), oldest first."""
        return list(self._by_method.get(method, ()))

    async def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        where: Callable[[SlackCall], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[SlackCall]:
        """Wait until at least ``count`` calls to ``method`` (matching ``where``) are recorded; return them.

        Raises:
            AssertionError: on timeout, naming the methods that were called.
        """
        matched = [c for c in self._by_method.get(method, ()) if where is None or where(c)]
        if len(matched) >= count:
            return matched
        waiter = _Waiter(where, count, matched, asyncio.get_running_loop().create_future())
        self._waiters.setdefault(method, []).append(waiter)
        try:
            return await asyncio.wait_for(waiter.future, timeout)
        except TimeoutError:
            called = dict(Counter(c.method for c in self.calls)) or "nothing"
            qualifier = " matching `where`" if where is not None else ""
            raise AssertionError(
                f"timed out after {timeout}s waiting for {count} call(s) to {method}{qualifier}; "
                f"saw {len(waiter.matched)}. Calls received: {called}"
            ) from None
        finally:
            waiters = self._waiters.get(method)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)

    def _record(self, call: SlackCall) -> None:
        self.calls.append(call)
        bucket = self._by_method.get(call.method)
        if bucket is None:
            bucket = self._by_method[call.method] = []
        bucket.append(call)
        waiters = self._waiters.get(call.method)
        if not waiters:
            return
        for waiter in list(waiters):
            if waiter.future.done():
                waiters.remove(waiter)
                continue
            try:
                if waiter.where is None or waiter.where(call):
                    waiter.matched.append(call)
            except Exception as exc:  # noqa: BLE001 - a broken predicate fails the waiting test, not the server
                waiter.future.set_exception(exc)
                waiters.remove(waiter)
                continue
            if len(waiter.matched) >= waiter.count:
                waiter.future.set_result(list(waiter.matched))
                waiters.remove(waiter)

    # ------------------------------------------------------------------ failure injection

    def fail_next(self, method: str, error: str, *, times: int = 1, status: int = 200) -> None:
        """Answer the next ``times`` calls to ``method`` with ``{"ok": false, "error": error}``."""
        self._injections.setdefault(method, deque()).append(_Injection(error, status, None, times))

    def fail_next_with_page(
        self, method: str, *, status: int, page: str, content_type: str = "text/html", times: int = 1
    ) -> None:
        """Answer the next ``times`` calls to ``method`` with a non-JSON page, as a proxy in front of Slack does."""
        injection = _Injection(f"http_{status}", status, None, times, page, content_type)
        self._injections.setdefault(method, deque()).append(injection)

    def rate_limit_next(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next ``times`` calls to ``method`` with HTTP 429, ``Retry-After``, ``ratelimited``."""
        self._injections.setdefault(method, deque()).append(_Injection("ratelimited", 429, retry_after, times))

    def is_streaming(self, channel: str, ts: str) -> bool:
        """Whether the message is still in Slack's streaming state (started, neither stopped nor expired)."""
        return (channel, ts) in self._streaming

    def expire_stream(self, channel: str, ts: str) -> None:
        """End a stream's streaming state, as Slack does after inactivity: appends then fail."""
        self._streaming.discard((channel, ts))

    def _answer_injected(self, call: SlackCall) -> web.Response | None:
        """Answer ``call`` with the next failure queued for its method, if any."""
        queue = self._injections.get(call.method)
        if not queue:
            return None
        injection = queue[0]
        injection.remaining -= 1
        if injection.remaining <= 0:
            queue.popleft()
        headers = {"Retry-After": str(injection.retry_after)} if injection.retry_after is not None else {}
        call.response = {"ok": False, "error": injection.error}
        if injection.error == "message_not_in_streaming_state":
            # Slack says so only of a stream that has ended: the injected answer ends it, as expiry would.
            self._streaming.discard((str(call.args.get("channel") or ""), str(call.args.get("ts") or "")))
        if injection.raw_body is not None:
            return web.Response(status=injection.status, text=injection.raw_body, content_type=injection.content_type)
        return _json_response(call.response, status=injection.status, headers=headers)

    # ------------------------------------------------------------------ messages and threads

    def messages_in_thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The thread's messages, parent first (an empty list for an unknown thread)."""
        return list(self.threads.get((channel, thread_ts), ()))

    def seed_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U0ANA",
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Store a human's message (e.g. the mention a test delivers) as history the bot may read."""
        ts = ts or self._next_ts()
        self._observe_ts(ts)
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "team": self.team_id,
        }
        self._store_message(channel, message, thread_ts)
        return message

    def share_file(
        self,
        channel: str,
        name: str,
        content: bytes,
        *,
        user: str = "U0ANA",
        text: str = "",
        thread_ts: str | None = None,
        mimetype: str = "text/plain",
    ) -> dict[str, Any]:
        """A person shares a file in ``channel`` (optionally in a thread); returns the message carrying it.

        The file downloads from ``url_private_download`` only with ``Authorization: Bearer <bot token>``;
        without it the fake answers Slack's HTML login page, as Slack does.
        """
        file_id = f"F{len(self.files) + len(self.uploaded_files) + 1:08d}"
        file = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1] if "." in name else "text",
            "size": len(content),
            "user": user,
            "url_private": f"{self.root_url}/files-pri/{file_id}/{name}",
            "url_private_download": f"{self.root_url}/files-pri/{file_id}/{name}",
        }
        self.files[file_id] = file
        self._file_content[file_id] = content
        message = self.seed_message(channel, text, user=user, thread_ts=thread_ts)
        message["files"] = [file]
        return message

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or None
        self._record(SlackCall(method="file_download", args={"file": file_id}, token=token))
        if token != self.bot_token:
            login = "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"
            return web.Response(text=login, content_type="text/html")
        content = self._file_content.get(file_id)
        if content is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=content, content_type=self.files[file_id]["mimetype"])

    def new_response_url(self) -> str:
        """Issue a response_url; posts to it are recorded as ``SlackCall(method="response_url")``."""
        response_id = uuid.uuid4().hex
        self._response_urls[response_id] = 0
        return f"{self.root_url}/response/{response_id}"

    def _next_ts(self) -> str:
        self._ts_micros += _TS_STEP_MICROS
        seconds, micros = divmod(self._ts_micros, _MICROS)
        return f"{seconds}.{micros:06d}"

    def _observe_ts(self, ts: str) -> None:
        """Keep generated timestamps above any timestamp a test chose, so they never collide."""
        seconds, _, micros = ts.partition(".")
        with contextlib.suppress(ValueError):
            self._ts_micros = max(self._ts_micros, int(seconds) * _MICROS + int(micros.ljust(6, "0")[:6]))

    def _store_message(self, channel: str, message: dict[str, Any], thread_ts: str | None) -> None:
        ts = message["ts"]
        self._messages[channel, ts] = message
        if thread_ts:
            parent = self._messages.get((channel, thread_ts))
            if parent is not None and parent.get("thread_ts") not in {None, thread_ts}:
                thread_ts = parent["thread_ts"]  # replying to a reply lands in the parent's thread
        if not thread_ts or thread_ts == ts:
            self.threads[channel, ts] = [message]
            return
        message["thread_ts"] = thread_ts
        thread = self.threads.setdefault((channel, thread_ts), [])
        if thread and thread[0].get("ts") == thread_ts:
            head = thread[0]
            head["thread_ts"] = thread_ts
            head["reply_count"] = head.get("reply_count", 0) + 1
            head["latest_reply"] = ts
        thread.append(message)

    def _find_message(self, channel: str, ts: str) -> dict[str, Any]:
        message = self._messages.get((channel, ts))
        if message is None:
            thread = self.threads.get((channel, ts))
            if thread and thread[0].get("ts") == ts:
                return thread[0]
            raise _SlackError("message_not_found")
        return message

    def _bot_message(self, ts: str, text: str) -> dict[str, Any]:
        return {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "team": self.team_id,
            "text": text[:MAX_MESSAGE_TEXT],
            "ts": ts,
        }

    def _require_channel(self, args: dict[str, Any], key: str = "channel") -> str:
        channel = args.get(key)
        if not channel or not isinstance(channel, str):
            raise _SlackError("channel_not_found")
        return channel

    def _require_member(self, channel: str) -> None:
        if channel in self.not_in_channel:
            raise _SlackError("not_in_channel")

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args, token, valid = await _read_args(request)
        call = SlackCall(method, args, token, verb=request.method)
        self._record(call)
        injected = self._answer_injected(call)
        if injected is not None:
            return injected
        wait = self._limiter.take(method, args, self.team_id) if token == self.bot_token else None
        if wait is not None:
            call.response = {"ok": False, "error": "ratelimited"}
            return _json_response(call.response, status=429, headers={"Retry-After": str(wait)})
        body = self._dispatch(method, args, token, valid=valid)
        call.response = body
        return _json_response(body, scopes=",".join(sorted(self.scopes)))

    def _dispatch(self, method: str, args: dict[str, Any], token: str | None, *, valid: bool) -> dict[str, Any]:
        handler = self._handlers.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        if not valid:
            return {"ok": False, "error": "invalid_json"}
        auth_error = self._auth_error(method, token)
        if auth_error is not None:
            return {"ok": False, "error": auth_error}
        if token == self.bot_token:
            needed = self._needed_scopes(method, args)
            if needed and not needed & self.scopes:
                provided = ",".join(sorted(self.scopes))
                return {"ok": False, "error": "missing_scope", "needed": ",".join(sorted(needed)), "provided": provided}
        try:
            return handler(args)
        except _SlackError as exc:
            return exc.body()

    def _needed_scopes(self, method: str, args: dict[str, Any]) -> frozenset[str]:
        if method == "conversations.replies":
            channel = str(args.get("channel") or "")
            kind = self.channel_types.get(channel) or ("im" if channel.startswith("D") else "channel")
            return frozenset({HISTORY_SCOPE_BY_CHANNEL_TYPE[kind]})
        return method_scopes(method) or _OTHER_METHOD_SCOPES.get(method, frozenset())

    def _auth_error(self, method: str, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        if token == self.app_token:
            return None if method in _APP_TOKEN_METHODS else "not_allowed_token_type"
        if token == self.bot_token:
            return "not_allowed_token_type" if method == "apps.connections.open" else None
        return "invalid_auth"

    async def _handle_upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            return web.Response(status=404, text="file_not_found", content_type="text/plain")
        if request.content_type == "multipart/form-data":
            data = b""
            reader = await request.multipart()
            part = await reader.next()
            if isinstance(part, BodyPartReader):
                data = bytes(await part.read())
        else:
            data = await request.read()
        self.uploaded_files[file_id] = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        response_id = request.match_info["response_id"]
        url = f"{self.root_url}/response/{response_id}"
        raw = await request.text()
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = None
        args: dict[str, Any] = dict(decoded) if isinstance(decoded, dict) else {"_raw": raw}
        args["_url"] = url
        call = SlackCall("response_url", args, None)
        self._record(call)
        injected = self._answer_injected(call)
        if injected is not None:
            return injected
        status, body = self._response_url_answer(response_id, valid=decoded is not None)
        call.response = body
        return _json_response(body, status=status)

    def _response_url_answer(self, response_id: str, *, valid: bool) -> tuple[int, dict[str, Any]]:
        posts = self._response_urls.get(response_id)
        if posts is None:
            return 404, {"ok": False, "error": "expired_url"}
        if posts >= MAX_RESPONSE_URL_POSTS:
            return 404, {"ok": False, "error": "used_url"}
        if not valid:
            return 400, {"ok": False, "error": "invalid_payload"}
        self._response_urls[response_id] = posts + 1
        return 200, {"ok": True}

    # ------------------------------------------------------------------ Web API methods

    def _auth_test(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://test.slack.com/",
            "team": "Test",
            "user": "orch",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        self._require_member(channel)
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            raise _SlackError("no_text")
        _check_blocks(args.get("blocks"))
        ts = self._next_ts()
        message = self._bot_message(ts, str(args.get("text") or ""))
        for key in ("blocks", "attachments", "metadata"):
            if args.get(key):
                message[key] = args[key]
        self._store_message(channel, message, args.get("thread_ts") or None)
        return {"ok": True, "channel": channel, "ts": ts, "message": dict(message)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        message = self._find_message(channel, str(args.get("ts") or ""))
        if message.get("bot_id") != self.bot_id:
            raise _SlackError("cant_update_message")
        if (channel, message["ts"]) in self._streaming:
            # Slack's chat.update reference: "The message is currently streaming text and cannot be edited."
            raise _SlackError("streaming_state_conflict")
        _check_blocks(args.get("blocks"))
        if "text" in args:
            message["text"] = str(args["text"] or "")[:MAX_MESSAGE_TEXT]
        for key in ("blocks", "attachments", "metadata"):
            if key in args:
                message[key] = args[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "text": message["text"],
            "message": dict(message),
        }

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        self._require_member(channel)
        if not args.get("user"):
            raise _SlackError("user_not_found")
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            raise _SlackError("no_text")
        _check_blocks(args.get("blocks"))
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        ts = str(args.get("ts") or "")
        message = self._find_message(channel, ts)
        if message.get("bot_id") != self.bot_id:
            raise _SlackError("cant_delete_message")
        self._messages.pop((channel, ts), None)
        self._streaming.discard((channel, ts))
        key = (channel, str(message.get("thread_ts") or ts))
        thread = self.threads.get(key, [])
        if message in thread:
            thread.remove(message)
        if not thread:
            self.threads.pop(key, None)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_start_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        self._require_member(channel)
        thread_ts = args.get("thread_ts")
        if not thread_ts:
            raise _SlackError("invalid_arguments", ["[ERROR] missing required field: thread_ts"])
        if not channel.startswith("D"):
            if not args.get("recipient_user_id"):
                raise _SlackError("missing_recipient_user_id")
            if not args.get("recipient_team_id"):
                raise _SlackError("missing_recipient_team_id")
        mode = args.get("task_display_mode")
        if mode is not None and (not self.task_chunks or mode not in _TASK_DISPLAY_MODES):
            raise _SlackError("invalid_arguments", ["[ERROR] unknown or invalid field: task_display_mode"])
        text = self._stream_text(args)
        ts = self._next_ts()
        message = self._bot_message(ts, text)
        self._store_message(channel, message, str(thread_ts))
        self._streaming.add((channel, ts))
        self._track_tasks(channel, ts, args)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_append_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts, message = self._streaming_message(args)
        if "markdown_text" not in args and "chunks" not in args:
            raise _SlackError("invalid_arguments", ["[ERROR] missing required field: markdown_text"])
        message["text"] = (message["text"] + self._stream_text(args))[:MAX_MESSAGE_TEXT]
        self._track_tasks(channel, ts, args)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_stop_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts, message = self._streaming_message(args)
        _check_blocks(args.get("blocks"))
        message["text"] = (message["text"] + self._stream_text(args))[:MAX_MESSAGE_TEXT]
        self._track_tasks(channel, ts, args)
        for key in ("blocks", "metadata"):
            if args.get(key):
                message[key] = args[key]
        self._streaming.discard((channel, ts))
        return {"ok": True, "channel": channel, "ts": ts, "message": dict(message)}

    def _stream_text(self, args: dict[str, Any]) -> str:
        """The text a ``chat.*Stream`` call adds, after checking its ``chunks`` as Slack does."""
        chunks = args.get("chunks")
        if chunks is not None:
            _check_chunks(chunks, task_chunks=self.task_chunks)
        return _stream_text(args)

    def _track_tasks(self, channel: str, ts: str, args: dict[str, Any]) -> None:
        tasks = self.tasks.setdefault((channel, ts), {})
        for chunk in args.get("chunks") or ():
            if chunk.get("type") == "task_update":
                tasks[str(chunk["id"])] = {**tasks.get(str(chunk["id"]), {}), **chunk}

    def _streaming_message(self, args: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        channel = self._require_channel(args)
        ts = str(args.get("ts") or "")
        if (channel, ts) not in self._streaming:
            raise _SlackError("message_not_in_streaming_state")
        return channel, ts, self._find_message(channel, ts)

    def _set_suggested_prompts(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel_id") or "")
        if not channel:
            raise _SlackError("invalid_arguments")
        prompts = args.get("prompts")
        if not isinstance(prompts, list) or not prompts:
            raise _SlackError("invalid_arguments")
        thread_ts = args.get("thread_ts")
        if self.experience == "agent_view":
            # Slack's docs: under agent_view a thread_ts makes the call fail silently (ok, nothing shown).
            if not thread_ts:
                self.suggested_prompts[channel] = prompts
        elif thread_ts:
            self.suggested_prompts[f"{channel}:{thread_ts}"] = prompts
        else:
            raise _SlackError("invalid_arguments")
        return {"ok": True}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        ts = str(args.get("ts") or "")
        thread = self.threads.get((channel, ts))
        if thread is None:
            message = self._messages.get((channel, ts))
            if message is not None and message.get("thread_ts"):
                thread = self.threads.get((channel, message["thread_ts"]))
        if thread is None:
            raise _SlackError("thread_not_found")
        try:
            limit = min(max(int(args.get("limit") or MAX_REPLIES_LIMIT), 1), MAX_REPLIES_LIMIT)
        except (TypeError, ValueError):
            raise _SlackError("invalid_limit") from None
        offset = _decode_cursor(args.get("cursor"))
        page = thread[offset : offset + limit]
        body: dict[str, Any] = {"ok": True, "messages": page, "has_more": offset + limit < len(thread)}
        if body["has_more"]:
            body["response_metadata"] = {"next_cursor": _encode_cursor(offset + limit)}
        return body

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        is_im = channel.startswith("D")
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_channel": channel.startswith("C"),
                "is_group": channel.startswith("G"),
                "is_im": is_im,
                "is_private": not channel.startswith("C"),
                "is_archived": False,
                "is_member": channel not in self.not_in_channel,
            },
        }

    def _files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        if not filename:
            raise _SlackError("invalid_arguments", ["[ERROR] missing required field: filename"])
        try:
            length = int(args.get("length") or "")
        except (TypeError, ValueError):
            raise _SlackError("invalid_arguments", ["[ERROR] missing required field: length"]) from None
        self._file_seq += 1
        file_id = f"F0FAKE{self._file_seq:05d}"
        self.files[file_id] = {
            "id": file_id,
            "name": str(filename),
            "title": str(filename),
            "size": length,
            "user": self.bot_user_id,
            "created": int(time.time()),
            "channels": [],
        }
        return {"ok": True, "upload_url": f"{self.root_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        items = args.get("files")
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise _SlackError("invalid_arguments", ["[ERROR] files must be a non-empty JSON array"])
        if any(i.get("id") not in self.uploaded_files for i in items):
            raise _SlackError("file_not_found")
        channels = [str(args["channel_id"])] if args.get("channel_id") else []
        channels += [c for c in str(args.get("channels") or "").split(",") if c]
        for channel in channels:
            self._require_member(channel)
        shared = []
        for item in items:
            file = self.files[item["id"]]
            file["title"] = item.get("title") or file["name"]
            file["channels"] = [*file["channels"], *channels]
            shared.append(file)
        for channel in channels:
            message = self._bot_message(self._next_ts(), str(args.get("initial_comment") or ""))
            message["files"] = [dict(f) for f in shared]
            message["upload"] = True
            self._store_message(channel, message, args.get("thread_ts") or None)
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in shared]}

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        file = self.files.get(str(args.get("file") or ""))
        if file is None:
            raise _SlackError("file_not_found")
        return {"ok": True, "file": file}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not args.get("user_id") or not isinstance(view, dict):
            raise _SlackError("invalid_arguments")
        if view.get("type") != "home":
            raise _SlackError("invalid_arguments", ["[ERROR] view type must be home [json-pointer:/view/type]"])
        blocks = view.get("blocks") or []
        if len(blocks) > MAX_VIEW_BLOCKS:
            raise _SlackError("invalid_arguments", [f"[ERROR] no more than {MAX_VIEW_BLOCKS} blocks allowed"])
        # Views allow 100 blocks; the per-block limits are the same as messages'.
        _check_blocks(blocks[:MAX_BLOCKS])
        self.home_views[str(args["user_id"])] = view
        return {"ok": True, "view": {"id": f"V{len(self.home_views):08d}", **view}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user")
        if not user_id:
            raise _SlackError("user_not_found")
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": str(user_id).lower(),
            "real_name": str(user_id),
            "is_admin": False,
            "is_owner": False,
            "is_bot": user_id == self.bot_user_id,
            "deleted": False,
            "tz": "UTC",
            "tz_offset": 0,
            "profile": {"display_name": str(user_id).lower(), "real_name": str(user_id)},
        }
        user.update(self.users.get(str(user_id), {}))
        return {"ok": True, "user": user}

    def _apps_connections_open(self, _args: dict[str, Any]) -> dict[str, Any]:
        self._socket_seq += 1
        self._socket_ids.add(self._socket_seq)
        return {"ok": True, "url": f"ws://127.0.0.1:{self._port}/socket/{self._socket_seq}"}

    # ------------------------------------------------------------------ Socket Mode

    async def wait_socket_connected(self, timeout: float = 10.0) -> None:
        """Wait until a Socket Mode client is connected and has been sent ``hello``.

        Raises:
            AssertionError: on timeout.
        """
        try:
            await asyncio.wait_for(self._socket_connected.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"no Socket Mode connection within {timeout}s "
                f"(apps.connections.open called {len(self.calls_to('apps.connections.open'))} time(s))"
            ) from None

    async def socket_send(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool = False,
    ) -> str:
        """Send an envelope (``events_api``, ``slash_commands``, ``interactive``) on the newest socket.

        Returns:
            The envelope id, to pass to :meth:`socket_ack`.

        Raises:
            AssertionError: if no socket is open.
        """
        sockets = [ws for ws in self._sockets if not ws.closed]
        if not sockets:
            raise AssertionError("no open Socket Mode connection; await wait_socket_connected() first")
        envelope_id = str(uuid.uuid4())
        self._acks[envelope_id] = asyncio.get_running_loop().create_future()
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        await sockets[-1].send_str(json.dumps(envelope))
        return envelope_id

    async def socket_ack(self, envelope_id: str, *, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for the client's ack of ``envelope_id`` and return it (``{"envelope_id", "payload"?}``).

        Raises:
            AssertionError: on timeout.
        """
        ack = self._ack_by_id.get(envelope_id)
        if ack is not None:
            return ack
        future = self._acks.get(envelope_id)
        if future is None or future.done():
            future = self._acks[envelope_id] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            acked = [a.get("envelope_id") for a in self.socket_acks]
            raise AssertionError(f"envelope {envelope_id} not acked within {timeout}s; acked: {acked}") from None
        finally:
            self._acks.pop(envelope_id, None)

    async def disconnect_sockets(self) -> None:
        """Close every Socket Mode connection (clients reconnect via a new ``apps.connections.open``)."""
        self._socket_connected.clear()
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"fake disconnect")

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        n = request.match_info["n"]
        if self._stopping:
            return web.Response(status=503, text="shutting down", content_type="text/plain")
        if not n.isdigit() or int(n) not in self._socket_ids:
            return web.Response(status=404, text="unknown socket url", content_type="text/plain")
        ws = web.WebSocketResponse(autoping=True, timeout=_SOCKET_CLOSE_TIMEOUT)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.socket_connections_opened += 1
        try:
            hello = {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
            await ws.send_str(json.dumps(hello))
            self._socket_connected.set()
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_socket_text(message.data)
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self._socket_connected.clear()
        return ws

    def _on_socket_text(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict) or "envelope_id" not in message:
            return
        envelope_id = str(message["envelope_id"])
        self.socket_acks.append(message)
        self._ack_by_id[envelope_id] = message
        future = self._acks.pop(envelope_id, None)
        if future is not None and not future.done():
            future.set_result(message)


# ---------------------------------------------------------------------- module helpers


def _ok(_args: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True}


def _json_response(
    body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None, scopes: str = SCOPES
) -> web.Response:
    return web.json_response(body, status=status, headers={"X-OAuth-Scopes": scopes, **(headers or {})})


async def _read_args(request: web.Request) -> tuple[dict[str, Any], str | None, bool]:
    """Merge query, form and JSON body into one dict; return it, the token, and whether the body parsed."""
    args: dict[str, Any] = dict(request.query)
    valid = True
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body, valid = None, False
            if isinstance(body, dict):
                args.update(body)
        else:
            form = await request.post()
            args.update((key, _form_value(value)) for key, value in form.items())
    for key in _JSON_STRING_FIELDS.intersection(args):
        value = args[key]
        if isinstance(value, str) and value[:1] in {"[", "{"}:
            with contextlib.suppress(ValueError):
                args[key] = json.loads(value)
    token = args.pop("token", None)
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        token = authorization.removeprefix("Bearer ").strip()
    return args, (str(token) if token else None), valid


def _form_value(value: str | bytes | bytearray | FileField) -> str | bytes:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return value.file.read()


def _text_of(obj: object) -> str:
    if isinstance(obj, dict):
        text = obj.get("text")
        if isinstance(text, str):
            return text
    return ""


def _section_errors(block: dict[str, Any], pointer: str) -> list[str]:
    errors = []
    if len(_text_of(block.get("text"))) > MAX_SECTION_TEXT:
        errors.append(f"[ERROR] must be less than {MAX_SECTION_TEXT + 1} characters [json-pointer:{pointer}/text/text]")
    fields = block.get("fields") or []
    if len(fields) > MAX_SECTION_FIELDS:
        errors.append(f"[ERROR] no more than {MAX_SECTION_FIELDS} items allowed [json-pointer:{pointer}/fields]")
    errors.extend(
        f"[ERROR] must be less than {MAX_SECTION_FIELD_TEXT + 1} characters [json-pointer:{pointer}/fields/{i}/text]"
        for i, item in enumerate(fields)
        if len(_text_of(item)) > MAX_SECTION_FIELD_TEXT
    )
    return errors


def _header_errors(block: dict[str, Any], pointer: str) -> list[str]:
    if len(_text_of(block.get("text"))) > MAX_HEADER_TEXT:
        return [f"[ERROR] must be less than {MAX_HEADER_TEXT + 1} characters [json-pointer:{pointer}/text/text]"]
    return []


def _context_errors(block: dict[str, Any], pointer: str) -> list[str]:
    if len(block.get("elements") or []) > MAX_CONTEXT_ELEMENTS:
        return [f"[ERROR] no more than {MAX_CONTEXT_ELEMENTS} items allowed [json-pointer:{pointer}/elements]"]
    return []


def _actions_errors(block: dict[str, Any], pointer: str) -> list[str]:
    if len(block.get("elements") or []) > MAX_ACTIONS_ELEMENTS:
        return [f"[ERROR] no more than {MAX_ACTIONS_ELEMENTS} items allowed [json-pointer:{pointer}/elements]"]
    return []


_BLOCK_CHECKS: dict[str, Callable[[dict[str, Any], str], list[str]]] = {
    "section": _section_errors,
    "header": _header_errors,
    "context": _context_errors,
    "actions": _actions_errors,
}


def _block_errors(blocks: object) -> list[str]:
    """Slack's ``invalid_blocks`` reasons for ``blocks`` (empty when valid or absent)."""
    if blocks is None:
        return []
    if not isinstance(blocks, list):
        return ["[ERROR] must be an array [json-pointer:/blocks]"]
    errors = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"[ERROR] no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    markdown_total = 0
    for i, block in enumerate(blocks):
        pointer = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"[ERROR] missing required field: type [json-pointer:{pointer}]")
            continue
        if block["type"] == "markdown":
            markdown_total += len(str(block.get("text") or ""))
        check = _BLOCK_CHECKS.get(block["type"])
        if check is not None:
            errors.extend(check(block, pointer))
    if markdown_total > MAX_MARKDOWN_BLOCKS_TEXT:
        errors.append(
            "[ERROR] the cumulative length of markdown block text must be at most "
            f"{MAX_MARKDOWN_BLOCKS_TEXT} characters [json-pointer:/blocks]"
        )
    return errors


def _check_blocks(blocks: object) -> None:
    errors = _block_errors(blocks)
    if errors:
        raise _SlackError("invalid_blocks", errors)


def _stream_text(args: dict[str, Any]) -> str:
    """The text a ``chat.*Stream`` call adds: ``markdown_text`` plus any ``markdown_text`` chunks."""
    text = str(args.get("markdown_text") or "")
    if len(text) > MAX_STREAM_MARKDOWN_TEXT:
        raise _SlackError("msg_too_long")
    chunks = args.get("chunks")
    if isinstance(chunks, list):
        text += "".join(
            str(c.get("text") or "") for c in chunks if isinstance(c, dict) and c.get("type") == "markdown_text"
        )
    return text


def _chunk_errors(chunk: object, pointer: str, *, task_chunks: bool) -> list[str]:
    if not isinstance(chunk, dict) or chunk.get("type") not in _CHUNK_TYPES:
        return [f"[ERROR] unknown chunk type [json-pointer:{pointer}/type]"]
    kind = chunk["type"]
    if kind == "markdown_text":
        text = chunk.get("text")
        if not isinstance(text, str) or len(text) > MAX_STREAM_MARKDOWN_TEXT:
            return [f"[ERROR] text must be at most {MAX_STREAM_MARKDOWN_TEXT} characters [json-pointer:{pointer}/text]"]
        return []
    if kind != "task_update":
        return []
    if not task_chunks:
        return [f"[ERROR] unsupported chunk type [json-pointer:{pointer}/type]"]
    return _task_chunk_errors(chunk, pointer)


def _task_chunk_errors(chunk: dict[str, Any], pointer: str) -> list[str]:
    errors = [
        f"[ERROR] missing required field: {name} [json-pointer:{pointer}]"
        for name in ("id", "title", "status")
        if not isinstance(chunk.get(name), str) or not chunk[name]
    ]
    if chunk.get("status") not in _TASK_STATUSES:
        errors.append(f"[ERROR] invalid status [json-pointer:{pointer}/status]")
    for i, source in enumerate(chunk.get("sources") or ()):
        ok = (
            isinstance(source, dict)
            and source.get("type") == "url"
            and str(source.get("url") or "").startswith(("https://", "http://"))
            and isinstance(source.get("text"), str)
        )
        if not ok:
            errors.append(f"[ERROR] invalid url source [json-pointer:{pointer}/sources/{i}]")
    return errors


def _check_chunks(chunks: object, *, task_chunks: bool) -> None:
    """Slack's ``invalid_chunks`` (``invalid_arguments`` for chunk types this workspace does not know)."""
    if not isinstance(chunks, list):
        raise _SlackError("invalid_chunks", ["[ERROR] must be an array [json-pointer:/chunks]"])
    errors = [e for i, c in enumerate(chunks) for e in _chunk_errors(c, f"/chunks/{i}", task_chunks=task_chunks)]
    if any("unsupported chunk type" in e for e in errors):
        raise _SlackError("invalid_arguments", errors)
    if errors:
        raise _SlackError("invalid_chunks", errors)


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def _decode_cursor(cursor: object) -> int:
    if not cursor:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(str(cursor).encode()).decode()
        offset = int(decoded.removeprefix(_CURSOR_PREFIX)) if decoded.startswith(_CURSOR_PREFIX) else -1
    except (ValueError, binascii.Error):
        offset = -1
    if offset < 0:
        raise _SlackError("invalid_cursor")
    return offset


# ---------------------------------------------------------------------- inbound request builders


def sign_request(body: bytes, signing_secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    """Slack's request-signing headers for ``body`` (``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``)."""
    ts = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{ts}:".encode() + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def slash_command_form(
    *,
    command: str = "/orchestrate",
    text: str,
    user_id: str = "U0ANA",
    user_name: str = "ana",
    channel_id: str = "C0OPS",
    team_id: str = "T0TEST",
    response_url: str,
    trigger_id: str = "1.2.3",
) -> bytes:
    """A slash command's ``application/x-www-form-urlencoded`` body, field for field as Slack posts it."""
    fields = {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": "test",
        "channel_id": channel_id,
        "channel_name": "directmessage" if channel_id.startswith("D") else channel_id.lower(),
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return urlencode(fields).encode()


def _event_context(event: dict[str, Any], team_id: str, api_app_id: str) -> str:
    """Slack's opaque ``event_context``: ``4-`` + base64 of a small JSON descriptor."""
    descriptor = {"et": event.get("type"), "tid": team_id, "aid": api_app_id, "cid": event.get("channel")}
    return "4-" + base64.b64encode(json.dumps(descriptor, separators=(",", ":")).encode()).decode()


def event_callback(
    event: dict[str, Any],
    *,
    event_id: str,
    team_id: str = "T0TEST",
    api_app_id: str = APP_ID,
    bot_user_id: str = "UBOT",
    event_time: int | None = None,
) -> dict[str, Any]:
    """The Events API ``event_callback`` envelope around ``event`` (HTTP body or Socket Mode payload)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": _event_context(event, team_id, api_app_id),
    }


def _message_like(kind: str, *, text: str, user: str, channel: str, ts: str, thread_ts: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "client_msg_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"slack:{channel}:{ts}")),
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def app_mention_event(
    *, text: str, user: str = "U0ANA", channel: str = "C0OPS", ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    """An ``app_mention`` event (``text`` should contain ``<@UBOT>`` as Slack's does)."""
    return _message_like("app_mention", text=text, user=user, channel=channel, ts=ts, thread_ts=thread_ts)


def dm_message_event(
    *, text: str, user: str = "U0ANA", channel: str = "D0ANA", ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    """A ``message`` event in a direct message with the bot (``channel_type`` ``im``)."""
    event = _message_like("message", text=text, user=user, channel=channel, ts=ts, thread_ts=thread_ts)
    event["channel_type"] = "im"
    return event
