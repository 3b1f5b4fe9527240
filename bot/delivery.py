"""Rendering a task's events into Slack: where the answer goes and what happens when Slack says no.

:class:`ThreadDelivery` works in a thread: a placeholder (or, in the assistant pane, a status) while the
agent works, replaced by the answer. :class:`PrivateDelivery` answers through a slash command's
``response_url`` when the bot cannot post in the channel. Slack failures are translated here: a
rejected rich message is retried as plain text, so an answer is not lost to a formatting problem.

A streamed message is never left streaming: a stream that Slack rate-limits waits (every answer in the
workspace holds appends for the ``Retry-After``, see :mod:`bot.slack_budget`) and goes on; a stream that
fails any other way is stopped with ``chat.stopStream`` and then completed with ``chat.update``. Tool calls
show as task cards in the stream (:mod:`bot.progress`) where Slack takes them.

Nothing here is the bot's own wording but the frame (placeholders, notes, the footer's labels): every
text and block either class sends passes its :class:`~bot.outfilter.OutputFilter` on the way out, in the
few methods that call Slack, and the streamed answer passes a :class:`~bot.outfilter.StreamFilter`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import structlog
from slack_sdk.errors import SlackApiError

from agents.events import (
    AgentRouted,
    AnswerDelta,
    AnswerReset,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
    ToolFinished,
    ToolStarted,
)
from bot.messages import failure_blocks
from bot.progress import TASK_DISPLAY_MODE, TaskCards
from bot.render import INLINE_LIMIT, attachment_name, footer, render_answer, working_text
from bot.slack_budget import SlackBudget, workspace_budget
from bot.slack_client import slack_error

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from slack_bolt.context.respond.async_respond import AsyncRespond
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.events import TaskEvent, TaskResult
    from bot.outfilter import OutputFilter, StreamFilter

__all__ = ["PrivateDelivery", "ThreadDelivery"]

_DEFAULT_RETRY_AFTER = 1.0  # also the shortest wait: Slack's own Retry-After is whole seconds

log = structlog.get_logger(__name__)
_PLAIN_LIMIT = 3_500
_APPEND_BATCH = 2_000  # characters that justify an append before the flush interval is up
_UPDATE_INTERVAL = 1.5  # seconds between chat.update edits when streaming is unavailable
_FALLBACK_PREVIEW = 3_000
_RESTARTING = "\n\n_(the answer broke off; starting it again…)_"
# What Slack answers to chunks or a display mode it does not take (an older Slack, an unknown argument).
_CHUNKS_REFUSED = frozenset({"invalid_arguments", "invalid_chunks", "unknown_method"})
# The stream is over on Slack's side already: nothing to stop.
_NOT_STREAMING = frozenset({"message_not_in_streaming_state", "message_not_found", "stopped_by_user"})


@dataclass(slots=True)
class _StreamState:
    """Where the streamed answer stands: its message, what is shown, what waits to be sent."""

    ts: str | None = None
    available: bool = True
    live: bool = False  # Slack holds the message in its streaming state: it must be stopped before an edit
    pending: str = ""  # filtered, waiting to be sent
    chunks: list[dict[str, Any]] = field(default_factory=list)  # task cards waiting to be sent
    shown: int = 0
    taken: int = 0  # characters of the model's text taken into the message (the rest goes in the file)
    capped: bool = False
    last_flush: float = float("-inf")
    full: list[str] = field(default_factory=list)  # the model's text as written (filtered whole at the end)
    released: list[str] = field(default_factory=list)  # filtered text released so far, for partial edits


class ThreadDelivery:
    """Delivers one task's events into ``channel``/``thread_ts``, streaming the answer as it is written.

    Progress goes to a placeholder message (channels) or the assistant status (DMs). With
    ``placeholder=False`` (a slash command, whose visible parent message already names the task and its
    request ID) the placeholder is posted only when there is progress to show. The answer streams
    with ``chat.startStream``/``appendStream``/``stopStream``, batched to at most one append per
    ``flush_interval``, or less often when other answers stream in the same workspace (``budget``). Tool
    calls show as task cards in the stream; where Slack refuses those, as the placeholder or status. If
    streaming is unavailable the placeholder is updated instead; if a stream fails mid-answer, it is
    stopped and the message is finished with ``chat.update``. The final message waits out Slack's rate
    limits (``answer_patience``), then goes to the requester privately. Everything sent passes ``clean``.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        clean: OutputFilter,
        channel: str,
        thread_ts: str,
        region: str,
        recipient_team_id: str,
        recipient_user_id: str,
        assistant_status: bool = False,
        placeholder: bool = True,
        flush_interval: float = 0.5,
        answer_patience: float = 120.0,
        budget: SlackBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._clean = clean
        self._filter: StreamFilter = clean.stream()
        self._channel = channel
        self._thread_ts = thread_ts
        self._region = region
        self._recipient = (recipient_team_id, recipient_user_id)
        self._assistant_status = assistant_status
        self._placeholder = placeholder
        self._flush_interval = flush_interval
        self._answer_patience = answer_patience
        self._clock = clock
        self._sleep = sleep
        self._placeholder_ts: str | None = None
        self._progress: list[str] = []
        self._stream = _StreamState()
        self._last_update = float("-inf")
        self._budget = budget if budget is not None else workspace_budget(recipient_team_id)
        self._cards = TaskCards(clean, region=region)

    async def emit(self, event: TaskEvent) -> None:
        """Show ``event`` in the thread."""
        if isinstance(event, TaskStarted) and self._assistant_status:
            await self._set_status("is working on it…")
        elif isinstance(event, AgentRouted) and self._placeholder and not self._assistant_status:
            await self._post_placeholder(working_text(event.routing.agent.name, event.task.request_id))
        elif isinstance(event, ToolStarted):
            self._release(self._filter.finish())  # the model's turn is over: nothing of it is held back
            await self._flush(force=True)
            await self._tool_started(event)
        elif isinstance(event, ToolFinished):
            await self._tool_finished(event)
        elif isinstance(event, AnswerDelta):
            await self._on_text(event.text)
        elif isinstance(event, AnswerReset):
            await self._reset_answer(event.text)
        elif isinstance(event, TaskSucceeded):
            try:
                await self._succeed(event)
            finally:
                self._budget.leave(self)
        elif isinstance(event, TaskFailed):
            try:
                await self._fail(event)
            finally:
                self._budget.leave(self)

    async def _fail(self, event: TaskFailed) -> None:
        text, blocks = failure_blocks(event.error, event.task.request_id, region=self._region)
        if self._stream.ts is not None:
            await self._finish_stream(text, blocks=[], request_id=event.task.request_id)
        else:
            await self._final(text, blocks, request_id=event.task.request_id)

    # -- progress ---------------------------------------------------------------------------------

    @property
    def _task_cards(self) -> bool:
        """Whether tool calls go into the stream as task cards (else the placeholder or status shows them)."""
        stream = self._stream
        return self._budget.task_chunks and stream.available and not stream.capped and not self._filter.diverged

    async def _tool_started(self, event: ToolStarted) -> None:
        if self._task_cards:
            self._stream.chunks.append(
                self._cards.started(_tool_key(event.tool, event.source), event.progress, source=event.source)
            )
            await self._flush(force=True)
            if self._budget.task_chunks and self._stream.ts is not None:
                return
        await self._show_progress(event.progress)

    async def _tool_finished(self, event: ToolFinished) -> None:
        chunk = self._cards.finished(_tool_key(event.tool, event.source), ok=event.ok, seconds=event.seconds)
        if chunk is None or not self._task_cards or self._stream.ts is None:
            return
        self._stream.chunks.append(chunk)
        await self._flush(force=True)

    def _refuse_task_cards(self, error: str) -> None:
        """Slack would not take task chunks here: show progress the older way from now on, in this workspace."""
        log.info("slack.task_cards_refused", error=error)
        self._budget.task_chunks = False
        self._stream.chunks.clear()

    async def _set_status(self, status: str) -> None:
        try:
            await self._client.assistant_threads_setStatus(
                channel_id=self._channel, thread_ts=self._thread_ts, status=self._clean(status)
            )
        except SlackApiError as exc:
            # Not an assistant thread after all: show progress as a message instead.
            log.info("slack.status_unavailable", error=slack_error(exc))
            self._assistant_status = False

    async def _show_progress(self, line: str) -> None:
        self._progress.append(line)
        stream = self._stream
        if stream.ts is not None and stream.available and not stream.capped:
            # The answer is already streaming: the step goes into it, in italics, where the reader is looking.
            self._release(f"\n\n_{self._clean(line)}_\n\n")
            await self._flush(force=True)
        elif self._assistant_status:
            await self._set_status(f"is {line[:1].lower()}{line[1:]}")
        elif stream.ts is None:
            text = "\n".join(f"• {item}" for item in self._progress[-8:])
            if self._placeholder_ts is None:
                await self._post_placeholder(f":hourglass_flowing_sand: Working on it…\n{text}")
            else:
                await self._update_placeholder(f":hourglass_flowing_sand: Working on it…\n{text}")

    async def _post_placeholder(self, text: str) -> None:
        try:
            response = await self._client.chat_postMessage(
                channel=self._channel, thread_ts=self._thread_ts, text=self._clean(text)
            )
        except SlackApiError as exc:
            log.warning("slack.placeholder_failed", error=slack_error(exc))
            return
        self._placeholder_ts = str(response["ts"])

    async def _update_placeholder(self, text: str) -> None:
        if self._placeholder_ts is None:
            return
        try:
            await self._client.chat_update(channel=self._channel, ts=self._placeholder_ts, text=self._clean(text))
        except SlackApiError as exc:
            log.info("slack.progress_update_failed", error=slack_error(exc))
        self._last_update = self._clock()

    # -- streaming --------------------------------------------------------------------------------

    async def _on_text(self, text: str) -> None:
        stream = self._stream
        stream.full.append(text)
        if stream.capped:
            return
        if stream.taken + len(text) > INLINE_LIMIT:
            stream.capped = True  # the rest goes into the attached file at the end
            self._release(self._filter.finish())
            return
        stream.taken += len(text)
        self._filter.add(text)  # filtered when it is about to be sent, not once per token
        first = stream.ts is None and stream.available
        await self._flush(force=first)

    def _release(self, text: str) -> None:
        """Queue filtered ``text`` for the message."""
        stream = self._stream
        stream.pending += text
        stream.released.append(text)
        if self._filter.diverged:
            # Filtering the longer text changed what was already shown: stop appending, rewrite it whole.
            stream.available = False

    async def _flush(self, *, force: bool = False) -> None:
        stream = self._stream
        if self._filter.diverged:
            return  # nothing more is shown until the whole answer is rewritten at the end
        now = self._clock()
        if stream.available and stream.ts is not None and not self._may_append(now):
            return  # other answers share the workspace's appends, or Slack asked to wait: batch more
        due = now - stream.last_flush >= self._flush_interval
        if not (force or due or len(stream.pending) + self._filter.waiting >= _APPEND_BATCH):
            return
        if not stream.available and now - self._last_update < self._update_interval():
            return
        self._release(self._filter.ready())
        await self._send_pending()

    async def _send_pending(self) -> None:
        """Send what waits: start the stream, append to it, or (without streaming) edit the answer so far."""
        stream = self._stream
        if not stream.available:
            stream.chunks.clear()
        if (not stream.pending.strip() and not stream.chunks) or self._filter.diverged:
            return
        if stream.available and stream.ts is None:
            await self._start_stream()
        elif stream.available:
            await self._append()
        elif stream.pending.strip() and self._clock() - self._last_update >= self._update_interval():
            # No streaming: show the answer so far by editing one message.
            await self._update_answer_so_far()

    def _may_append(self, now: float) -> bool:
        """Whether this answer's share of the workspace's appends allows one now."""
        budget = self._budget
        spacing = budget.spacing("chat.appendStream")
        return now - self._stream.last_flush >= spacing and budget.blocked_for("chat.appendStream") <= 0

    def _update_interval(self) -> float:
        return max(_UPDATE_INTERVAL, self._budget.spacing("chat.update"))

    async def _start_stream(self) -> None:
        stream = self._stream
        if self._budget.blocked_for("chat.startStream") > 0:
            # Slack rate-limited starting streams in this workspace: this answer goes without one.
            log.info("slack.stream_unavailable", error="ratelimited")
            stream.available = False
            stream.chunks.clear()
            return
        team, user = self._recipient
        cards = self._budget.task_chunks
        try:
            response = await self._client.chat_startStream(
                channel=self._channel,
                thread_ts=self._thread_ts,
                markdown_text=stream.pending or None,
                recipient_team_id=team,
                recipient_user_id=user,
                chunks=list(stream.chunks) or None,
                task_display_mode=TASK_DISPLAY_MODE if cards else None,
            )
        except SlackApiError as exc:
            error = slack_error(exc)
            if cards and error in _CHUNKS_REFUSED:
                self._refuse_task_cards(error)
                if stream.pending.strip():
                    await self._start_stream()  # the text alone, as before task cards
                return
            wait = _retry_after(exc)
            if wait is not None:
                self._budget.rate_limited("chat.startStream", wait)
            log.info("slack.stream_unavailable", error=error)
            stream.available = False
            stream.chunks.clear()
            return
        stream.ts = str(response["ts"])
        stream.live = True
        self._budget.join(self)
        self._sent()
        await self._remove_placeholder()

    def _sent(self) -> None:
        stream = self._stream
        stream.shown += len(stream.pending)
        stream.pending = ""
        stream.chunks.clear()
        stream.last_flush = self._clock()

    async def _append(self) -> None:
        stream = self._stream
        if stream.ts is None:
            return
        try:
            await self._client.chat_appendStream(
                channel=self._channel,
                ts=stream.ts,
                markdown_text=stream.pending or None,
                chunks=list(stream.chunks) or None,
            )
        except SlackApiError as exc:
            await self._append_failed(exc)
            return
        self._sent()

    async def _append_failed(self, exc: SlackApiError) -> None:
        """Wait out a rate limit and go on; refused task cards go as text; anything else ends the stream."""
        stream = self._stream
        error = slack_error(exc)
        wait = _retry_after(exc)
        if wait is not None:
            # Past the SDK's own retries: every answer in the workspace holds its appends, the text waits.
            log.info("slack.stream_paced", retry_after=wait, answers=self._budget.answers)
            self._budget.rate_limited("chat.appendStream", wait)
            return
        if stream.chunks and error in _CHUNKS_REFUSED:
            self._refuse_task_cards(error)
            if stream.pending.strip():
                await self._append()
            return
        log.info("slack.stream_ended", error=error)
        stream.available = False  # finish the streamed message with chat.update instead
        stream.chunks.clear()
        if error in _NOT_STREAMING:
            stream.live = False
        else:
            await self._stop_stream()  # a message must never be left streaming

    async def _stop_stream(self, **final: Any) -> bool:
        """``chat.stopStream`` (with ``final`` content), waiting out rate limits; whether Slack took it.

        However it goes, the message is no longer streaming afterwards unless Slack kept rate-limiting
        past ``answer_patience`` (then Slack ends the stream itself after a few idle minutes).
        """
        stream = self._stream
        if stream.ts is None or not stream.live:
            return False
        give_up = self._clock() + self._answer_patience
        while True:
            try:
                await self._client.chat_stopStream(channel=self._channel, ts=stream.ts, **final)
            except SlackApiError as exc:
                error = slack_error(exc)
                wait = _retry_after(exc)
                if wait is not None and self._clock() + wait <= give_up:
                    log.info("slack.stream_stop_rate_limited", retry_after=wait)
                    self._budget.rate_limited("chat.stopStream", wait)
                    await self._sleep(wait)
                    continue
                log.info("slack.stream_stop_failed", error=error)
                if error in _NOT_STREAMING:
                    stream.live = False
                return False
            stream.live = False
            return True

    async def _reset_answer(self, text: str) -> None:
        """Show exactly ``text`` as the answer so far (the rest was withdrawn), never a second answer.

        Streamed text cannot be taken back, so a live stream is stopped and the message is edited in place
        from then on, as when streaming is unavailable.
        """
        stream = self._stream
        stream.full = [text] if text else []
        stream.capped = len(text) > INLINE_LIMIT
        stream.taken = min(len(text), INLINE_LIMIT)
        # The withdrawn text leaves the filter too: what is kept is filtered afresh, and the rest follows it.
        self._filter = self._clean.stream()
        self._filter.add(text[:INLINE_LIMIT])
        kept = self._filter.finish()
        stream.released = [kept] if kept else []
        stream.pending = ""
        stream.shown = len(kept)
        if stream.ts is not None and stream.available:
            stream.available = False
            stream.chunks.clear()
            await self._stop_stream()
        if stream.ts is not None or (not stream.available and self._placeholder_ts is not None):
            await self._update_answer_so_far(tail=_RESTARTING)

    async def _update_answer_so_far(self, *, tail: str = " …") -> None:
        self._budget.join(self)  # edits count against the workspace's chat.update minute
        target = self._stream.ts or self._placeholder_ts
        text = "".join(self._stream.released)
        preview: dict[str, Any] = {
            "text": text[:_FALLBACK_PREVIEW] or tail.strip(),
            "blocks": [{"type": "markdown", "text": text[:INLINE_LIMIT] + tail}],
        }
        try:
            if target is None:
                # No placeholder to edit (a slash command's thread): the answer so far becomes the message.
                response = await self._client.chat_postMessage(
                    channel=self._channel, thread_ts=self._thread_ts, **preview
                )
                self._placeholder_ts = str(response["ts"])
            else:
                await self._client.chat_update(channel=self._channel, ts=target, **preview)
        except SlackApiError as exc:
            log.info("slack.progress_update_failed", error=slack_error(exc))
        self._last_update = self._clock()

    async def _remove_placeholder(self) -> None:
        if self._placeholder_ts is None:
            return
        try:
            await self._client.chat_delete(channel=self._channel, ts=self._placeholder_ts)
        except SlackApiError as exc:
            log.info("slack.placeholder_not_removed", error=slack_error(exc))
        self._placeholder_ts = None

    async def _finish_stream(self, tail: str, *, blocks: list[dict[str, Any]], request_id: str) -> None:
        """End the streamed message: the rest of the text, then ``blocks`` (the footer) under it."""
        stream = self._stream
        if not stream.capped:
            self._release(self._filter.finish())
        rest = stream.pending + (("\n\n" + self._clean(tail)) if tail else "")
        stream.pending = ""
        chunks, stream.chunks = list(stream.chunks), []
        if stream.available and not self._filter.diverged:
            final: dict[str, Any] = {"markdown_text": rest or None, "blocks": self._clean.blocks(blocks) or None}
            if chunks:
                final["chunks"] = chunks
            if await self._stop_stream(**final):
                return
        # What was streamed must be replaced, or the stream failed: end it as it stands, then rewrite it below.
        await self._stop_stream()
        # The stream expired (or its text had to be rewritten): write the whole message in place.
        # Filtered before it is cut, so no cut can split a secret or a link out of the filter's sight.
        text = self._clean("".join(stream.full)[: stream.taken]) + (("\n\n" + tail) if tail else "")
        self._placeholder_ts = stream.ts
        await self._final(
            text[:_FALLBACK_PREVIEW], [{"type": "markdown", "text": text}, *blocks], request_id=request_id
        )

    async def _succeed(self, event: TaskSucceeded) -> None:
        request_id = event.task.request_id
        answer = render_answer(_filtered(event.result, self._clean), request_id)
        if self._stream.ts is None:
            await self._final(answer.text, answer.blocks, request_id=request_id)
        else:
            tail = ""
            if answer.attachment is not None:
                tail = f"_…the full answer is attached as `{attachment_name(request_id)}`._"
            await self._finish_stream(
                tail, blocks=[footer(_filtered(event.result, self._clean), request_id)], request_id=request_id
            )
        if answer.attachment is not None:
            await self._attach(answer.attachment, request_id)

    # -- whole messages ---------------------------------------------------------------------------

    async def _final(self, text: str, blocks: list[dict[str, Any]], *, request_id: str) -> None:
        """Post the final message; a final answer outlives Slack's rate limits and formatting complaints.

        Rate limited past the SDK's own retries, it waits as Slack's ``Retry-After`` says, for up to
        ``answer_patience`` seconds; rejected as formatted, it is sent as plain text; if the thread still
        cannot take it, the requester gets it privately (ephemeral, then a DM) rather than not at all.
        """
        plain = _plain_text(text, blocks)
        try:
            await self._send_patiently(text=text, blocks=blocks)
        except SlackApiError as exc:
            error = slack_error(exc)
            log.warning("slack.answer_rejected", error=error)
            if error == "ratelimited":
                await self._tell_privately(plain, request_id, why="Slack is rate-limiting this thread")
                return
        else:
            return
        try:
            await self._send_patiently(text=f"{plain}\n\nRequest ID: `{request_id}`", blocks=None)
        except SlackApiError as again:
            log.warning("slack.plain_answer_rejected", error=slack_error(again))
            await self._tell_privately(plain, request_id, why="Slack would not take it in the thread")

    async def _send_patiently(self, *, text: str, blocks: list[dict[str, Any]] | None) -> None:
        give_up = self._clock() + self._answer_patience
        while True:
            try:
                await self._send(text=text, blocks=blocks)
            except SlackApiError as exc:
                wait = _retry_after(exc)
                if wait is None or self._clock() + wait > give_up:
                    raise
                log.info("slack.answer_rate_limited", retry_after=wait)
                await self._sleep(wait)
            else:
                return

    async def _tell_privately(self, plain: str, request_id: str, *, why: str) -> None:
        text = self._clean(
            f"I couldn't post my answer in the thread ({why}), so here it is:\n\n{plain}\n\nRequest ID: `{request_id}`"
        )
        _, user = self._recipient
        try:
            await self._client.chat_postEphemeral(
                channel=self._channel, user=user, thread_ts=self._thread_ts, text=text
            )
        except SlackApiError as exc:
            log.warning("slack.private_answer_failed", surface="ephemeral", error=slack_error(exc))
        else:
            return
        try:
            await self._client.chat_postMessage(channel=user, text=text)
        except SlackApiError as exc:
            log.error("slack.answer_lost", error=slack_error(exc))  # noqa: TRY400 - no tracebacks in logs

    async def _send(self, *, text: str, blocks: list[dict[str, Any]] | None) -> None:
        text, blocks = self._clean(text), self._clean.blocks(blocks) if blocks else None
        if self._placeholder_ts is not None:
            try:
                await self._client.chat_update(
                    channel=self._channel, ts=self._placeholder_ts, text=text, blocks=blocks or []
                )
            except SlackApiError as exc:
                if slack_error(exc) not in {
                    "message_not_found",
                    "cant_update_message",
                    "edit_window_closed",
                    "streaming_state_conflict",  # a stream Slack would not stop: the answer goes below it
                }:
                    raise
                self._placeholder_ts = None
            else:
                return
        await self._client.chat_postMessage(channel=self._channel, thread_ts=self._thread_ts, text=text, blocks=blocks)

    async def _attach(self, content: str, request_id: str) -> None:
        try:
            await self._client.files_upload_v2(
                channel=self._channel,
                thread_ts=self._thread_ts,
                content=self._clean(content),
                filename=attachment_name(request_id),
                title=f"Full answer ({request_id})",
            )
        except SlackApiError as exc:
            log.warning("slack.attachment_failed", error=slack_error(exc))
            await self._client.chat_postMessage(
                channel=self._channel,
                thread_ts=self._thread_ts,
                text=f"I couldn't attach the full answer ({slack_error(exc)}). Request ID: `{request_id}`",
            )


