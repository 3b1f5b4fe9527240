"""The answer as the model writes it: streamed into Slack, or edited into one message where it cannot stream.

Text deltas pass a :class:`~bot.outfilter.StreamFilter` and go out in batches: at most one append per
``flush_interval``, less often when other answers stream in the same workspace (:mod:`bot.slack_budget`).
If streaming is unavailable, or Slack ends the stream mid-answer (:mod:`bot.delivery.stream`), the answer
so far is edited into the thread's working message instead. Filtering a longer text can change what was
already shown (a link completed, a secret recognised): then nothing more is shown until the whole answer
is rewritten at the end. Past :data:`~bot.render.INLINE_LIMIT` characters the rest goes into a file.
When the answer is withdrawn (:class:`~agents.events.AnswerReset`) the message shows exactly what is kept,
never a second answer. The last message, its footer and the file are :mod:`bot.delivery.final`'s.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.delivery.edits import edit_answer_so_far
from bot.delivery.feedback import FEEDBACK_REFUSED, feedback_block, with_plain_buttons
from bot.delivery.stream import Sent
from bot.messages import failure_blocks
from bot.render import INLINE_LIMIT, attachment_name, footer, render_answer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agents.events import TaskFailed, TaskResult, TaskSucceeded, TaskSuspended
    from bot.delivery.final import FinalMessage
    from bot.delivery.message import ThreadMessage
    from bot.delivery.port import SlackPort
    from bot.delivery.stream import SlackStream
    from bot.outfilter import OutputFilter
    from bot.slack_budget import SlackBudget

__all__ = ["AnswerStream", "filtered"]

_APPEND_BATCH = 2_000  # characters that justify an append before the flush interval is up
_UPDATE_INTERVAL = 1.5  # seconds between chat.update edits when streaming is unavailable
_FALLBACK_PREVIEW = 3_000  # characters of a rewritten answer in its notification text
_RESTARTING = "\n\n_(the answer broke off; starting it again…)_"


class AnswerStream:
    """One task's answer in ``message``'s thread; ``on_streaming`` runs once its streamed message exists."""

    def __init__(
        self,
        slack: SlackPort,
        message: ThreadMessage,
        *,
        stream: SlackStream,
        final: FinalMessage,
        clean: OutputFilter,
        budget: SlackBudget,
        flush_interval: float,
        clock: Callable[[], float],
        on_streaming: Callable[[], Awaitable[None]],
        region: str,
    ) -> None:
        self._slack = slack
        self._message = message
        self._stream = stream
        self._final = final
        self._clean = clean
        self._filter = clean.stream()
        self._budget = budget
        self._flush_interval = flush_interval
        self._clock = clock
        self._on_streaming = on_streaming
        self._region = region
        self._pending = ""  # filtered, waiting to be sent
        self._chunks: list[dict[str, Any]] = []  # task cards waiting to be sent
        self._taken = 0  # characters of the model's text taken into the message (the rest goes in the file)
        self._capped = False
        self._last_flush = float("-inf")
        self._full: list[str] = []  # the model's text as written (filtered whole at the end)
        self._released: list[str] = []  # filtered text released so far, for partial edits

    @property
    def streaming(self) -> bool:
        """Whether the answer has a streamed message."""
        return self._stream.ts is not None

    @property
    def takes_cards(self) -> bool:
        """Whether steps go into the stream as task cards (else the progress view shows them)."""
        stream = self._stream
        return self._budget.task_chunks and stream.available and not self._capped and not self._filter.diverged

    @property
    def shows_cards(self) -> bool:
        """Whether task cards offered so far are in a streamed message (Slack took them)."""
        return self._budget.task_chunks and self.streaming

    @property
    def takes_notes(self) -> bool:
        """Whether a step is best shown in the streamed answer itself, where the reader is looking."""
        return self.streaming and self._stream.available and not self._capped

    async def text(self, text: str) -> None:
        """More of the answer."""
        self._full.append(text)
        if self._capped:
            return
        if self._taken + len(text) > INLINE_LIMIT:
            self._capped = True  # the rest goes into the attached file at the end
            self._release(self._filter.finish())
            return
        self._taken += len(text)
        self._filter.add(text)  # filtered when it is about to be sent, not once per token
        await self.flush(force=not self.streaming and self._stream.available)

    async def end_turn(self) -> None:
        """The model's turn is over (it calls a tool): nothing of it is held back."""
        self._release(self._filter.finish())
        await self.flush(force=True)

    async def card(self, chunk: dict[str, Any]) -> None:
        """Send a task card chunk with the stream."""
        self._chunks.append(chunk)
        await self.flush(force=True)

    async def cards(self, chunks: list[dict[str, Any]], *, display_mode: str) -> None:
        """Send several task card chunks at once, laid out as ``display_mode`` (if the stream is not started)."""
        self._stream.display_mode = display_mode
        self._chunks.extend(chunks)
        await self.flush(force=True)

    async def note(self, line: str) -> None:
        """A step, in italics, in the streamed answer."""
        self._release(f"\n\n_{self._clean(line)}_\n\n")
        await self.flush(force=True)

    def _release(self, text: str) -> None:
        """Queue filtered ``text`` for the message."""
        self._pending += text
        self._released.append(text)
        if self._filter.diverged:
            # Filtering the longer text changed what was already shown: stop appending, rewrite it whole.
            self._stream.give_up()

    async def flush(self, *, force: bool = False) -> None:
        """Send what waits if it is time to (``force``: now, if Slack allows)."""
        stream = self._stream
        if self._filter.diverged:
            return  # nothing more is shown until the whole answer is rewritten at the end
        now = self._clock()
        if stream.available and stream.ts is not None and not self._may_append(now):
            return  # other answers share the workspace's appends, or Slack asked to wait: batch more
        due = now - self._last_flush >= self._flush_interval
        if not (force or due or len(self._pending) + self._filter.waiting >= _APPEND_BATCH):
            return
        if not stream.available and now - self._message.edited < self._update_interval():
            return
        self._release(self._filter.ready())
        await self._send_pending()

    async def _send_pending(self) -> None:
        """Send what waits: start the stream, append to it, or (without streaming) edit the answer so far."""
        stream = self._stream
        if not stream.available:
            self._chunks.clear()
        if (not self._pending.strip() and not self._chunks) or self._filter.diverged:
            return
        if stream.available:
            starting = stream.ts is None
            if starting:
                sent = await stream.start(self._pending, self._chunks)
            else:
                sent = await stream.append(self._pending, self._chunks)
            if sent is not Sent.HELD or not self._budget.task_chunks:
                self._chunks.clear()
            if sent is Sent.SENT:
                if starting:
                    self._budget.join(self)
                self._pending = ""
                self._last_flush = self._clock()
                if starting:
                    await self._on_streaming()
        elif self._pending.strip() and self._clock() - self._message.edited >= self._update_interval():
            # No streaming: show the answer so far by editing one message.
            await self._update_answer_so_far()

    def _may_append(self, now: float) -> bool:
        """Whether this answer's share of the workspace's appends allows one now."""
        spacing = self._budget.spacing("chat.appendStream")
        return now - self._last_flush >= spacing and self._budget.blocked_for("chat.appendStream") <= 0

    def _update_interval(self) -> float:
        return max(_UPDATE_INTERVAL, self._budget.spacing("chat.update"))

    async def reset(self, text: str) -> None:
        """Show exactly ``text`` as the answer so far (the rest was withdrawn), never a second answer.

        Streamed text cannot be taken back, so a live stream is stopped and the message is edited in place
        from then on, as when streaming is unavailable.
        """
        stream = self._stream
        self._full = [text] if text else []
        self._capped = len(text) > INLINE_LIMIT
        self._taken = min(len(text), INLINE_LIMIT)
        # The withdrawn text leaves the filter too: what is kept is filtered afresh, and the rest follows it.
        self._filter = self._clean.stream()
        self._filter.add(text[:INLINE_LIMIT])
        kept = self._filter.finish()
        self._released = [kept] if kept else []
        self._pending = ""
        if stream.ts is not None and stream.available:
            stream.give_up()
            self._chunks.clear()
            await stream.stop()
        if stream.ts is not None or (not stream.available and self._message.ts is not None):
            await self._update_answer_so_far(tail=_RESTARTING)

    async def _update_answer_so_far(self, *, tail: str = " …") -> None:
        self._budget.join(self)  # edits count against the workspace's chat.update minute
        await edit_answer_so_far(
            self._slack, self._message, "".join(self._released), tail=tail, ts=self._stream.ts, clock=self._clock
        )

    async def succeed(self, event: TaskSucceeded) -> None:
        """The answer is complete: finish the stream with the footer, or post it whole; a file if long.

        Either way the feedback buttons go under the footer.
        """
        request_id = event.task.request_id
        result = filtered(event.result, self._clean)
        answer = render_answer(result, request_id)
        buttons = feedback_block(request_id)
        if self._stream.ts is None:
            await self._final.post(answer.text, [*answer.blocks, buttons], request_id=request_id)
        else:
            tail = ""
            if answer.attachment is not None:
                tail = f"_…the full answer is attached as `{attachment_name(request_id)}`._"
            await self._finish_stream(tail, blocks=[footer(result, request_id), buttons], request_id=request_id)
        if answer.attachment is not None:
            await self._final.attach(answer.attachment, request_id)

    async def fail(self, event: TaskFailed) -> None:
        """The task failed: what happened and what to do, under the answer so far if it streamed."""
        text, blocks = failure_blocks(event.error, event.task.request_id, region=self._region)
        if self._stream.ts is not None:
            await self._finish_stream(text, blocks=[], request_id=event.task.request_id)
        else:
            await self._final.post(text, blocks, request_id=event.task.request_id)

    async def pause(self, event: TaskSuspended) -> None:
        """The task waits for a decision: end what streamed (a message must never be left streaming) and say so."""
        text = (
            f":double_vertical_bar: Waiting for a decision before going on ({event.reason}); the answer continues "
            f"here once it is made. Request ID: `{event.task.request_id}`"
        )
        if self._stream.ts is not None:
            await self._finish_stream(text, blocks=[], request_id=event.task.request_id)
        else:
            await self._final.post(text, [], request_id=event.task.request_id)

    def done(self) -> None:
        """The answer calls Slack no more: it leaves the workspace's budget."""
        self._budget.leave(self)

    async def _finish_stream(self, tail: str, *, blocks: list[dict[str, Any]], request_id: str) -> None:
        """End the streamed message: the rest of the text, then ``blocks`` (the footer) under it."""
        stream = self._stream
        if not self._capped:
            self._release(self._filter.finish())
        rest = self._pending + (("\n\n" + self._clean(tail)) if tail else "")
        self._pending = ""
        chunks, self._chunks = list(self._chunks), []
        if stream.available and not self._filter.diverged:
            final: dict[str, Any] = {"markdown_text": rest or None, "blocks": self._clean.blocks(blocks) or None}
            if chunks:
                final["chunks"] = chunks
            if await stream.stop(**final):
                return
            plain = with_plain_buttons(blocks) if stream.stop_error in FEEDBACK_REFUSED else None
            if plain is not None and stream.live:
                # Slack would not take the feedback element here: the same choice as plain buttons.
                final["blocks"] = self._clean.blocks(plain)
                if await stream.stop(**final):
                    return
        # What was streamed must be replaced, or the stream failed: end it as it stands, then rewrite it below.
        await stream.stop()
        # The stream expired (or its text had to be rewritten): write the whole message in place.
        # Filtered before it is cut, so no cut can split a secret or a link out of the filter's sight.
        text = self._clean("".join(self._full)[: self._taken]) + (("\n\n" + tail) if tail else "")
        self._message.ts = stream.ts
        await self._final.post(
            text[:_FALLBACK_PREVIEW], [{"type": "markdown", "text": text}, *blocks], request_id=request_id
        )


def filtered(result: TaskResult, clean: OutputFilter) -> TaskResult:
    """``result`` with the model's words (answer, routing reason) filtered before anything cuts them."""
    return replace(result, text=clean(result.text), routing_reason=clean(result.routing_reason))
