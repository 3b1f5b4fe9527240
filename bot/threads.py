"""Reading a thread for a task: its earlier messages as bounded context, and the files shared in it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from slack_sdk.errors import SlackApiError

from agents.task import ContextMessage, SharedFile
from bot.markup import to_plain_text
from bot.slack_client import slack_error

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["ContextWindow", "shared_files", "thread_context", "thread_messages"]

log = structlog.get_logger(__name__)


class ContextWindow:
    """How much of a thread the model sees: the most recent messages, bounded in count and size."""

    max_messages = 20
    max_chars_each = 1_500
    max_chars_total = 8_000
    max_files = 10


def shared_files(messages: list[dict[str, Any]]) -> tuple[SharedFile, ...]:
    """Files attached to ``messages``, newest last, at most ``ContextWindow.max_files``."""
    files = [
        SharedFile(
            id=str(f["id"]),
            # A file name is not message markup: taken as it is (no entity decoding), escaped by the core.
            name=str(f.get("name") or f["id"])[:200],
            size=int(f.get("size") or 0),
        )
        for message in messages
        for f in message.get("files") or []
        if f.get("id")
    ]
    unique = {f.id: f for f in files}
    return tuple(unique.values())[-ContextWindow.max_files :]


async def thread_messages(
    client: AsyncWebClient, *, channel: str, thread_ts: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The thread's messages, oldest first, and Slack's error code when the bot may not read it."""
    try:
        response = await client.conversations_replies(channel=channel, ts=thread_ts, limit=100)
    except SlackApiError as exc:
        error = slack_error(exc)
        log.info("slack.thread_unreadable", error=error)
        return [], error
    return list(response.get("messages") or []), None


def thread_context(
    raw: list[dict[str, Any]], *, exclude_ts: str, bot_user_id: str | None
) -> tuple[ContextMessage, ...]:
    """The thread's earlier messages, newest kept when over the bounds, oldest first."""
    messages = [m for m in raw if m.get("ts") != exclude_ts]
    picked: list[ContextMessage] = []
    total = 0
    for message in reversed(messages[-ContextWindow.max_messages :]):
        text = to_plain_text(message.get("text", ""))[: ContextWindow.max_chars_each].strip()
        if not text:
            continue
        if total + len(text) > ContextWindow.max_chars_total:
            break
        total += len(text)
        from_bot = bool(message.get("bot_id")) or (bot_user_id is not None and message.get("user") == bot_user_id)
        picked.append(ContextMessage(author="bot" if from_bot else "user", text=text))
    return tuple(reversed(picked))
