"""The core of the fake Slack: an HTTP server for the Web API that records, authenticates and dispatches calls.

Every Web API request is recorded as a :class:`SlackCall` (O(1) append, indexed by method) and tests wait
on them with :meth:`SlackApi.wait_for`, which is woken by the request itself, never by polling. Failures
are injectable per method (:meth:`SlackApi.fail_next`, :meth:`SlackApi.rate_limit_next`), tokens and
scopes are checked as Slack checks them, and Slack's rate limits apply (:mod:`bot.testing.slack.ratelimits`).

The methods themselves live in the parts that extend :class:`SlackApi` (messages, streams, files,
surfaces, Socket Mode); each adds its state in ``_setup``, its methods in ``_methods`` and its URLs in
``_add_routes``. :class:`bot.testing.slack.FakeSlack` puts them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

from bot.scopes import HISTORY_SCOPE_BY_CHANNEL_TYPE, method_scopes, scope_names
from bot.testing.slack.ratelimits import RateLimiter, RateLimits

if TYPE_CHECKING:
    from types import TracebackType

    from aiohttp.web_request import FileField

__all__ = ["APP_ID", "SCOPES", "Handler", "SlackApi", "SlackCall", "SlackError", "json_response", "ok"]

#: The app id the fake reports in Socket Mode's hello and in built envelopes.
APP_ID = "A0TEST"

#: Scopes the fake's bot token has by default: exactly what orch-bot's manifest asks for (the one list).
SCOPES = ",".join(sorted(scope_names()))

#: Scopes of methods the fake serves that orch does not call (so they are not in its list).
_OTHER_METHOD_SCOPES = {
    "conversations.info": frozenset({"channels:read", "groups:read", "im:read", "mpim:read"}),
}

#: Arguments slack_sdk (or any client) may send as JSON-encoded strings in a form or query string.
_JSON_STRING_FIELDS = frozenset({"blocks", "attachments", "prompts", "files", "metadata", "chunks"})
#: Methods an app-level (``xapp-``) token may call; every other method answers ``not_allowed_token_type``.
_APP_TOKEN_METHODS = frozenset({"apps.connections.open", "auth.test"})
_MAX_BODY_BYTES = 64 * 1024 * 1024
_SHUTDOWN_TIMEOUT = 2.0

Handler = Callable[[dict[str, Any]], dict[str, Any]]


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


class SlackError(Exception):
    """Raised by a method handler to answer ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages

    def body(self) -> dict[str, Any]:
        """The JSON body Slack answers with."""
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


class SlackApi:
    """The Web API's server, recording and waiting, failure injection, tokens and scopes, and ``auth.test``."""

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
        #: Conversation types that are not what the id says (``D…`` is an ``im``, anything else a ``channel``).
        self.channel_types: dict[str, str] = {}
        #: Whether messages take ``context_actions`` (feedback buttons); ``False`` answers ``invalid_blocks``.
        self.feedback_buttons = True
        self._limiter = RateLimiter(rate_limits or RateLimits(), clock)
        self._by_method: dict[str, list[SlackCall]] = {}
        self._waiters: dict[str, list[_Waiter]] = {}
        self._injections: dict[str, deque[_Injection]] = {}
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self._port: int | None = None
        self._setup()
        self._handlers = self._methods()

    # ------------------------------------------------------------------ what each part of the fake extends

    def _setup(self) -> None:
        """Set up a part's own state; each part extends it, calling ``super()._setup()`` first."""

    def _methods(self) -> dict[str, Handler]:
        """The Web API methods served, by name; each part adds its own."""
        return {"auth.test": self._auth_test}

    def _add_routes(self, app: web.Application) -> None:
        """Serve a part's own URLs besides the Web API's."""
        app.router.add_route("*", "/api/{method}", self._handle_api)

    async def _close_connections(self) -> None:
        """Close what stays open between requests (Socket Mode's sockets) before the server stops."""

    def _injected(self, call: SlackCall, error: str) -> None:
        """React to a failure injected into ``call`` as Slack's state would (an ended stream, say)."""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port and start serving."""
        self._stopping = False
        app = web.Application(client_max_size=_MAX_BODY_BYTES)
        self._add_routes(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Close open sockets and stop serving (a client still running cannot reconnect). Idempotent."""
        self._stopping = True
        await self._close_connections()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

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
        self._injected(call, injection.error)
        if injection.raw_body is not None:
            return web.Response(status=injection.status, text=injection.raw_body, content_type=injection.content_type)
        return json_response(call.response, status=injection.status, headers=headers)

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
            return json_response(call.response, status=429, headers={"Retry-After": str(wait)})
        body = self._dispatch(method, args, token, valid=valid)
        call.response = body
        return json_response(body, scopes=",".join(sorted(self.scopes)))

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
        except SlackError as exc:
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


def ok(_args: dict[str, Any]) -> dict[str, Any]:
    """A method that only answers ``ok``."""
    return {"ok": True}


def json_response(
    body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None, scopes: str = SCOPES
) -> web.Response:
    """Slack's JSON answer, with the token's scopes in ``X-OAuth-Scopes`` as Slack sends them."""
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
