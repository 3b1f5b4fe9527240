"""An in-memory Slack for the delivery pieces: :class:`FakeSlackPort` implements the port, records every call.

Like httpx's ``MockTransport``, it is a real implementation of the port rather than a patch: messages are
kept per ``ts``, a streaming message refuses ``chat.update`` (``streaming_state_conflict``) until it is
stopped, and a stopped or expired one refuses appends (``message_not_in_streaming_state``), as Slack does.
Scripted refusals (:meth:`FakeSlackPort.refuse`) make Slack say no to the next calls of a method.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.delivery.port import SlackOutcome

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.delivery.port import Block

__all__ = ["FakeSlackPort", "PortCall", "PortMessage"]


@dataclass(slots=True)
class PortCall:
    """One call of the port: the operation, its arguments, and what the fake answered."""

    method: str
    args: dict[str, Any]
    outcome: SlackOutcome


@dataclass(slots=True)
class PortMessage:
    """A message as Slack holds it."""

    channel: str
    ts: str
    text: str = ""
    blocks: list[Block] = field(default_factory=list)
    chunks: list[Block] = field(default_factory=list)
    streaming: bool = False


class FakeSlackPort:
    """:class:`~bot.delivery.port.SlackPort` in memory, for tests that need no Slack at all."""

    def __init__(self) -> None:
        self.calls: list[PortCall] = []
        self.messages: dict[str, PortMessage] = {}
        self.deleted: list[str] = []
        self._ts = itertools.count(1)
        self._refusals: dict[str, deque[SlackOutcome]] = defaultdict(deque)

    def refuse(self, method: str, error: str, *, times: int = 1, retry_after: float | None = None) -> None:
        """Make the next ``times`` calls of ``method`` (``"append_stream"``…) answer ``error``."""
        self._refusals[method].extend([SlackOutcome.refused(error, retry_after=retry_after)] * times)

    def expire(self, ts: str) -> None:
        """Slack ends the stream of ``ts`` on its own (it sat idle too long)."""
        self.messages[ts].streaming = False

    def methods(self) -> list[str]:
        """The operations called, in order (refused ones too)."""
        return [call.method for call in self.calls]

    def calls_to(self, method: str) -> list[PortCall]:
        """The calls of ``method``, in order."""
        return [call for call in self.calls if call.method == method]

    def _answer(self, method: str, args: dict[str, Any], outcome: SlackOutcome | None = None) -> SlackOutcome:
        scripted = self._refusals[method]
        if scripted:
            outcome = scripted.popleft()
        elif outcome is None:
            outcome = SlackOutcome.done()
        self.calls.append(PortCall(method, args, outcome))
        return outcome

    def _new(self, channel: str, text: str, blocks: Sequence[Block] | None, *, streaming: bool = False) -> str:
        ts = f"1700000100.{next(self._ts):06d}"
        self.messages[ts] = PortMessage(channel, ts, text, list(blocks or ()), streaming=streaming)
        return ts

    def _check(self, method: str, args: dict[str, Any]) -> SlackOutcome | None:
        """A refusal scripted for ``method``, recorded, or ``None`` to go on."""
        if self._refusals[method]:
            return self._answer(method, args)
        return None

    async def post_message(
        self, *, channel: str, text: str, thread_ts: str | None = None, blocks: Sequence[Block] | None = None
    ) -> SlackOutcome:
        """A new message."""
        args = {"channel": channel, "text": text, "thread_ts": thread_ts, "blocks": blocks}
        return self._check("post_message", args) or self._answer(
            "post_message", args, SlackOutcome.done(self._new(channel, text, blocks))
        )

    async def update_message(
        self, *, channel: str, ts: str, text: str, blocks: Sequence[Block] | None = None
    ) -> SlackOutcome:
        """Replace a message's text (and blocks, when given); a streaming message cannot be edited."""
        args = {"channel": channel, "ts": ts, "text": text, "blocks": blocks}
        refused = self._check("update_message", args)
        if refused is not None:
            return refused
        message = self.messages.get(ts)
        if message is None:
            return self._answer("update_message", args, SlackOutcome.refused("message_not_found"))
        if message.streaming:
            return self._answer("update_message", args, SlackOutcome.refused("streaming_state_conflict"))
        message.text = text
        if blocks is not None:
            message.blocks = list(blocks)
        return self._answer("update_message", args, SlackOutcome.done(ts))

    async def delete_message(self, *, channel: str, ts: str) -> SlackOutcome:
        """Remove a message."""
        args = {"channel": channel, "ts": ts}
        refused = self._check("delete_message", args)
        if refused is not None:
            return refused
        if self.messages.pop(ts, None) is None:
            return self._answer("delete_message", args, SlackOutcome.refused("message_not_found"))
        self.deleted.append(ts)
        return self._answer("delete_message", args)

    async def post_ephemeral(self, *, channel: str, user: str, thread_ts: str, text: str) -> SlackOutcome:
        """A message only ``user`` sees (kept only in :attr:`calls`)."""
        return self._answer("post_ephemeral", {"channel": channel, "user": user, "thread_ts": thread_ts, "text": text})

    async def set_status(self, *, channel: str, thread_ts: str, status: str) -> SlackOutcome:
        """The assistant thread's status line (kept only in :attr:`calls`)."""
        return self._answer("set_status", {"channel": channel, "thread_ts": thread_ts, "status": status})

    async def start_stream(
        self,
        *,
        channel: str,
        thread_ts: str,
        markdown_text: str | None,
        recipient_team_id: str,
        recipient_user_id: str,
        chunks: Sequence[Block] | None = None,
        task_display_mode: str | None = None,
    ) -> SlackOutcome:
        """A new streaming message."""
        args = {
            "channel": channel,
            "thread_ts": thread_ts,
            "markdown_text": markdown_text,
            "recipient": (recipient_team_id, recipient_user_id),
            "chunks": chunks,
            "task_display_mode": task_display_mode,
        }
        refused = self._check("start_stream", args)
        if refused is not None:
            return refused
        ts = self._new(channel, markdown_text or "", None, streaming=True)
        self.messages[ts].chunks.extend(chunks or ())
        return self._answer("start_stream", args, SlackOutcome.done(ts))

    async def append_stream(
        self, *, channel: str, ts: str, markdown_text: str | None, chunks: Sequence[Block] | None = None
    ) -> SlackOutcome:
        """More text for a streaming message."""
        args = {"channel": channel, "ts": ts, "markdown_text": markdown_text, "chunks": chunks}
        refused = self._check("append_stream", args)
        if refused is not None:
            return refused
        message = self.messages.get(ts)
        if message is None or not message.streaming:
            return self._answer("append_stream", args, SlackOutcome.refused("message_not_in_streaming_state"))
        message.text += markdown_text or ""
        message.chunks.extend(chunks or ())
        return self._answer("append_stream", args, SlackOutcome.done(ts))

    async def stop_stream(
        self,
        *,
        channel: str,
        ts: str,
        markdown_text: str | None = None,
        blocks: Sequence[Block] | None = None,
        chunks: Sequence[Block] | None = None,
    ) -> SlackOutcome:
        """End a stream with its last text, blocks and chunks."""
        args = {"channel": channel, "ts": ts, "markdown_text": markdown_text, "blocks": blocks, "chunks": chunks}
        refused = self._check("stop_stream", args)
        if refused is not None:
            return refused
        message = self.messages.get(ts)
        if message is None or not message.streaming:
            return self._answer("stop_stream", args, SlackOutcome.refused("message_not_in_streaming_state"))
        message.streaming = False
        message.text += markdown_text or ""
        message.blocks = list(blocks or ())
        message.chunks.extend(chunks or ())
        return self._answer("stop_stream", args, SlackOutcome.done(ts))

    async def upload(self, *, channel: str, thread_ts: str, content: str, filename: str, title: str) -> SlackOutcome:
        """A file in the thread (kept only in :attr:`calls`)."""
        args = {"channel": channel, "thread_ts": thread_ts, "content": content, "filename": filename, "title": title}
        return self._answer("upload", args)
