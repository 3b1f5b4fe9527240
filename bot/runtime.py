"""Assembling the process: clients, the core, and the Bolt app, opened and closed together.

Every long-lived resource (the Bedrock client and its connection pool, the Slack HTTP session) is opened
once here and closed on the way out, after running tasks have had their grace period.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import structlog
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)

from agents.admission import Admission, MemoryRateLimiter
from agents.aws import AwsClients
from agents.catalog import default_registry
from agents.dedupe import MemoryDeduper
from agents.health import ModelHealth
from agents.llm import BedrockChatModel, RetryingChatModel, RetryPolicy, bedrock_client
from agents.metrics import Metrics
from agents.orchestrator import Orchestrator
from agents.redaction import Redactor
from agents.router import ModelRouter
from agents.runner import TaskRunner
from agents.tools import ToolContext
from bot.app import build_app
from bot.files import SlackFiles
from bot.health import SlackProbe
from bot.slack_client import MeteredWebClient

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from slack_bolt.async_app import AsyncApp

    from agents.settings import Mode, Settings

__all__ = ["Runtime", "open_runtime"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    """A running bot's parts."""

    app: AsyncApp
    orchestrator: Orchestrator
    client: MeteredWebClient
    settings: Settings
    slack_probe: SlackProbe


@asynccontextmanager
async def open_runtime(settings: Settings, mode: Mode) -> AsyncIterator[Runtime]:
    """Open every client, build the core and the app; on exit, drain running tasks, then close."""
    bedrock = settings.bedrock
    slack = settings.slack
    admission_settings = settings.admission
    async with (
        bedrock_client(region=bedrock.region, max_connections=admission_settings.max_concurrent_tasks + 50) as br,
        aiohttp.ClientSession() as session,
        AwsClients(region=bedrock.region) as aws,
    ):
        adapter = BedrockChatModel(br)
        metrics = Metrics()
        model_health = ModelHealth(adapter, model_id=bedrock.model_id)
        observers = (model_health, metrics)
        model = RetryingChatModel(
            adapter,
            RetryPolicy(max_attempts=bedrock.max_attempts, deadline=bedrock.deadline_seconds, observers=observers),
        )
        # Routing is a small, optional step: fewer attempts and a short deadline, then the keyword fallback.
        router_model = RetryingChatModel(adapter, RetryPolicy(max_attempts=2, deadline=10.0, observers=observers))
        registry = default_registry()
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
        orchestrator = Orchestrator(
            registry=registry,
            admission=Admission(
                MemoryRateLimiter(admission_settings.rate_limit),
                max_per_user=admission_settings.max_tasks_per_user,
                max_total=admission_settings.max_concurrent_tasks,
            ),
            runner=TaskRunner(
                router=ModelRouter(registry, router_model, model_id=bedrock.router_model_id),
                model=model,
                default_model_id=bedrock.model_id,
                tool_context=lambda task: ToolContext(
                    aws=aws,
                    region=bedrock.region,
                    files=files,
                    file_ids=tuple(f.id for f in task.files),
                ),
                redactor=Redactor(settings.secrets()),
            ),
            deduper=MemoryDeduper(),
            model_health=model_health,
            metrics=metrics,
        )
        slack_probe = SlackProbe(client)
        app = build_app(
            orchestrator,
            client,
            signing_secret=slack.signing_secret,
            region=bedrock.region,
            mode=mode,
            slack_probe=slack_probe,
        )
        try:
            yield Runtime(app=app, orchestrator=orchestrator, client=client, settings=settings, slack_probe=slack_probe)
        finally:
            cut = await orchestrator.drain(settings.orch_shutdown_grace)
            log.info("shutdown.drained", interrupted=cut)
