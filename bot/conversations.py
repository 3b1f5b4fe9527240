"""Conversations: ``@orch`` mentions, direct messages, and the assistant pane.

Events are acknowledged by Bolt before these run. Each task is answered in a thread: under the mention,
or in the thread the bot was mentioned in, with that thread's earlier messages as context. Refusals
are private in channels (ephemeral) and plain replies in DMs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from slack_sdk.errors import SlackApiError

from agents.errors import AdmissionDenied, InvalidTask, StoreUnavailable
from agents.task import HelpRequest, Origin
from bot.markup import strip_leading_mention, to_plain_text
from bot.messages import failure_blocks, usage_blocks
from bot.slack_client import slack_error
from bot.targets import Target, submit
from bot.threads import shared_files

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp, AsyncBoltContext
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.orchestrator import Orchestrator

__all__ = ["register_conversations"]

log = structlog.get_logger(__name__)

SUGGESTED_PROMPTS = (
    {"title": "What can you do?", "message": "help"},
    {
        "title": "Explain an error",
        "message": "What does an ALB 502 Bad Gateway usually mean, and how do I debug it?",
    },
    {
        "title": "Draft a status update",
        "message": "Draft a short status update for a degraded checkout service.",
    },
)


class _Conversations:
    """Turns a message that addresses the bot into a task answered in its thread."""

    def __init__(self, orchestrator: Orchestrator, *, region: str) -> None:
        self._orchestrator = orchestrator
        self._region = region

    async def handle(
        self,
        event: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        *,
        is_dm: bool,
        text: str,
    ) -> None:
        orchestrator = self._orchestrator
        request_id: str = context["request_id"]
        channel: str = event["channel"]
        user: str = event.get("user") or "unknown"
        in_thread: str | None = event.get("thread_ts")
        thread_ts: str = in_thread or event["ts"]
        origin = Origin(
            workspace_id=context.team_id or event.get("team") or "unknown",
            user_id=user,
            channel_id=channel,
            thread_id=thread_ts,
            surface="dm" if is_dm else "mention",
        )

        async def tell(text: str, blocks: list[dict[str, Any]]) -> None:
            if is_dm:
                await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)
            else:
                await client.chat_postEphemeral(
                    channel=channel, user=user, thread_ts=thread_ts, text=text, blocks=blocks
                )

        try:
            prepared = orchestrator.prepare(to_plain_text(text), request_id=request_id, origin=origin)
            if isinstance(prepared, HelpRequest):
                await tell(
                    *usage_blocks(
                        orchestrator.registry,
                        rate_limit=orchestrator.admission.rate_limit,
                        max_per_user=orchestrator.admission.max_per_user,
                    )
                )
                return
            slot = await orchestrator.admit(prepared)
            target = Target(
                kind="dm" if is_dm else "mention",
                channel=channel,
                thread_ts=thread_ts,
                message_ts=event["ts"],
                asked_in_thread=bool(in_thread),
            )
            files = shared_files([event])
            if files:
                prepared = prepared.model_copy(update={"files": files})
            await submit(
                orchestrator, client, prepared, target, slot, region=self._region, bot_user_id=context.bot_user_id
            )
        except (InvalidTask, AdmissionDenied) as error:
            log.info("task.refused", error_code=error.code)
            await tell(*failure_blocks(error, request_id, region=self._region))
            return
        except StoreUnavailable as error:
            log.warning("task.not_recorded", error_code=error.code, store=error.store, reason=error.reason)
            await tell(*failure_blocks(error, request_id, region=self._region))
            return
        log.info("task.accepted", surface=origin.surface, agent=prepared.agent, in_thread=bool(in_thread))


def register_conversations(app: AsyncApp, orchestrator: Orchestrator, *, region: str) -> None:
    """Attach the mention, DM and assistant listeners to ``app``."""
    conversations = _Conversations(orchestrator, region=region)

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        text = strip_leading_mention(event.get("text", ""))
        await conversations.handle(event, context, client, is_dm=False, text=text)

    @app.event("message")
    async def on_message(event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        # Only a person's new message in a DM with the bot is a task; edits, joins and bots are not.
        if event.get("channel_type") != "im" or event.get("subtype") not in {None, "file_share"} or event.get("bot_id"):
            return
        await conversations.handle(event, context, client, is_dm=True, text=event.get("text", ""))

    @app.event("assistant_thread_started")
    async def on_assistant_thread_started(event: dict[str, Any], client: AsyncWebClient) -> None:
        thread = event.get("assistant_thread", {})
        channel, thread_ts = thread.get("channel_id"), thread.get("thread_ts")
        if not channel or not thread_ts:
            return
        try:
            await client.assistant_threads_setSuggestedPrompts(
                channel_id=channel,
                thread_ts=thread_ts,
                title="Try one of these",
                prompts=list(SUGGESTED_PROMPTS),
            )
        except SlackApiError as exc:
            log.info("slack.prompts_failed", error=slack_error(exc))
