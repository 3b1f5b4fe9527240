"""Messages and threads: posting, editing, deleting, ephemeral messages, and reading threads back.

Top-level posts start their own thread; a reply to a reply lands in the parent's thread, as in Slack. A
message still streaming cannot be edited (``streaming_state_conflict``): :mod:`bot.testing.slack.streams`
starts and ends that state.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from typing import TYPE_CHECKING, Any

from bot.testing.slack.api import APP_ID, SlackApi, SlackError
from bot.testing.slack.blocks import check_blocks

if TYPE_CHECKING:
    from bot.testing.slack.api import Handler, SlackCall

__all__ = ["MAX_MESSAGE_TEXT", "SlackMessages"]

MAX_MESSAGE_TEXT = 40000
MAX_REPLIES_LIMIT = 1000
_FIRST_TS_MICROS = 1_700_000_000_000_000
_TS_STEP_MICROS = 100
_MICROS = 1_000_000
_CURSOR_PREFIX = "offset:"


class SlackMessages(SlackApi):
    """``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``, ``chat.delete`` and ``conversations.*``."""

    def _setup(self) -> None:
        super()._setup()
        #: Channels the bot is not a member of: posting there answers ``not_in_channel``.
        self.not_in_channel: set[str] = set()
        #: ``(channel, thread_ts)`` -> messages, parent first; top-level posts start their own thread.
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._streaming: set[tuple[str, str]] = set()
        self._ts_micros = _FIRST_TS_MICROS

    def _methods(self) -> dict[str, Handler]:
        return {
            **super()._methods(),
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
        }

    def _injected(self, call: SlackCall, error: str) -> None:
        super()._injected(call, error)
        if error == "message_not_in_streaming_state":
            # Slack says so only of a stream that has ended: the injected answer ends it, as expiry would.
            self._streaming.discard((str(call.args.get("channel") or ""), str(call.args.get("ts") or "")))

    def messages_in_thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The thread's messages, parent first (an empty list for an unknown thread)."""
        return list(self.threads.get((channel, thread_ts), ()))

    def seed_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U0ANA",
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Store a human's message (e.g. the mention a test delivers) as history the bot may read."""
        ts = ts or self._next_ts()
        self._observe_ts(ts)
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "team": self.team_id,
        }
        self._store_message(channel, message, thread_ts)
        return message

    def _next_ts(self) -> str:
        self._ts_micros += _TS_STEP_MICROS
        seconds, micros = divmod(self._ts_micros, _MICROS)
        return f"{seconds}.{micros:06d}"

    def _observe_ts(self, ts: str) -> None:
        """Keep generated timestamps above any timestamp a test chose, so they never collide."""
        seconds, _, micros = ts.partition(".")
        with contextlib.suppress(ValueError):
            self._ts_micros = max(self._ts_micros, int(seconds) * _MICROS + int(micros.ljust(6, "0")[:6]))

    def _store_message(self, channel: str, message: dict[str, Any], thread_ts: str | None) -> None:
        ts = message["ts"]
        self._messages[channel, ts] = message
        if thread_ts:
            parent = self._messages.get((channel, thread_ts))
            if parent is not None and parent.get("thread_ts") not in {None, thread_ts}:
                thread_ts = parent["thread_ts"]  # replying to a reply lands in the parent's thread
        if not thread_ts or thread_ts == ts:
            self.threads[channel, ts] = [message]
            return
        message["thread_ts"] = thread_ts
        thread = self.threads.setdefault((channel, thread_ts), [])
        if thread and thread[0].get("ts") == thread_ts:
            head = thread[0]
            head["thread_ts"] = thread_ts
            head["reply_count"] = head.get("reply_count", 0) + 1
            head["latest_reply"] = ts
        thread.append(message)

    def _find_message(self, channel: str, ts: str) -> dict[str, Any]:
        message = self._messages.get((channel, ts))
        if message is None:
            thread = self.threads.get((channel, ts))
            if thread and thread[0].get("ts") == ts:
                return thread[0]
            raise SlackError("message_not_found")
        return message

    def _bot_message(self, ts: str, text: str) -> dict[str, Any]:
        return {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "team": self.team_id,
            "text": text[:MAX_MESSAGE_TEXT],
            "ts": ts,
        }

    def _require_channel(self, args: dict[str, Any], key: str = "channel") -> str:
        channel = args.get(key)
        if not channel or not isinstance(channel, str):
            raise SlackError("channel_not_found")
        return channel

    def _require_member(self, channel: str) -> None:
        if channel in self.not_in_channel:
            raise SlackError("not_in_channel")

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        self._require_member(channel)
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            raise SlackError("no_text")
        check_blocks(args.get("blocks"), feedback_buttons=self.feedback_buttons)
        ts = self._next_ts()
        message = self._bot_message(ts, str(args.get("text") or ""))
        for key in ("blocks", "attachments", "metadata"):
            if args.get(key):
                message[key] = args[key]
        self._store_message(channel, message, args.get("thread_ts") or None)
        return {"ok": True, "channel": channel, "ts": ts, "message": dict(message)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        message = self._find_message(channel, str(args.get("ts") or ""))
        if message.get("bot_id") != self.bot_id:
            raise SlackError("cant_update_message")
        if (channel, message["ts"]) in self._streaming:
            # Slack's chat.update reference: "The message is currently streaming text and cannot be edited."
            raise SlackError("streaming_state_conflict")
        check_blocks(args.get("blocks"), feedback_buttons=self.feedback_buttons)
        if "text" in args:
            message["text"] = str(args["text"] or "")[:MAX_MESSAGE_TEXT]
        for key in ("blocks", "attachments", "metadata"):
            if key in args:
                message[key] = args[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "text": message["text"],
            "message": dict(message),
        }

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        self._require_member(channel)
        if not args.get("user"):
            raise SlackError("user_not_found")
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            raise SlackError("no_text")
        check_blocks(args.get("blocks"), feedback_buttons=self.feedback_buttons)
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        ts = str(args.get("ts") or "")
        message = self._find_message(channel, ts)
        if message.get("bot_id") != self.bot_id:
            raise SlackError("cant_delete_message")
        self._messages.pop((channel, ts), None)
        self._streaming.discard((channel, ts))
        key = (channel, str(message.get("thread_ts") or ts))
        thread = self.threads.get(key, [])
        if message in thread:
            thread.remove(message)
        if not thread:
            self.threads.pop(key, None)
        return {"ok": True, "channel": channel, "ts": ts}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        ts = str(args.get("ts") or "")
        thread = self.threads.get((channel, ts))
        if thread is None:
            message = self._messages.get((channel, ts))
            if message is not None and message.get("thread_ts"):
                thread = self.threads.get((channel, message["thread_ts"]))
        if thread is None:
            raise SlackError("thread_not_found")
        try:
            limit = min(max(int(args.get("limit") or MAX_REPLIES_LIMIT), 1), MAX_REPLIES_LIMIT)
        except (TypeError, ValueError):
            raise SlackError("invalid_limit") from None
        offset = _decode_cursor(args.get("cursor"))
        page = thread[offset : offset + limit]
        body: dict[str, Any] = {"ok": True, "messages": page, "has_more": offset + limit < len(thread)}
        if body["has_more"]:
            body["response_metadata"] = {"next_cursor": _encode_cursor(offset + limit)}
        return body

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._require_channel(args)
        is_im = channel.startswith("D")
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_channel": channel.startswith("C"),
                "is_group": channel.startswith("G"),
                "is_im": is_im,
                "is_private": not channel.startswith("C"),
                "is_archived": False,
                "is_member": channel not in self.not_in_channel,
            },
        }


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def _decode_cursor(cursor: object) -> int:
    if not cursor:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(str(cursor).encode()).decode()
        offset = int(decoded.removeprefix(_CURSOR_PREFIX)) if decoded.startswith(_CURSOR_PREFIX) else -1
    except (ValueError, binascii.Error):
        offset = -1
    if offset < 0:
        raise SlackError("invalid_cursor")
    return offset
