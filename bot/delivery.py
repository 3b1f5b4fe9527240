"""Rendering a task's events into Slack: where the answer goes and what happens when Slack says no.

:class:`ThreadDelivery` works in a thread: a placeholder (or, in the assistant pane, a status) while the
agent works, replaced by the answer. :class:`PrivateDelivery` answers through a slash command's
``response_url`` when the bot cannot post in the channel. Slack failures are translated here: a
rejected rich message is retried as plain text, so an answer is not lost to a formatting problem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from slack_sdk.errors import SlackApiError

from agents.events import AgentRouted, TaskFailed, TaskStarted, TaskSucceeded
from bot.messages import failure_blocks
from bot.render import attachment_name, render_answer, working_text

if TYPE_CHECKING:
    from slack_bolt.context.respond.async_respond import AsyncRespond
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.events import TaskEvent

__all__ = ["PrivateDelivery", "ThreadDelivery"]

log = structlog.get_logger(__name__)
_PLAIN_LIMIT = 3_500


def _slack_error(exc: SlackApiError) -> str:
    response = exc.response
    return str(response.get("error", "unknown")) if response is not None else "unknown"


class ThreadDelivery:
    """Delivers one task's events into ``channel``/``thread_ts``."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str,
        region: str,
        assistant_status: bool = False,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._region = region
        self._assistant_status = assistant_status
        self._placeholder_ts: str | None = None

    async def emit(self, event: TaskEvent) -> None:
        """Show ``event`` in the thread."""
        if isinstance(event, TaskStarted) and self._assistant_status:
            await self._set_status()
        elif isinstance(event, AgentRouted) and not self._assistant_status:
            await self._post_placeholder(working_text(event.routing.agent.name, event.task.request_id))
        elif isinstance(event, TaskSucceeded):
            answer = render_answer(event.result, event.task.request_id)
            await self._final(answer.text, answer.blocks, request_id=event.task.request_id)
            if answer.attachment is not None:
                await self._attach(answer.attachment, event.task.request_id)
        elif isinstance(event, TaskFailed):
            text, blocks = failure_blocks(event.error, event.task.request_id, region=self._region)
            await self._final(text, blocks, request_id=event.task.request_id)

    async def _set_status(self) -> None:
        try:
            await self._client.assistant_threads_setStatus(
                channel_id=self._channel,
                thread_ts=self._thread_ts,
                status="is working on it…",
                loading_messages=["Reading the question…", "Asking Bedrock…"],
            )
        except SlackApiError as exc:
            # Not an assistant thread after all: show progress as a message instead.
            log.info("slack.status_unavailable", error=_slack_error(exc))
            self._assistant_status = False

    async def _post_placeholder(self, text: str) -> None:
        try:
            response = await self._client.chat_postMessage(
                channel=self._channel, thread_ts=self._thread_ts, text=text
            )
        except SlackApiError as exc:
            log.warning("slack.placeholder_failed", error=_slack_error(exc))
            return
        self._placeholder_ts = str(response["ts"])

    async def _final(self, text: str, blocks: list[dict[str, Any]], *, request_id: str) -> None:
        try:
            await self._send(text=text, blocks=blocks)
        except SlackApiError as exc:
            log.warning("slack.answer_rejected", error=_slack_error(exc))
            plain = blocks[0].get("text", text)
            plain = plain if isinstance(plain, str) else plain.get("text", text)
            if len(plain) > _PLAIN_LIMIT:
                plain = plain[:_PLAIN_LIMIT] + "…"
            try:
                await self._send(text=f"{plain}\n\nRequest ID: `{request_id}`", blocks=None)
            except SlackApiError as again:
                log.error("slack.answer_lost", error=_slack_error(again))  # noqa: TRY400 - no tracebacks in logs

    async def _send(self, *, text: str, blocks: list[dict[str, Any]] | None) -> None:
        if self._placeholder_ts is not None:
            try:
                await self._client.chat_update(
                    channel=self._channel, ts=self._placeholder_ts, text=text, blocks=blocks or []
                )
            except SlackApiError as exc:
                if _slack_error(exc) not in {
                    "message_not_found",
                    "cant_update_message",
                    "edit_window_closed",
                }:
                    raise
                self._placeholder_ts = None
            else:
                return
        await self._client.chat_postMessage(
            channel=self._channel, thread_ts=self._thread_ts, text=text, blocks=blocks
        )

    async def _attach(self, content: str, request_id: str) -> None:
        try:
            await self._client.files_upload_v2(
                channel=self._channel,
                thread_ts=self._thread_ts,
                content=content,
                filename=attachment_name(request_id),
                title=f"Full answer ({request_id})",
            )
        except SlackApiError as exc:
            log.warning("slack.attachment_failed", error=_slack_error(exc))
            await self._client.chat_postMessage(
                channel=self._channel,
                thread_ts=self._thread_ts,
                text=f"I couldn't attach the full answer ({_slack_error(exc)}). Request ID: `{request_id}`",
            )


class PrivateDelivery:
    """Delivers the result privately through a slash command's ``response_url``."""

    def __init__(self, respond: AsyncRespond, *, region: str) -> None:
        self._respond = respond
        self._region = region

    async def emit(self, event: TaskEvent) -> None:
        """Send the final result (progress is not worth one of the five posts a response_url allows)."""
        if isinstance(event, TaskSucceeded):
            answer = render_answer(event.result, event.task.request_id, can_attach=False)
            await self._respond(text=answer.text, blocks=answer.blocks, response_type="ephemeral")
        elif isinstance(event, TaskFailed):
            text, blocks = failure_blocks(event.error, event.task.request_id, region=self._region)
            await self._respond(text=text, blocks=blocks, response_type="ephemeral")