def _tool_key(tool: str, source: str) -> str:
    return f"{tool}\x00{source}"


def _plain_text(text: str, blocks: list[dict[str, Any]]) -> str:
    """The message as plain text: its first block's text (the answer), else the fallback text, bounded."""
    plain: object = blocks[0].get("text", text) if blocks else text
    if isinstance(plain, dict):
        plain = plain.get("text", text)
    plain = plain if isinstance(plain, str) else text
    return plain[:_PLAIN_LIMIT] + "…" if len(plain) > _PLAIN_LIMIT else plain


def _retry_after(exc: SlackApiError) -> float | None:
    """Seconds Slack asked us to wait for a ``ratelimited`` answer (``None`` for any other error)."""
    if slack_error(exc) != "ratelimited":
        return None
    headers = getattr(exc.response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(_DEFAULT_RETRY_AFTER, float(value[0] if isinstance(value, list) else value))
            except (TypeError, ValueError):
                break
    return _DEFAULT_RETRY_AFTER


class PrivateDelivery:
    """Delivers the result privately through a slash command's ``response_url``."""

    def __init__(self, respond: AsyncRespond, *, clean: OutputFilter, region: str) -> None:
        self._respond = respond
        self._clean = clean
        self._region = region

    async def emit(self, event: TaskEvent) -> None:
        """Send the final result (progress is not worth one of the five posts a response_url allows)."""
        if isinstance(event, TaskSucceeded):
            answer = render_answer(_filtered(event.result, self._clean), event.task.request_id, can_attach=False)
            text, blocks = self._clean.message(answer.text, answer.blocks)
            await self._respond(text=text, blocks=blocks, response_type="ephemeral")
        elif isinstance(event, TaskFailed):
            text, blocks = self._clean.message(*failure_blocks(event.error, event.task.request_id, region=self._region))
            await self._respond(text=text, blocks=blocks, response_type="ephemeral")


def _filtered(result: TaskResult, clean: OutputFilter) -> TaskResult:
    """``result`` with the model's words (answer, routing reason) filtered before anything cuts them."""
    return replace(result, text=clean(result.text), routing_reason=clean(result.routing_reason))
