"""The Bolt app: built-in verification, our middleware, the listeners, and the last-resort error handler."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import structlog
from slack_bolt.async_app import AsyncApp

from bot.commands import register_commands
from bot.conversations import register_conversations
from bot.feedback import register_feedback
from bot.home import register_home
from bot.messages import unexpected_failure
from bot.middleware import assign_request_id, drop_redeliveries, refuse_foreign_response_urls
from bot.viewing import ViewingContext

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncBoltContext, AsyncRespond
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.orchestrator import Orchestrator
    from bot.health import SlackProbe
    from bot.verification import SlackHosts

__all__ = ["build_app"]

log = structlog.get_logger(__name__)


def build_app(
    orchestrator: Orchestrator,
    client: AsyncWebClient,
    *,
    region: str,
    slack_hosts: SlackHosts,
    slack_probe: SlackProbe,
) -> AsyncApp:
    """An AsyncApp wired to ``orchestrator``.

    Signatures are verified before a request reaches Bolt (:mod:`bot.verification`, on the raw bytes), so
    Bolt's own check, which parses first and logs rejected bodies, is off; Socket Mode has none.
    """
    app = AsyncApp(
        client=client,
        signing_secret="",
        request_verification_enabled=False,
        process_before_response=False,
        logger=logging.getLogger("slack_bolt"),
    )
    app.use(assign_request_id)
    app.use(refuse_foreign_response_urls(slack_hosts))
    app.use(drop_redeliveries(orchestrator.deduper))
    register_commands(app, orchestrator, region=region, slack_probe=slack_probe)
    viewing = ViewingContext()
    register_conversations(app, orchestrator, viewing, region=region)
    register_home(app, orchestrator, viewing, slack_probe=slack_probe)
    register_feedback(app, orchestrator)

    @app.error
    async def on_error(
        error: Exception, body: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond | None
    ) -> None:
        # The outermost catch-all: a bug in a listener. Tell the user, log the type only.
        request_id = context.get("request_id") or "req-unassigned"
        log.error("listener.crashed", error_type=type(error).__name__, request_id=request_id)
        text, blocks = unexpected_failure(request_id)
        # Every body here is verified (or came over Socket Mode), and its response_url is Slack's (the
        # middleware refuses others); the checks below also hold for a body that failed half-way through.
        event = body.get("event")
        event = event if isinstance(event, dict) else {}
        channel, user = event.get("channel"), event.get("user")
        if respond is not None and slack_hosts.allows(body.get("response_url")):
            await respond(text=text, blocks=blocks, response_type="ephemeral")
        elif isinstance(channel, str) and channel and isinstance(user, str) and user:
            thread = event.get("thread_ts") or event.get("ts")
            await client.chat_postEphemeral(
                channel=channel,
                user=user,
                thread_ts=thread if isinstance(thread, str) else None,
                text=text,
                blocks=blocks,
            )

    return app
