"""Slash commands: ``/orchestrate`` and ``/orch-health``.

``/orchestrate`` validates and admits the task before acknowledging, so a refusal *is* the ack (private,
instant); an accepted task is acknowledged empty, then posted as a visible parent message whose thread
receives the answer. Slash commands cannot be used inside threads, hence the parent message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from slack_sdk.errors import SlackApiError

from agents.errors import AdmissionDenied, InvalidTask
from agents.task import HelpRequest, Origin, Task
from bot.delivery import PrivateDelivery, ThreadDelivery
from bot.health import SlackProbe, health_report
from bot.home import history_blocks, is_admin
from bot.jobs import start_job
from bot.markup import to_plain_text
from bot.messages import failure_blocks, unexpected_failure, usage_blocks

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.orchestrator import Orchestrator

__all__ = ["register_commands"]

log = structlog.get_logger(__name__)

# chat.postMessage errors meaning "the bot cannot post here", where a private answer is the way out.
_CANNOT_POST = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})
_QUOTE_LIMIT = 2_900


def _quote(text: str) -> str:
    text = text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "…"
    return "\n".join(f">{line}" for line in text.splitlines() or [""])


def register_commands(app: AsyncApp, orchestrator: Orchestrator, *, region: str, slack_probe: SlackProbe) -> None:
    """Attach the slash-command listeners to ``app``."""

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
            user_id = command.get("user_id") or ""
            everyone = await is_admin(client, user_id)
            records = await orchestrator.journal.recent(
                command.get("team_id") or "", user_id=None if everyone else user_id, limit=15
            )
            text, blocks = history_blocks(records, everyone=everyone)
            await respond(text=text, blocks=blocks, response_type="ephemeral")
            return
        origin = Origin(
            workspace_id=command.get("team_id") or "unknown",
            user_id=command.get("user_id") or "unknown",
            channel_id=command.get("channel_id") or "unknown",
            surface="command",
        )
        try:
            prepared = orchestrator.prepare(
                to_plain_text(command.get("text", "")), request_id=request_id, origin=origin
            )
            if isinstance(prepared, HelpRequest):
                text, blocks = usage_blocks(
                    orchestrator.registry,
                    rate_limit=orchestrator.admission.rate_limit,
                    max_per_user=orchestrator.admission.max_per_user,
                )
                await ack(text=text, blocks=blocks, response_type="ephemeral")
                return
            slot = await orchestrator.admit(prepared)
        except (InvalidTask, AdmissionDenied) as error:
            log.info("task.refused", error_code=error.code)
            text, blocks = failure_blocks(error, request_id, region=region)
            await ack(text=text, blocks=blocks, response_type="ephemeral")
            return
        await ack()
        log.info("task.accepted", surface="command", agent=prepared.agent)

        async def on_bug() -> None:
            text, blocks = unexpected_failure(request_id)
            await respond(text=text, blocks=blocks, response_type="ephemeral")

        start_job(
            orchestrator,
            _run_in_channel(
                orchestrator,
                prepared,
                client=client,
                respond=respond,
                raw_text=command.get("text", ""),
                region=region,
            ),
            request_id=request_id,
            slot=slot,
            on_bug=on_bug,
        )

    @app.command("/orch-health")
    async def orch_health(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        text, blocks = await health_report(orchestrator, slack_probe)
        await respond(text=text, blocks=blocks, response_type="ephemeral")


async def _run_in_channel(
    orchestrator: Orchestrator,
    task: Task,
    *,
    client: AsyncWebClient,
    respond: AsyncRespond,
    raw_text: str,
    region: str,
) -> None:
    """Post the visible parent message and answer in its thread, or privately if the bot cannot post."""
    origin = task.origin
    try:
        parent = await client.chat_postMessage(
            channel=origin.channel_id,
            text=f"<@{origin.user_id}> asked: {raw_text[:200]}",
            blocks=[
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": f"<@{origin.user_id}> asked:\n{_quote(raw_text)}"},
                }
            ],
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        if error not in _CANNOT_POST:
            raise
        log.info("slack.cannot_post_in_channel", error=error)
        await respond(
            text=(
                "I'm not a member of this channel, so I'll answer you privately here. "
                "To get answers in a thread everyone can see, invite me with `/invite @orch`.\n"
                f"Working on it… (`{task.request_id}`)"
            ),
            response_type="ephemeral",
        )
        await orchestrator.run(task, PrivateDelivery(respond, region=region))
        return
    delivery = ThreadDelivery(
        client,
        channel=origin.channel_id,
        thread_ts=str(parent["ts"]),
        region=region,
        recipient_team_id=origin.workspace_id,
        recipient_user_id=origin.user_id,
    )
    await orchestrator.run(task, delivery)
