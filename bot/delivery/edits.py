"""The answer so far, edited into one message: how an answer shows while it cannot stream.

Without a stream (Slack refused to start one, or ended it mid-answer, or the answer was withdrawn), the
text released so far is written into the streamed message or the thread's working message with
``chat.update``, a marker at its end saying more is coming. With neither (a slash command's thread has no
placeholder), it is posted and becomes the working message, so every later edit and the final message
go to the same place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from bot.render import INLINE_LIMIT

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.delivery.message import ThreadMessage
    from bot.delivery.port import SlackPort

__all__ = ["edit_answer_so_far"]

log = structlog.get_logger(__name__)
_PREVIEW = 3_000  # characters of the answer so far in the message's notification text


async def edit_answer_so_far(
    slack: SlackPort,
    message: ThreadMessage,
    text: str,
    *,
    tail: str,
    ts: str | None,
    clock: Callable[[], float],
) -> None:
    """Show ``text`` and ``tail`` in message ``ts`` (else the working message, else a new one)."""
    target = ts or message.ts
    preview_text = text[:_PREVIEW] or tail.strip()
    blocks = [{"type": "markdown", "text": text[:INLINE_LIMIT] + tail}]
    if target is None:
        outcome = await slack.post_message(
            channel=message.channel, thread_ts=message.thread_ts, text=preview_text, blocks=blocks
        )
        if outcome.ok:
            message.ts = outcome.ts
    else:
        outcome = await slack.update_message(channel=message.channel, ts=target, text=preview_text, blocks=blocks)
    if not outcome.ok:
        log.info("slack.progress_update_failed", error=outcome.error)
    message.edited = clock()
