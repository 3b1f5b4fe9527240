"""What a task is doing while it works: the placeholder, the assistant status, and the task cards' content.

In a channel the progress is a placeholder message ("Working on it…" and the last steps, one a line); in
an assistant thread it is the status line under the composer. Tool calls (later runbook steps and
approval cards) are task cards in the streamed answer where Slack takes them: this view makes their
chunks (:class:`bot.progress.TaskCards`) and the answer stream carries them, since Slack only takes them
in a stream. Where it refuses them, the same steps come back here as placeholder or status lines.

Slack refusing progress never fails a task: a placeholder that cannot be posted is skipped, a status
that cannot be set (not an assistant thread after all) turns into placeholder lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from bot.progress import TaskCards
from bot.render import working_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.delivery.message import ThreadMessage
    from bot.delivery.port import SlackPort
    from bot.outfilter import OutputFilter

__all__ = ["ProgressView"]

log = structlog.get_logger(__name__)
_LINES = 8  # steps shown in the placeholder: the last few, so it never grows into a wall


class ProgressView:
    """One task's progress in its thread, through ``slack``; everything shown passes ``clean``.

    ``placeholder=False`` posts the placeholder only once there is a step to show (a slash command's
    parent message already names the task); ``assistant_status=True`` shows steps as the status instead.
    """

    def __init__(
        self,
        slack: SlackPort,
        message: ThreadMessage,
        *,
        clean: OutputFilter,
        region: str,
        assistant_status: bool = False,
        placeholder: bool = True,
        clock: Callable[[], float],
    ) -> None:
        self._slack = slack
        self._message = message
        self._clean = clean
        self._assistant_status = assistant_status
        self._placeholder = placeholder
        self._clock = clock
        self._lines: list[str] = []
        self._cards = TaskCards(clean, region=region)

    async def started(self) -> None:
        """The task started: an assistant thread says so in its status."""
        if self._assistant_status:
            await self._set_status("is working on it…")

    async def routed(self, agent: str, request_id: str) -> None:
        """An agent took the task: the placeholder names it (channels only)."""
        if self._placeholder and not self._assistant_status:
            await self._post(working_text(agent, request_id))

    def card_started(self, key: str, title: str, *, source: str) -> dict[str, Any]:
        """The task card chunk for a step that started (``key`` pairs it with its end)."""
        return self._cards.started(key, title, source=source)

    def card_finished(self, key: str, *, ok: bool, seconds: float) -> dict[str, Any] | None:
        """The chunk closing the card ``key`` opened, ``None`` if none is open."""
        return self._cards.finished(key, ok=ok, seconds=seconds)

    def remember(self, line: str) -> None:
        """Count ``line`` among the steps, shown elsewhere (in the streamed answer)."""
        self._lines.append(line)

    async def show(self, line: str, *, in_message: bool) -> None:
        """Show the step ``line``: as the status, else (while ``in_message``) in the placeholder."""
        self._lines.append(line)
        if self._assistant_status:
            await self._set_status(f"is {line[:1].lower()}{line[1:]}")
        elif in_message:
            text = ":hourglass_flowing_sand: Working on it…\n" + "\n".join(
                f"• {item}" for item in self._lines[-_LINES:]
            )
            if self._message.ts is None:
                await self._post(text)
            else:
                await self._update(text)

    async def remove_placeholder(self) -> None:
        """The answer has its own message now: the placeholder goes."""
        message = self._message
        if message.ts is None:
            return
        outcome = await self._slack.delete_message(channel=message.channel, ts=message.ts)
        if not outcome.ok:
            log.info("slack.placeholder_not_removed", error=outcome.error)
        message.ts = None

    async def _set_status(self, status: str) -> None:
        message = self._message
        outcome = await self._slack.set_status(
            channel=message.channel, thread_ts=message.thread_ts, status=self._clean(status)
        )
        if not outcome.ok:
            # Not an assistant thread after all: show progress as a message instead.
            log.info("slack.status_unavailable", error=outcome.error)
            self._assistant_status = False

    async def _post(self, text: str) -> None:
        message = self._message
        outcome = await self._slack.post_message(
            channel=message.channel, thread_ts=message.thread_ts, text=self._clean(text)
        )
        if not outcome.ok:
            log.warning("slack.placeholder_failed", error=outcome.error)
            return
        message.ts = outcome.ts

    async def _update(self, text: str) -> None:
        message = self._message
        if message.ts is None:
            return
        outcome = await self._slack.update_message(channel=message.channel, ts=message.ts, text=self._clean(text))
        if not outcome.ok:
            log.info("slack.progress_update_failed", error=outcome.error)
        message.edited = self._clock()
