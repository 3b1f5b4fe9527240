"""The Bolt app: built-in verification, our middleware, the listeners, and the last-resort error handler."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import structlog
from slack_bolt.async_app import AsyncApp

from bot.commands import register_commands
from bot.conversations import register_conversations
from bot.home import register_home
from bot.messages import unexpected_failure
from bot.middleware import assign_request_id, drop_redeliveries

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncBoltContext, AsyncRespond
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.orchestrator import Orchestrator
    from bot.health import SlackProbe

__all__ = ["build_app"]

log = structlog.get_logger(__name__)


def build_app(
    orchestrator: Orchestrator,
    client: AsyncWebClient,
    *,
    signing_secret: str,
    region: str,
    mode: Literal["http", "socket"],
    slack_probe: SlackProbe,
) -> AsyncApp:
    """An AsyncApp wired to ``orchestrator``; HTTP mode verifies signatures (Socket Mode has none)."""
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret if mode == "http" else "",
        request_verification_enabled=mode == "http",
        process_before_response=False,
        logger=logging.getLogger("slack_bolt"),
    )
    app.use(assign_request_id)
    app.use(drop_redeliveries(orchestrator.deduper))
    register_commands(app, orchestrator, region=region, slack_probe=slack_probe)
    register_conversations(app, orchestrator, region=region)
    register_home(app, orchestrator, slack_probe=slack_probe)

    @app.error
    async def on_error(
        error: Exception, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond | None
    ) -> None:
        # The outermost catch-all: a bug in a listener. Tell the user, log the type only.
        request_id = context.get("request_id") or "req-unassigned"
        log.error("listener.crashed", error_type=type(error).__name__, request_id=request_id)
        text, blocks = unexpected_failure(request_id)
        event = body.get("event") or {}
        if respond is not None and body.get("response_url"):
            await respond(text=text, blocks=blocks, response_type="ephemeral")
        elif event.get("channel") and event.get("user"):
            await client.chat_postEphemeral(
                channel=event["channel"],
                user=event["user"],
                thread_ts=event.get("thread_ts") or event.get("ts"),
                text=text,
                blocks=blocks,
            )

    return app
