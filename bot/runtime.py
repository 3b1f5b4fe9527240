"""Assembling the process: clients, the core, and the Bolt app, opened and closed together.

Every long-lived resource (the Bedrock client and its connection pool, the Slack HTTP session) is opened
once here and closed on the way out, after running tasks have had their grace period.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)

from agents.assembly import open_core
from agents.metrics import Metrics
from bot.app import build_app
from bot.files import SlackFiles
from bot.health import SlackProbe
from bot.slack_client import MeteredWebClient
from bot.targets import SlackEdge
from bot.usergroups import SlackUserGroups
from bot.verification import SlackHosts

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from slack_bolt.async_app import AsyncApp

    from agents.orchestrator import Orchestrator
    from agents.settings import Settings

__all__ = ["Runtime", "open_runtime"]


@dataclass(frozen=True, slots=True)
class Runtime:
    """A running bot's parts."""

    app: AsyncApp
    orchestrator: Orchestrator
    client: MeteredWebClient
    settings: Settings
    slack_probe: SlackProbe
    edge: SlackEdge


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open the Slack client and the core, build the app; on exit, drain running tasks, then close."""
    slack = settings.slack
    metrics = Metrics()
    async with aiohttp.ClientSession() as session:
        client = MeteredWebClient(
            metrics,
            token=slack.bot_token,
            base_url=slack.api_url,
            session=session,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=2),
                AsyncServerErrorRetryHandler(max_retry_count=2),
            ],
        )
        files = SlackFiles(client, session, token=slack.bot_token, api_url=slack.api_url)
        usergroups = SlackUserGroups(client)
        async with open_core(settings, files=files, usergroups=usergroups, metrics=metrics) as orchestrator:
            slack_probe = SlackProbe(client)
            app = build_app(
                orchestrator,
                client,
                region=settings.bedrock.region,
                slack_hosts=SlackHosts(slack.api_url),
                slack_probe=slack_probe,
            )
            edge = SlackEdge(client, redactor=orchestrator.redactor, region=settings.bedrock.region)
            yield Runtime(
                app=app, orchestrator=orchestrator, client=client, settings=settings, slack_probe=slack_probe, edge=edge
            )
