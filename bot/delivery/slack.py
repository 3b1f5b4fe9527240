"""The Slack port over slack_sdk's client: the one place delivery meets ``SlackApiError``.

Each call goes through the client as before (its retry handlers included); a ``SlackApiError`` becomes a
refused :class:`~bot.delivery.port.SlackOutcome` here, with Slack's error code
(:func:`bot.slack_client.slack_error`, which also copes with bodies that are not Slack's JSON) and, for
``ratelimited``, the ``Retry-After`` it carried. Any other exception is not Slack answering and propagates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.delivery.port import RATELIMITED, SlackOutcome
from bot.slack_client import slack_error

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence

    from slack_sdk.web.async_client import AsyncWebClient
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

    from bot.delivery.port import Block

__all__ = ["WebClientSlack", "outcome_of"]


def outcome_of(exc: SlackApiError) -> SlackOutcome:
    """The refusal ``exc`` stands for: Slack's error code and, when rate limited, its ``Retry-After``."""
    error = slack_error(exc)
    if error != RATELIMITED:
        return SlackOutcome.refused(error)
    headers = getattr(exc.response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return SlackOutcome.refused(error, retry_after=float(value[0] if isinstance(value, list) else value))
            except (TypeError, ValueError):
                break
    return SlackOutcome.refused(error)


async def _call(request: Awaitable[AsyncSlackResponse]) -> SlackOutcome:
    try:
        response = await request
    except SlackApiError as exc:
        return outcome_of(exc)
    ts = response.get("ts")
    return SlackOutcome.done(str(ts) if ts is not None else None)


def _list(blocks: Sequence[Block] | None) -> list[Block] | None:
    return None if blocks is None else list(blocks)


class WebClientSlack:
    """:class:`~bot.delivery.port.SlackPort` on an ``AsyncWebClient`` (None arguments are left out, as the SDK does)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def post_message(
        self, *, channel: str, text: str, thread_ts: str | None = None, blocks: Sequence[Block] | None = None
    ) -> SlackOutcome:
        """``chat.postMessage``."""
        return await _call(
            self._client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=_list(blocks))
        )

    async def update_message(
        self, *, channel: str, ts: str, text: str, blocks: Sequence[Block] | None = None
    ) -> SlackOutcome:
        """``chat.update``."""
        extra: dict[str, Any] = {} if blocks is None else {"blocks": list(blocks)}
        return await _call(self._client.chat_update(channel=channel, ts=ts, text=text, **extra))

    async def delete_message(self, *, channel: str, ts: str) -> SlackOutcome:
        """``chat.delete``."""
        return await _call(self._client.chat_delete(channel=channel, ts=ts))

    async def post_ephemeral(self, *, channel: str, user: str, thread_ts: str, text: str) -> SlackOutcome:
        """``chat.postEphemeral``."""
        return await _call(self._client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text))

    async def set_status(self, *, channel: str, thread_ts: str, status: str) -> SlackOutcome:
        """``assistant.threads.setStatus``."""
        return await _call(
            self._client.assistant_threads_setStatus(channel_id=channel, thread_ts=thread_ts, status=status)
        )

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
        """``chat.startStream``."""
        return await _call(
            self._client.chat_startStream(
                channel=channel,
                thread_ts=thread_ts,
                markdown_text=markdown_text,
                recipient_team_id=recipient_team_id,
                recipient_user_id=recipient_user_id,
                chunks=_list(chunks),
                task_display_mode=task_display_mode,
            )
        )

    async def append_stream(
        self, *, channel: str, ts: str, markdown_text: str | None, chunks: Sequence[Block] | None = None
    ) -> SlackOutcome:
        """``chat.appendStream``."""
        return await _call(
            self._client.chat_appendStream(channel=channel, ts=ts, markdown_text=markdown_text, chunks=_list(chunks))
        )

    async def stop_stream(
        self,
        *,
        channel: str,
        ts: str,
        markdown_text: str | None = None,
        blocks: Sequence[Block] | None = None,
        chunks: Sequence[Block] | None = None,
    ) -> SlackOutcome:
        """``chat.stopStream``."""
        extra: dict[str, Any] = {"markdown_text": markdown_text, "blocks": _list(blocks)}
        if chunks:
            extra["chunks"] = list(chunks)
        return await _call(self._client.chat_stopStream(channel=channel, ts=ts, **extra))

    async def upload(self, *, channel: str, thread_ts: str, content: str, filename: str, title: str) -> SlackOutcome:
        """``files_upload_v2``."""
        return await _call(
            self._client.files_upload_v2(
                channel=channel, thread_ts=thread_ts, content=content, filename=filename, title=title
            )
        )
