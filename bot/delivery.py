"""Rendering a task's events into Slack: where the answer goes and what happens when Slack says no.

:class:`ThreadDelivery` works in a thread: a placeholder (or, in the assistant pane, a status) while the
agent works, replaced by the answer. :class:`PrivateDelivery` answers through a slash command's
``response_url`` when the bot cannot post in the channel. Slack failures are translated here: a
rejected rich message is retried as plain text, so an answer is not lost to a formatting problem.

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
    ToolStarted,
)
from bot.messages import failure_blocks
from bot.render import INLINE_LIMIT, attachment_name, footer, render_answer, working_text
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


@dataclass(slots=True)
class _StreamState:
    """Where the streamed answer stands: its message, what is shown, what waits to be sent."""

    ts: str | None = None
    available: bool = True
    pending: str = ""  # filtered, waiting to be sent
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
    ``flush_interval``. If streaming is unavailable the placeholder is updated instead; if a stream
    expires mid-answer, the streamed message is finished with ``chat.update``. The final message waits
    out Slack's rate limits (``answer_patience``), then goes to the requester privately. Everything sent
    passes ``clean``.
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

    async def emit(self, event: TaskEvent) -> None:
        """Show ``event`` in the thread."""
        if isinstance(event, TaskStarted) and self._assistant_status:
            await self._set_status("is working on it…")
        elif isinstance(event, AgentRouted) and self._placeholder and not self._assistant_status:
            await self._post_placeholder(working_text(event.routing.agent.name, event.task.request_id))
        elif isinstance(event, ToolStarted):
            self._release(self._filter.finish())  # the model's turn is over: nothing of it is held back
            await self._flush(force=True)
            await self._show_progress(event.progress)
        elif isinstance(event, AnswerDelta):
            await self._on_text(event.text)
        elif isinstance(event, AnswerReset):
            await self._reset_answer(event.text)
        elif isinstance(event, TaskSucceeded):
            await self._succeed(event)
        elif isinstance(event, TaskFailed):
            text, blocks = failure_blocks(event.error, event.task.request_id, region=self._region)
            if self._stream.ts is not None:
                await self._finish_stream(text, blocks=[], request_id=event.task.request_id)
            else:
                await self._final(text, blocks, request_id=event.task.request_id)

    # -- progress ---------------------------------------------------------------------------------

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
        due = now - stream.last_flush >= self._flush_interval
        if not (force or due or len(stream.pending) + self._filter.waiting >= _APPEND_BATCH):
            return
        if not stream.available and now - self._last_update < _UPDATE_INTERVAL:
            return
        self._release(self._filter.ready())
        if not stream.pending.strip() or self._filter.diverged:
            return
        if stream.available and stream.ts is None:
            await self._start_stream()
        elif stream.available:
            await self._append()
        elif self._clock() - self._last_update >= _UPDATE_INTERVAL:
            # No streaming: show the answer so far by editing one message.
            await self._update_answer_so_far()

    async def _start_stream(self) -> None:
        stream = self._stream
        team, user = self._recipient
        try:
            response = await self._client.chat_startStream(
                channel=self._channel,
                thread_ts=self._thread_ts,
                markdown_text=stream.pending,
                recipient_team_id=team,
                recipient_user_id=user,
            )
        except SlackApiError as exc:
            log.info("slack.stream_unavailable", error=slack_error(exc))
            stream.available = False
            return
        stream.ts = str(response["ts"])
        stream.shown += len(stream.pending)
        stream.pending = ""
        stream.last_flush = self._clock()
        await self._remove_placeholder()

    async def _append(self) -> None:
        stream = self._stream
        if stream.ts is None:
            return
        try:
            await self._client.chat_appendStream(channel=self._channel, ts=stream.ts, markdown_text=stream.pending)
        except SlackApiError as exc:
            log.info("slack.stream_ended", error=slack_error(exc))
            stream.available = False  # finish the streamed message with chat.update instead
            return
        stream.shown += len(stream.pending)
        stream.pending = ""
        stream.last_flush = self._clock()

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
            try:
                await self._client.chat_stopStream(channel=self._channel, ts=stream.ts)
            except SlackApiError as exc:
                log.info("slack.stream_stop_failed", error=slack_error(exc))
        if stream.ts is not None or (not stream.available and self._placeholder_ts is not None):
            await self._update_answer_so_far(tail=_RESTARTING)

    async def _update_answer_so_far(self, *, tail: str = " …") -> None:
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
        if stream.available and stream.ts is not None:
            try:
                await self._client.chat_stopStream(
                    channel=self._channel,
                    ts=stream.ts,
                    markdown_text=rest or None,
                    blocks=self._clean.blocks(blocks) or None,
                )
            except SlackApiError as exc:
                log.info("slack.stream_stop_failed", error=slack_error(exc))
            else:
                return
        if self._filter.diverged and stream.ts is not None:
            # What was streamed must be replaced: end the stream as it stands, then rewrite it below.
            try:
                await self._client.chat_stopStream(channel=self._channel, ts=stream.ts)
            except SlackApiError as exc:
                log.info("slack.stream_stop_failed", error=slack_error(exc))
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
