"""Slash commands: ``/orchestrate`` and ``/orch-health``.

``/orchestrate`` validates and admits the task before acknowledging, so a refusal *is* the ack (private,
instant); an accepted task is acknowledged empty, then posted as a visible parent message whose thread
receives the answer. Slash commands cannot be used inside threads, hence the parent message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from agents.errors import PolicyDenied, StoreUnavailable
from agents.orchestrator import Accepted, HelpWanted, Refused, RunbooksWanted, UsageWanted
from agents.task import Origin
from bot.health import SlackProbe, health_report
from bot.home import history_blocks, is_admin
from bot.markup import to_plain_text
from bot.messages import failure_blocks, runbook_list_blocks, usage_blocks
from bot.outfilter import OutputFilter
from bot.targets import Target
from bot.usage import token_usage_blocks

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.orchestrator import Orchestrator

__all__ = ["register_commands"]

log = structlog.get_logger(__name__)


def register_commands(app: AsyncApp, orchestrator: Orchestrator, *, region: str, slack_probe: SlackProbe) -> None:
    """Attach the slash-command listeners to ``app``."""
    clean = OutputFilter(orchestrator.redactor)

    @app.command("/orchestrate")
    async def orchestrate(
        ack: AsyncAck,
        command: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        request_id: str = context["request_id"]
        if command.get("text", "").strip().lower() == "history":
            await ack()
            await _history(orchestrator, command, client, respond, request_id=request_id, clean=clean)
            return
        origin = Origin(
            workspace_id=command.get("team_id") or "unknown",
            user_id=command.get("user_id") or "unknown",
            channel_id=command.get("channel_id") or "unknown",
            surface="command",
        )
        target = Target(
            kind="command",
            channel=origin.channel_id,
            response_url=command.get("response_url"),
            raw_text=command.get("text", ""),
            bot_user_id=context.bot_user_id,
        )
        outcome = await orchestrator.submit(
            to_plain_text(command.get("text", "")), request_id=request_id, origin=origin, target=target.to_json()
        )
        match outcome:
            case HelpWanted():
                text, blocks = usage_blocks(
                    outcome.agents, rate_limit=outcome.rate_limit, max_per_user=outcome.max_per_user
                )
                await ack(text=text, blocks=blocks, response_type="ephemeral")
            case RunbooksWanted(library=library, allowed=allowed):
                await ack()
                admin = bool(library.problems) and await is_admin(client, command.get("user_id") or "")
                text, blocks = runbook_list_blocks(library, admin=admin, only=allowed)
                await respond(text=text, blocks=blocks, response_type="ephemeral")
            case Refused(error=PolicyDenied() as denial):
                # Our own words, names the core checked, and the admins' mentions: not filtered, so they link.
                text, blocks = failure_blocks(denial, request_id, region=region)
                await ack(text=text, blocks=blocks, response_type="ephemeral")
            case UsageWanted():
                text, blocks = token_usage_blocks(outcome, request_id)
                await ack(text=text, blocks=blocks, response_type="ephemeral")
            case Refused(error=refusal):
                text, blocks = clean.message(*failure_blocks(refusal, request_id, region=region))
                await ack(text=text, blocks=blocks, response_type="ephemeral")
            case Accepted():
                await ack()

    @app.command("/orch-health")
    async def orch_health(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        text, blocks = await health_report(orchestrator, slack_probe)
        await respond(text=text, blocks=blocks, response_type="ephemeral")


async def _history(
    orchestrator: Orchestrator,
    command: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    *,
    request_id: str,
    clean: OutputFilter,
) -> None:
    """``/orchestrate history``: the person's recent tasks (a workspace admin's: everyone's), privately."""
    user_id = command.get("user_id") or ""
    everyone = await is_admin(client, user_id)
    try:
        records = await orchestrator.history(
            command.get("team_id") or "", user_id=None if everyone else user_id, limit=15
        )
    except StoreUnavailable as error:
        log.warning("history.store_unavailable", store=error.store, reason=error.reason)
        await respond(
            text=(
                ":warning: Your history could not be read: orch's task store is unreachable.\n"
                f"Please try again in a minute.\nRequest ID: `{request_id}`"
            ),
            response_type="ephemeral",
        )
        return
    text, blocks = history_blocks(records, everyone=everyone, clean=clean)
    await respond(text=text, blocks=blocks, response_type="ephemeral")
