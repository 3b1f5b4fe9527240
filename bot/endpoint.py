"""``POST /slack/events``: verify, read, then hand to Bolt — in that order, and nothing before the first.

A request that fails verification gets 401 and causes nothing: its body is never decoded, logged or
acted on, and refusals are only counted (``orch_slack_requests_rejected_total``) and summarised in at
most one log line a minute, so a flood of forgeries can fill neither the log nor the disk. A verified
body that cannot be read as a Slack payload gets 400 and a log line naming the reason (never the body).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.verification import MalformedBody, SlackSignature, parse_slack_body

if TYPE_CHECKING:
    from collections.abc import Callable

    from slack_bolt.async_app import AsyncApp

    from agents.metrics import Metrics

__all__ = ["SlackEndpoint"]

log = structlog.get_logger(__name__)


class SlackEndpoint:
    """The aiohttp handler in front of the Bolt app."""

    def __init__(
        self, app: AsyncApp, signing_secret: str, metrics: Metrics, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._app = app
        self._signature = SlackSignature(signing_secret, clock=clock)
        self._metrics = metrics
        self._refusals = _RefusalLog()

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one delivery: 401 unverified, 400 unreadable, else Bolt's ack."""
        started = time.perf_counter()
        raw = await request.read()
        refused = self._signature.rejects(
            raw, request.headers.get("X-Slack-Request-Timestamp"), request.headers.get("X-Slack-Signature")
        )
        if refused is not None:
            self._metrics.rejected_requests.labels(refused).inc()
            self._refusals.note(refused)
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = self._bolt_request(raw, request)
        except MalformedBody as exc:
            self._metrics.rejected_requests.labels(f"malformed_{exc.reason}").inc()
            log.warning("request.malformed", reason=exc.reason)
            return web.json_response({"error": "malformed request"}, status=400)
        bolt_response = await self._app.async_dispatch(bolt_request)
        self._metrics.ack_seconds.labels(_kind(bolt_request.body)).observe(time.perf_counter() - started)
        return await to_aiohttp_response(bolt_response)

    @staticmethod
    def _bolt_request(raw: bytes, request: web.Request) -> AsyncBoltRequest:
        text, _ = parse_slack_body(raw, request.content_type)
        try:
            return AsyncBoltRequest(body=text, query=request.query_string, headers=dict(request.headers))
        except (TypeError, ValueError, KeyError, AttributeError, IndexError):
            # Bolt reads ids out of the body as it builds the request: a signed body of the wrong shape.
            raise MalformedBody("unexpected_shape") from None


def _kind(body: dict[str, object]) -> str:
    if "command" in body:
        return "command"
    if body.get("type") == "event_callback":
        return "event"
    return "other"


class _RefusalLog:
    """At most one log line a minute about refused requests: counts by reason, never content."""

    def __init__(self, *, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._next = 0.0
        self._counts: dict[str, int] = {}

    def note(self, reason: str) -> None:
        self._counts[reason] = self._counts.get(reason, 0) + 1
        now = self._clock()
        if now >= self._next:
            log.warning("request.unverified_refused", refused=dict(self._counts))
            self._counts = {}
            self._next = now + self._every
