"""Streamed answers: ``chat.startStream``, ``chat.appendStream``, ``chat.stopStream`` and their ``chunks``.

A started message stays in Slack's streaming state until it is stopped or expires
(:meth:`SlackStreams.expire_stream`, as Slack ends an idle stream); appends then answer
``message_not_in_streaming_state``. Chunks are checked as Slack checks them, task chunks included
(``task_update``, ``task_display_mode``), unless :attr:`SlackStreams.task_chunks` says this workspace's
Slack is older and does not know them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.testing.slack.api import SlackError
from bot.testing.slack.blocks import check_blocks
from bot.testing.slack.messages import MAX_MESSAGE_TEXT, SlackMessages

if TYPE_CHECKING:
    from bot.testing.slack.api import Handler

__all__ = ["SlackStreams"]

MAX_STREAM_MARKDOWN_TEXT = 12000
#: Stream chunk types Slack accepts, and a task's statuses.
_CHUNK_TYPES = frozenset({"markdown_text", "task_update", "plan_update", "blocks"})
_TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
_TASK_DISPLAY_MODES = frozenset({"timeline", "plan"})


class SlackStreams(SlackMessages):
    """The streaming methods, and each streamed message's tasks."""

    def _setup(self) -> None:
        super()._setup()
        #: Whether this workspace's Slack takes task chunks (``task_update``, ``task_display_mode``); an older
        #: one answers ``invalid_arguments`` to them, as Slack does to an argument it does not know.
        self.task_chunks = True
        #: Each streamed message's tasks as last updated, by ``(channel, ts)`` then task id.
        self.tasks: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def _methods(self) -> dict[str, Handler]:
        return {
            **super()._methods(),
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
        }

    def is_streaming(self, channel: str, ts: str) -> bool:
        """Whether the message is still in Slack's streaming state (started, neither stopped nor expired)."""
        return (channel, ts) in self._streaming

    def expire_stream(self, channel: str, ts: str) -> None:
        """End a stream's streaming state, as Slack does after inactivity: appends then fail."""
        self._streaming.discard((channel, ts))

    def _chat_start_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        self._require_member(channel)
        thread_ts = args.get("thread_ts")
        if not thread_ts:
            raise SlackError("invalid_arguments", ["[ERROR] missing required field: thread_ts"])
        if not channel.startswith("D"):
            if not args.get("recipient_user_id"):
                raise SlackError("missing_recipient_user_id")
            if not args.get("recipient_team_id"):
                raise SlackError("missing_recipient_team_id")
        mode = args.get("task_display_mode")
        if mode is not None and (not self.task_chunks or mode not in _TASK_DISPLAY_MODES):
            raise SlackError("invalid_arguments", ["[ERROR] unknown or invalid field: task_display_mode"])
        text = self._stream_text(args)
        ts = self._next_ts()
        message = self._bot_message(ts, text)
        self._store_message(channel, message, str(thread_ts))
        self._streaming.add((channel, ts))
        self._track_tasks(channel, ts, args)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_append_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts, message = self._streaming_message(args)
        if "markdown_text" not in args and "chunks" not in args:
            raise SlackError("invalid_arguments", ["[ERROR] missing required field: markdown_text"])
        message["text"] = (message["text"] + self._stream_text(args))[:MAX_MESSAGE_TEXT]
        self._track_tasks(channel, ts, args)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_stop_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts, message = self._streaming_message(args)
        check_blocks(args.get("blocks"), feedback_buttons=self.feedback_buttons)
        message["text"] = (message["text"] + self._stream_text(args))[:MAX_MESSAGE_TEXT]
        self._track_tasks(channel, ts, args)
        for key in ("blocks", "metadata"):
            if args.get(key):
                message[key] = args[key]
        self._streaming.discard((channel, ts))
        return {"ok": True, "channel": channel, "ts": ts, "message": dict(message)}

    def _stream_text(self, args: dict[str, Any]) -> str:
        """The text a ``chat.*Stream`` call adds, after checking its ``chunks`` as Slack does."""
        chunks = args.get("chunks")
        if chunks is not None:
            _check_chunks(chunks, task_chunks=self.task_chunks)
        return _stream_text(args)

    def _track_tasks(self, channel: str, ts: str, args: dict[str, Any]) -> None:
        tasks = self.tasks.setdefault((channel, ts), {})
        for chunk in args.get("chunks") or ():
            if chunk.get("type") == "task_update":
                tasks[str(chunk["id"])] = {**tasks.get(str(chunk["id"]), {}), **chunk}

    def _streaming_message(self, args: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        channel = self._require_channel(args)
        ts = str(args.get("ts") or "")
        if (channel, ts) not in self._streaming:
            raise SlackError("message_not_in_streaming_state")
        return channel, ts, self._find_message(channel, ts)


def _stream_text(args: dict[str, Any]) -> str:
    """The text a ``chat.*Stream`` call adds: ``markdown_text`` plus any ``markdown_text`` chunks."""
    text = str(args.get("markdown_text") or "")
    if len(text) > MAX_STREAM_MARKDOWN_TEXT:
        raise SlackError("msg_too_long")
    chunks = args.get("chunks")
    if isinstance(chunks, list):
        text += "".join(
            str(c.get("text") or "") for c in chunks if isinstance(c, dict) and c.get("type") == "markdown_text"
        )
    return text


def _chunk_errors(chunk: object, pointer: str, *, task_chunks: bool) -> list[str]:
    if not isinstance(chunk, dict) or chunk.get("type") not in _CHUNK_TYPES:
        return [f"[ERROR] unknown chunk type [json-pointer:{pointer}/type]"]
    kind = chunk["type"]
    if kind == "markdown_text":
        text = chunk.get("text")
        if not isinstance(text, str) or len(text) > MAX_STREAM_MARKDOWN_TEXT:
            return [f"[ERROR] text must be at most {MAX_STREAM_MARKDOWN_TEXT} characters [json-pointer:{pointer}/text]"]
        return []
    if kind != "task_update":
        return []
    if not task_chunks:
        return [f"[ERROR] unsupported chunk type [json-pointer:{pointer}/type]"]
    return _task_chunk_errors(chunk, pointer)


def _task_chunk_errors(chunk: dict[str, Any], pointer: str) -> list[str]:
    errors = [
        f"[ERROR] missing required field: {name} [json-pointer:{pointer}]"
        for name in ("id", "title", "status")
        if not isinstance(chunk.get(name), str) or not chunk[name]
    ]
    if chunk.get("status") not in _TASK_STATUSES:
        errors.append(f"[ERROR] invalid status [json-pointer:{pointer}/status]")
    for i, source in enumerate(chunk.get("sources") or ()):
        ok = (
            isinstance(source, dict)
            and source.get("type") == "url"
            and str(source.get("url") or "").startswith(("https://", "http://"))
            and isinstance(source.get("text"), str)
        )
        if not ok:
            errors.append(f"[ERROR] invalid url source [json-pointer:{pointer}/sources/{i}]")
    return errors


def _check_chunks(chunks: object, *, task_chunks: bool) -> None:
    """Slack's ``invalid_chunks`` (``invalid_arguments`` for chunk types this workspace does not know)."""
    if not isinstance(chunks, list):
        raise SlackError("invalid_chunks", ["[ERROR] must be an array [json-pointer:/chunks]"])
    errors = [e for i, c in enumerate(chunks) for e in _chunk_errors(c, f"/chunks/{i}", task_chunks=task_chunks)]
    if any("unsupported chunk type" in e for e in errors):
        raise SlackError("invalid_arguments", errors)
    if errors:
        raise SlackError("invalid_chunks", errors)
