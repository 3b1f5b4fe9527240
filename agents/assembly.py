"""Building the core from settings: the model (with its one retry layer), router, tools and admission.

Every front end (the Slack bot, the terminal console, the doctor) gets the same pipeline from here, so
what a user tries in the console is what Slack users get.
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.asyncio import BlockingConnectionPool, Redis

from agents.admission import Admission, MemoryRateLimiter, StorageRateLimiter, redis_rate_limiter
from agents.aws import AwsClients
from agents.catalog import default_registry
from agents.dedupe import MemoryDeduper, RedisDeduper
from agents.health import ModelHealth, StoreHealth
from agents.llm import BedrockChatModel, CircuitBreaker, RetryingChatModel, RetryPolicy, bedrock_client
from agents.metrics import Metrics
from agents.orchestrator import Orchestrator
from agents.overload import LoopLag
from agents.redaction import Redactor
from agents.router import KeywordRouter, ModelRouter, Router
from agents.runner import TaskRunner
from agents.stores import RedisJournal, RedisTaskQueue, SqliteJournal, open_journal
from agents.testing import FakeChatModel
from agents.tools import ToolContext

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agents.journal import TaskJournal
    from agents.llm import ChatModel
    from agents.settings import Settings
    from agents.task import Task
    from agents.tools._base import FileSource

__all__ = ["REDIS_CONNECTIONS", "open_core", "shared_redis"]

REDIS_CONNECTIONS = 64  # per process


def shared_redis(url: str) -> Redis:
    """The process's Redis client: a pool of :data:`REDIS_CONNECTIONS` that waits for a free connection.

    redis-py's default pool fails the 101st concurrent command (``MaxConnectionsError``), and hundreds of
    tasks may write at once.
    """
    pool = BlockingConnectionPool.from_url(url, max_connections=REDIS_CONNECTIONS, timeout=20, decode_responses=True)
    return Redis(connection_pool=pool)


def _store_health(journal: TaskJournal) -> StoreHealth:
    """The probe behind ``/readyz``, ``/orch-health`` and the App Home's store line."""
    if isinstance(journal, RedisJournal):
        return StoreHealth(journal.ping, name="Redis")
    if isinstance(journal, SqliteJournal):
        return StoreHealth(journal.ping, name="SQLite")
    return StoreHealth(None, name="in memory")


@dataclass(frozen=True, slots=True)
class _SharedState:
    """What replicas share through Redis: the journal, rate limits, event dedupe and the task queue."""

    journal: RedisJournal
    limiter: StorageRateLimiter
    deduper: RedisDeduper
    queue: RedisTaskQueue

    @classmethod
    def open(cls, settings: Settings, metrics: Metrics) -> _SharedState:
        url, prefix = settings.orch_store_url, settings.orch_redis_prefix
        redis = shared_redis(url)
        return cls(
            journal=RedisJournal(redis, prefix=prefix, retention_seconds=settings.orch_retention_days * 24 * 3600),
            limiter=redis_rate_limiter(settings.orch_rate_limit, url, prefix=prefix + "limits"),
            deduper=RedisDeduper(redis, prefix=prefix + "seen:"),
            queue=RedisTaskQueue(
                redis,
                stream=prefix + "tasks",
                claim_idle=settings.orch_claim_idle_seconds,
                max_deliveries=settings.orch_task_max_attempts,
                capacity=settings.orch_max_concurrent_tasks,
                report_depth=metrics.queue_depth.set,
            ),
        )


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
        loop_lag = LoopLag()
        loop_lag.start()
        shared = _SharedState.open(settings, metrics) if settings.shared_store else None
        if journal is None:
            journal = shared.journal if shared else await open_journal(settings.orch_store_url)
        queue = shared.queue if shared else None
        reconciler: asyncio.Task[None] | None = None
        if queue is not None:
            await queue.setup()
            # Finds tasks an empty Redis restart lost (see RedisTaskQueue.reconcile), in every process.
            idle = settings.orch_claim_idle_seconds
            reconciler = asyncio.create_task(
                queue.keep_reconciled(journal, every=max(1.0, min(10.0, idle / 2)), older_than=idle),
                name="queue-reconciler",
            )
        registry = default_registry()
        adapter: ChatModel = (
            FakeChatModel() if offline_model else BedrockChatModel(br, on_client_cpu=metrics.bedrock_client_cpu_spent)
        )
        breaker = CircuitBreaker(threshold=bedrock.breaker_threshold, cool_down=bedrock.breaker_cool_down_seconds)
        metrics.track_breaker(lambda: breaker.state)
        model_health = ModelHealth(adapter, model_id=bedrock.model_id, breaker=breaker)
        observers = (model_health, metrics)
        model = RetryingChatModel(
            adapter,
            RetryPolicy(
                max_attempts=bedrock.max_attempts,
                deadline=bedrock.deadline_seconds,
                observers=observers,
                breaker=breaker,
            ),
        )
        # One redactor for every door to the model: the router, the agent prompt and the tool results.
        redactor = Redactor(settings.secrets())
        router: Router = KeywordRouter(registry)
        if not offline_model:
            # Routing is a small, optional step: fewer attempts and a short deadline, then keyword rules.
            router_model = RetryingChatModel(
                adapter, RetryPolicy(max_attempts=2, deadline=10.0, observers=observers, breaker=breaker)
            )
            router = ModelRouter(registry, router_model, model_id=bedrock.router_model_id, redactor=redactor)

        def tool_context(task: Task) -> ToolContext:
            return ToolContext.for_task(task, aws=aws, region=bedrock.region, files=files)

        orchestrator = Orchestrator(
            registry=registry,
            admission=Admission(
                shared.limiter if shared else MemoryRateLimiter(admission_settings.rate_limit),
                max_per_user=admission_settings.max_tasks_per_user,
                max_total=admission_settings.max_concurrent_tasks,
                lag=lambda: loop_lag.lag,
                max_lag=settings.orch_shed_lag_seconds,
            ),
            runner=TaskRunner(
                router=router,
                model=model,
                default_model_id=bedrock.model_id,
                tool_context=tool_context,
                redactor=redactor,
            ),
            deduper=shared.deduper if shared else MemoryDeduper(),
            model_health=model_health,
            metrics=metrics,
            journal=journal,
            queue=queue,
            redactor=redactor,
            store_health=_store_health(journal),
        )
        try:
            yield orchestrator
        finally:
            if reconciler is not None:
                reconciler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reconciler
            await orchestrator.drain(settings.orch_shutdown_grace)
            await journal.close()
            await loop_lag.stop()
