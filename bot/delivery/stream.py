"""One streamed Slack message: ``chat.startStream``, ``appendStream`` and ``stopStream``, and what Slack says back.

A streamed message is never left streaming. An append Slack rate-limits past the SDK's own retries is
held (every answer in the workspace holds its appends for the ``Retry-After``, see
:mod:`bot.slack_budget`) and the text goes with the next one; task chunks Slack refuses are dropped for
the workspace and the text is sent alone; any other refusal ends the stream: it is stopped (unless Slack
ended it already) and the answer is finished by editing the message instead. Stopping waits out rate
limits for as long as the answer's patience allows.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

import structlog

from bot.progress import TASK_DISPLAY_MODE

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from bot.delivery.message import ThreadMessage
    from bot.delivery.port import Block, SlackPort
    from bot.slack_budget import SlackBudget

__all__ = ["Sent", "SlackStream"]

log = structlog.get_logger(__name__)
# What Slack answers to chunks or a display mode it does not take (an older Slack, an unknown argument).
_CHUNKS_REFUSED = frozenset({"invalid_arguments", "invalid_chunks", "unknown_method"})
# The stream is over on Slack's side already: nothing to stop.
_NOT_STREAMING = frozenset({"message_not_in_streaming_state", "message_not_found", "stopped_by_user"})


class Sent(Enum):
    """What became of text (and chunks) offered to the stream."""

    SENT = "sent"  # in the message
    HELD = "held"  # Slack asked to wait: offer the same again later
    LOST = "lost"  # not sent and not to be offered again (chunks refused, or no stream)


class SlackStream:
    """The streamed message of one answer in ``message``'s thread, for ``recipient`` (team, user)."""

    def __init__(
        self,
        slack: SlackPort,
        message: ThreadMessage,
        *,
        recipient: tuple[str, str],
        budget: SlackBudget,
        patience: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._slack = slack
        self._channel = message.channel
        self._thread_ts = message.thread_ts
        self._recipient = recipient
        self._budget = budget
        self._patience = patience
        self._clock = clock
        self._sleep = sleep
        self.ts: str | None = None
        #: Whether the answer may still stream (false once Slack refused: the message is edited instead).
        self.available = True
        #: Slack holds the message in its streaming state: it must be stopped before an edit.
        self.live = False
        #: How Slack lays out the task cards (``plan`` for a runbook's steps), set before the stream starts.
        self.display_mode = TASK_DISPLAY_MODE
        #: What Slack answered the last refused ``chat.stopStream`` (``None`` once one is taken).
        self.stop_error: str | None = None

    def give_up(self) -> None:
        """Stream no more: the answer is edited in place from now on."""
        self.available = False

    async def start(self, text: str, chunks: Sequence[Block]) -> Sent:
        """Start the message with ``text`` and ``chunks``; if Slack says no, :attr:`available` turns false."""
        if self._budget.blocked_for("chat.startStream") > 0:
            # Slack rate-limited starting streams in this workspace: this answer goes without one.
            log.info("slack.stream_unavailable", error="ratelimited")
            self.available = False
            return Sent.LOST
        cards = self._budget.task_chunks
        team, user = self._recipient
        outcome = await self._slack.start_stream(
            channel=self._channel,
            thread_ts=self._thread_ts,
            markdown_text=text or None,
            recipient_team_id=team,
            recipient_user_id=user,
            chunks=list(chunks) or None,
            task_display_mode=self.display_mode if cards else None,
        )
        if outcome.ok:
            self.ts, self.live = outcome.ts, True
            return Sent.SENT
        error = outcome.error or "unknown"
        if cards and error in _CHUNKS_REFUSED:
            self._refuse_cards(error)
            return await self.start(text, []) if text.strip() else Sent.LOST  # the text alone, as before cards
        if outcome.retry_after is not None:
            self._budget.rate_limited("chat.startStream", outcome.retry_after)
        log.info("slack.stream_unavailable", error=error)
        self.available = False
        return Sent.LOST

    async def append(self, text: str, chunks: Sequence[Block]) -> Sent:
        """Add ``text`` and ``chunks``: held when rate limited; on any other refusal the stream ends."""
        if self.ts is None:
            return Sent.LOST
        outcome = await self._slack.append_stream(
            channel=self._channel, ts=self.ts, markdown_text=text or None, chunks=list(chunks) or None
        )
        if outcome.ok:
            return Sent.SENT
        error = outcome.error or "unknown"
        if outcome.retry_after is not None:
            # Past the SDK's own retries: every answer in the workspace holds its appends, the text waits.
            log.info("slack.stream_paced", retry_after=outcome.retry_after, answers=self._budget.answers)
            self._budget.rate_limited("chat.appendStream", outcome.retry_after)
            return Sent.HELD
        if chunks and error in _CHUNKS_REFUSED:
            self._refuse_cards(error)
            return await self.append(text, []) if text.strip() else Sent.LOST
        log.info("slack.stream_ended", error=error)
        self.available = False  # finish the streamed message with chat.update instead
        if error in _NOT_STREAMING:
            self.live = False
        else:
            await self.stop()  # a message must never be left streaming
        return Sent.LOST

    async def stop(self, **final: Any) -> bool:
        """``chat.stopStream`` (with ``final`` content), waiting out rate limits; whether Slack took it.

        However it goes, the message is no longer streaming afterwards unless Slack kept rate-limiting
        past the patience (then Slack ends the stream itself after a few idle minutes).
        """
        if self.ts is None or not self.live:
            return False
        give_up = self._clock() + self._patience
        while True:
            outcome = await self._slack.stop_stream(channel=self._channel, ts=self.ts, **final)
            self.stop_error = outcome.error
            if outcome.ok:
                self.live = False
                return True
            wait = outcome.retry_after
            if wait is not None and self._clock() + wait <= give_up:
                log.info("slack.stream_stop_rate_limited", retry_after=wait)
                self._budget.rate_limited("chat.stopStream", wait)
                await self._sleep(wait)
                continue
            log.info("slack.stream_stop_failed", error=outcome.error)
            if outcome.error in _NOT_STREAMING:
                self.live = False
            return False

    def _refuse_cards(self, error: str) -> None:
        """Slack would not take task chunks here: show progress the older way from now on, in this workspace."""
        log.info("slack.task_cards_refused", error=error)
        self._budget.task_chunks = False
