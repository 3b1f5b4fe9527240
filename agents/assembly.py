"""Building the core from settings: the model (with its one retry layer), router, tools and admission.

Every front end (the Slack bot, the terminal console, the doctor) gets the same pipeline from here, so
what a user tries in the console is what Slack users get.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from agents.admission import Admission, MemoryRateLimiter
from agents.aws import AwsClients
from agents.catalog import default_registry
from agents.dedupe import MemoryDeduper
from agents.health import ModelHealth
from agents.llm import BedrockChatModel, RetryingChatModel, RetryPolicy, bedrock_client
from agents.metrics import Metrics
from agents.orchestrator import Orchestrator
from agents.redaction import Redactor
from agents.router import KeywordRouter, ModelRouter, Router
from agents.runner import TaskRunner
from agents.stores import open_journal
from agents.testing import FakeChatModel
from agents.tools import ToolContext

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agents.journal import TaskJournal
    from agents.llm import ChatModel
    from agents.settings import Settings
    from agents.task import Task
    from agents.tools._base import FileSource

__all__ = ["open_core"]


@asynccontextmanager
async def open_core(
    settings: Settings,
    *,
    files: FileSource | None = None,
    offline_model: bool = False,
    metrics: Metrics | None = None,
    journal: TaskJournal | None = None,
) -> AsyncIterator[Orchestrator]:
    """Open the AWS clients and build the orchestrator; close everything on exit (after draining).

    ``offline_model`` swaps Bedrock for the scripted :class:`FakeChatModel` (the console's ``--fake-llm``).
    """
    bedrock = settings.bedrock
    admission_settings = settings.admission
    async with (
        bedrock_client(region=bedrock.region, max_connections=admission_settings.max_concurrent_tasks + 50) as br,
        AwsClients(region=bedrock.region) as aws,
    ):
        metrics = metrics or Metrics()
        journal = journal or await open_journal(
            settings.orch_store_url, retention_seconds=settings.orch_retention_days * 24 * 3600
        )
        registry = default_registry()
        adapter: ChatModel = FakeChatModel() if offline_model else BedrockChatModel(br)
        model_health = ModelHealth(adapter, model_id=bedrock.model_id)
        observers = (model_health, metrics)
        model = RetryingChatModel(
            adapter,
            RetryPolicy(max_attempts=bedrock.max_attempts, deadline=bedrock.deadline_seconds, observers=observers),
        )
        router: Router = KeywordRouter(registry)
        if not offline_model:
            # Routing is a small, optional step: fewer attempts and a short deadline, then keyword rules.
            router_model = RetryingChatModel(adapter, RetryPolicy(max_attempts=2, deadline=10.0, observers=observers))
            router = ModelRouter(registry, router_model, model_id=bedrock.router_model_id)

        def tool_context(task: Task) -> ToolContext:
            return ToolContext(aws=aws, region=bedrock.region, files=files, file_ids=tuple(f.id for f in task.files))

        orchestrator = Orchestrator(
            registry=registry,
            admission=Admission(
                MemoryRateLimiter(admission_settings.rate_limit),
                max_per_user=admission_settings.max_tasks_per_user,
                max_total=admission_settings.max_concurrent_tasks,
            ),
            runner=TaskRunner(
                router=router,
                model=model,
                default_model_id=bedrock.model_id,
                tool_context=tool_context,
                redactor=Redactor(settings.secrets()),
            ),
            deduper=MemoryDeduper(),
            model_health=model_health,
            metrics=metrics,
            journal=journal,
        )
        try:
            yield orchestrator
        finally:
            await orchestrator.drain(settings.orch_shutdown_grace)
            await journal.close()
