"""Bolt middleware: one concern each, run before any listener.

* :func:`assign_request_id` gives every incoming request a ``req-…`` id, in Bolt's context for
  listeners and in structlog's contextvars for every log line.
* :func:`refuse_foreign_response_urls` answers 400 to a request whose ``response_url`` is not Slack's, so
  nothing the bot says is ever posted to a host a body names.
* :func:`drop_redeliveries` answers a redelivered event (same ``event_id``) with 200 and does nothing,
  so Slack stops retrying and the user gets exactly one answer. While the store that remembers event ids is
  unreachable, events go through unchecked: a rare second answer beats a task nobody hears about (its
  listener then tells the user the task could not be recorded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from slack_bolt.response import BoltResponse

from agents.errors import StoreUnavailable
from agents.task import new_request_id

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from slack_bolt.context.async_context import AsyncBoltContext
    from slack_bolt.request.async_request import AsyncBoltRequest

    from agents.dedupe import Deduper
    from bot.verification import SlackHosts

__all__ = ["assign_request_id", "drop_redeliveries", "first_sighting", "refuse_foreign_response_urls"]

log = structlog.get_logger(__name__)


async def assign_request_id(
    context: AsyncBoltContext,
    body: dict[str, Any],
    next: Callable[[], Awaitable[BoltResponse]],  # noqa: A002 - Bolt's name
) -> BoltResponse:
    """Give the request an id and bind it (and who sent it) to every log line from here on."""
    structlog.contextvars.clear_contextvars()
    request_id = new_request_id()
    context["request_id"] = request_id
    structlog.contextvars.bind_contextvars(
        request_id=request_id,
        team_id=context.team_id,
        user_id=context.user_id,
        kind=body.get("type") or ("slash_command" if "command" in body else "unknown"),
    )
    return await next()


def refuse_foreign_response_urls(hosts: SlackHosts) -> Callable[..., Awaitable[BoltResponse]]:
    """Middleware that refuses a body naming a ``response_url`` (or ``response_urls``) off Slack's hosts."""

    async def middleware(
        body: dict[str, Any],
        next: Callable[[], Awaitable[BoltResponse]],  # noqa: A002 - Bolt's name
    ) -> BoltResponse:
        urls: list[object] = [body["response_url"]] if "response_url" in body else []
        listed = body.get("response_urls")
        if listed is not None:
            entries = listed if isinstance(listed, list) else [listed]
            urls += [entry.get("response_url") if isinstance(entry, dict) else entry for entry in entries]
        if not all(hosts.allows(url) for url in urls):
            log.warning("request.foreign_response_url_refused")
            return BoltResponse(status=400, body="")
        return await next()

    return middleware


async def first_sighting(deduper: Deduper, key: str) -> bool:
    """Whether ``key`` is new; while the shared store is down, yes (a rare duplicate beats a lost task)."""
    try:
        return await deduper.first_sighting(key)
    except StoreUnavailable as error:
        log.warning("event.dedupe_unavailable", store=error.store, reason=error.reason)
        return True


def drop_redeliveries(deduper: Deduper) -> Callable[..., Awaitable[BoltResponse]]:
    """Middleware that lets each ``event_id`` through once, whatever the retry headers say."""

    async def middleware(
        req: AsyncBoltRequest,
        body: dict[str, Any],
        next: Callable[[], Awaitable[BoltResponse]],  # noqa: A002 - Bolt's name
    ) -> BoltResponse:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not await first_sighting(deduper, f"{body.get('team_id')}:{event_id}"):
            log.info(
                "event.redelivery_ignored",
                event_id=event_id,
                retry_num=req.headers.get("x-slack-retry-num", [""])[0],
                retry_reason=req.headers.get("x-slack-retry-reason", [""])[0],
            )
            return BoltResponse(status=200, body="")
        return await next()

    return middleware
