"""The final message of a task in its thread: it outlives Slack's rate limits and formatting complaints.

Rate limited past the SDK's own retries, it waits as Slack's ``Retry-After`` says, for up to the answer's
patience; rejected as formatted, it is sent as plain text; if the thread still cannot take it, the
requester gets it privately (ephemeral, then a DM) rather than not at all. A long answer's full text
follows as a file. Slack refusing the feedback buttons (:mod:`bot.delivery.feedback`) costs the answer
nothing: it is sent again with plain buttons in their place. The final message replaces the thread's
working message (the placeholder, or the answer so far) when there is one, so the thread ends with one
answer, not a placeholder and an answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from bot.delivery.feedback import FEEDBACK_REFUSED, with_plain_buttons
from bot.delivery.port import RATELIMITED, SlackOutcome
from bot.render import attachment_name

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot.delivery.message import ThreadMessage
    from bot.delivery.port import SlackPort
    from bot.outfilter import OutputFilter

__all__ = ["FinalMessage"]

log = structlog.get_logger(__name__)
_PLAIN_LIMIT = 3_500
# chat.update refusals after which the answer goes in a new message instead.
_NOT_EDITABLE = frozenset(
    {
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "streaming_state_conflict",  # a stream Slack would not stop: the answer goes below it
    }
)


class FinalMessage:
    """Posts a task's last message into ``message``'s thread for ``user``; everything sent passes ``clean``."""

    def __init__(
        self,
        slack: SlackPort,
        message: ThreadMessage,
        *,
        clean: OutputFilter,
        user: str,
        patience: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._slack = slack
        self._message = message
        self._clean = clean
        self._user = user
        self._patience = patience
        self._clock = clock
        self._sleep = sleep

    async def post(self, text: str, blocks: list[dict[str, Any]], *, request_id: str) -> None:
        """Post ``text`` with ``blocks``, else as plain text, else privately to the requester."""
        plain = _plain_text(text, blocks)
        outcome = await self._send_patiently(text=text, blocks=blocks)
        if outcome.error in FEEDBACK_REFUSED and (buttons := with_plain_buttons(blocks)) is not None:
            log.info("slack.feedback_buttons_refused", error=outcome.error)
            outcome = await self._send_patiently(text=text, blocks=buttons)
        if outcome.ok:
            return
        log.warning("slack.answer_rejected", error=outcome.error)
        if outcome.error == RATELIMITED:
            await self._tell_privately(plain, request_id, why="Slack is rate-limiting this thread")
            return
        again = await self._send_patiently(text=f"{plain}\n\nRequest ID: `{request_id}`", blocks=None)
        if not again.ok:
            log.warning("slack.plain_answer_rejected", error=again.error)
            await self._tell_privately(plain, request_id, why="Slack would not take it in the thread")

    async def attach(self, content: str, request_id: str) -> None:
        """The full answer as a file in the thread; if Slack refuses it, a note saying so."""
        message = self._message
        outcome = await self._slack.upload(
            channel=message.channel,
            thread_ts=message.thread_ts,
            content=self._clean(content),
            filename=attachment_name(request_id),
            title=f"Full answer ({request_id})",
        )
        if outcome.ok:
            return
        log.warning("slack.attachment_failed", error=outcome.error)
        note = await self._slack.post_message(
            channel=message.channel,
            thread_ts=message.thread_ts,
            text=f"I couldn't attach the full answer ({outcome.error}). Request ID: `{request_id}`",
        )
        if not note.ok:
            log.error("slack.attachment_note_failed", error=note.error)

    async def _send_patiently(self, *, text: str, blocks: list[dict[str, Any]] | None) -> SlackOutcome:
        give_up = self._clock() + self._patience
        while True:
            outcome = await self._send(text=text, blocks=blocks)
            wait = outcome.retry_after
            if wait is None or self._clock() + wait > give_up:
                return outcome
            log.info("slack.answer_rate_limited", retry_after=wait)
            await self._sleep(wait)

    async def _send(self, *, text: str, blocks: list[dict[str, Any]] | None) -> SlackOutcome:
        message = self._message
        text, blocks = self._clean(text), self._clean.blocks(blocks) if blocks else None
        if message.ts is not None:
            outcome = await self._slack.update_message(
                channel=message.channel, ts=message.ts, text=text, blocks=blocks or []
            )
            if outcome.ok or outcome.error not in _NOT_EDITABLE:
                return outcome
            message.ts = None
        return await self._slack.post_message(
            channel=message.channel, thread_ts=message.thread_ts, text=text, blocks=blocks
        )

    async def _tell_privately(self, plain: str, request_id: str, *, why: str) -> None:
        text = self._clean(
            f"I couldn't post my answer in the thread ({why}), so here it is:\n\n{plain}\n\nRequest ID: `{request_id}`"
        )
        message = self._message
        outcome = await self._slack.post_ephemeral(
            channel=message.channel, user=self._user, thread_ts=message.thread_ts, text=text
        )
        if outcome.ok:
            return
        log.warning("slack.private_answer_failed", surface="ephemeral", error=outcome.error)
        direct = await self._slack.post_message(channel=self._user, text=text)
        if not direct.ok:
            log.error("slack.answer_lost", error=direct.error)


def _plain_text(text: str, blocks: list[dict[str, Any]]) -> str:
    """The message as plain text: its first block's text (the answer), else the fallback text, bounded."""
    plain: object = blocks[0].get("text", text) if blocks else text
    if isinstance(plain, dict):
        plain = plain.get("text", text)
    plain = plain if isinstance(plain, str) else text
    return plain[:_PLAIN_LIMIT] + "…" if len(plain) > _PLAIN_LIMIT else plain
