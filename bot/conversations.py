"""Conversations: ``@orch`` mentions, direct messages, and the assistant pane.

Events are acknowledged by Bolt before these run. Each task is answered in a thread: under the mention,
or in the thread the bot was mentioned in, with that thread's earlier messages as context. Refusals
are private in channels (ephemeral) and plain replies in DMs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from slack_sdk.errors import SlackApiError

from agents.dedupe import first_sighting_or_unknown
from agents.errors import PolicyDenied, StoreUnavailable
from agents.orchestrator import HelpWanted, Refused, RunbooksWanted, UsageWanted
from agents.task import Origin
from bot.markup import strip_leading_mention, to_plain_text
from bot.messages import failure_blocks, runbook_list_blocks, usage_blocks
from bot.outfilter import OutputFilter
from bot.slack_client import slack_error
from bot.targets import Target
from bot.threads import shared_files
from bot.usage import token_usage_blocks

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp, AsyncBoltContext
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.orchestrator import Orchestrator
    from bot.viewing import ViewingContext

__all__ = ["register_conversations", "suggest_prompts"]

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

    def __init__(self, orchestrator: Orchestrator, viewing: ViewingContext, *, region: str) -> None:
        self._orchestrator = orchestrator
        self._viewing = viewing
        self._clean = OutputFilter(orchestrator.redactor)
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
        # Overlapping subscriptions deliver one message under two event_ids; the client's id is the same.
        message_id = event.get("client_msg_id")
        key = f"{context.team_id}:msg:{message_id}"
        if message_id and not await first_sighting_or_unknown(orchestrator.deduper, key):
            log.info("event.duplicate_message_ignored", event_type=event.get("type"))
            return
        channel: str = event["channel"]
        user: str = event.get("user") or "unknown"
        in_thread: str | None = event.get("thread_ts")
        thread_ts: str = in_thread or event["ts"]
        workspace = context.team_id or event.get("team") or "unknown"
        origin = Origin(
            workspace_id=workspace,
            user_id=user,
            channel_id=channel,
            thread_id=thread_ts,
            surface="dm" if is_dm else "mention",
            viewing_channel_id=self._viewing.channel(workspace, user) if is_dm else None,
        )

        async def tell(text: str, blocks: list[dict[str, Any]]) -> None:
            if is_dm:
                await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)
            else:
                await client.chat_postEphemeral(
                    channel=channel, user=user, thread_ts=thread_ts, text=text, blocks=blocks
                )

        target = Target(
            kind="dm" if is_dm else "mention",
            channel=channel,
            thread_ts=thread_ts,
            message_ts=event["ts"],
            asked_in_thread=bool(in_thread),
            bot_user_id=context.bot_user_id,
        )
        outcome = await orchestrator.submit(
            to_plain_text(text),
            request_id=request_id,
            origin=origin,
            target=target.to_json(),
            files=shared_files([event]),
        )
        match outcome:
            case HelpWanted():
                await tell(
                    *usage_blocks(outcome.agents, rate_limit=outcome.rate_limit, max_per_user=outcome.max_per_user)
                )
            case RunbooksWanted(library=library, allowed=allowed):
                await tell(*runbook_list_blocks(library, admin=False, only=allowed))
            case UsageWanted():
                await tell(*token_usage_blocks(outcome, request_id))
            case Refused(error=StoreUnavailable() | PolicyDenied() as error):
                # Our own words (and, for a denial, the admins' mentions, told privately): not filtered.
                await tell(*failure_blocks(error, request_id, region=self._region))
            case Refused(error=error):
                await tell(*self._clean.message(*failure_blocks(error, request_id, region=self._region)))


async def suggest_prompts(client: AsyncWebClient, *, channel: str, thread_ts: str | None = None) -> None:
    """Offer the suggested prompts in the pane: per DM under ``agent_view`` (no ``thread_ts``), per thread before."""
    try:
        await client.assistant_threads_setSuggestedPrompts(
            channel_id=channel, thread_ts=thread_ts, title="Try one of these", prompts=list(SUGGESTED_PROMPTS)
        )
    except SlackApiError as exc:
        log.info("slack.prompts_failed", error=slack_error(exc))


def register_conversations(app: AsyncApp, orchestrator: Orchestrator, viewing: ViewingContext, *, region: str) -> None:
    """Attach the mention, DM and agent-pane listeners to ``app``."""
    conversations = _Conversations(orchestrator, viewing, region=region)

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

    @app.event("app_context_changed")
    async def on_context_changed(event: dict[str, Any], context: AsyncBoltContext) -> None:
        # agent_view: the person moved to another channel with the pane open.
        viewing.saw(context.team_id or "", str(event.get("user") or ""), event.get("context"))

    # The older assistant_view experience, kept for installs made from an earlier manifest.
    @app.event("assistant_thread_started")
    async def on_assistant_thread_started(
        event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        thread = event.get("assistant_thread")
        thread = thread if isinstance(thread, dict) else {}
        channel, thread_ts = thread.get("channel_id"), thread.get("thread_ts")
        viewing.saw(context.team_id or "", str(thread.get("user_id") or ""), thread.get("context"))
        if isinstance(channel, str) and channel and isinstance(thread_ts, str) and thread_ts:
            await suggest_prompts(client, channel=channel, thread_ts=thread_ts)

    @app.event("assistant_thread_context_changed")
    async def on_assistant_context_changed(event: dict[str, Any], context: AsyncBoltContext) -> None:
        thread = event.get("assistant_thread")
        thread = thread if isinstance(thread, dict) else {}
        viewing.saw(context.team_id or "", str(thread.get("user_id") or ""), thread.get("context"))
