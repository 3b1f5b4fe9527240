"""Building the core from settings: the model (with its one retry layer), router, tools and admission.

Every front end (the Slack bot, the terminal console, the doctor) gets the same pipeline from here, so
what a user tries in the console is what Slack users get.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from redis.asyncio import BlockingConnectionPool, Redis

from agents.admission import Admission, MemoryRateLimiter, StorageRateLimiter, redis_rate_limiter
from agents.approvals import ApprovalDesk, ApprovalGate, MemoryApprovals, RedisApprovals, SqliteApprovals
from agents.aws import AwsClients
from agents.budgets import BudgetGuard, MemoryTokenBudgets, RedisTokenBudgets, SqliteTokenBudgets
from agents.catalog import default_registry
from agents.dedupe import MemoryDeduper, RedisDeduper
from agents.health import ModelHealth, StoreHealth
from agents.journal import MemoryJournal
from agents.llm import BedrockChatModel, CircuitBreaker, RetryingChatModel, RetryPolicy, bedrock_client
from agents.metrics import Metrics
from agents.orchestrator import Orchestrator
from agents.overload import LoopLag
from agents.policy import PolicySource
from agents.redaction import Redactor
from agents.router import KeywordRouter, ModelRouter, Router
from agents.runbooks import RunbookLibrary
from agents.runner import TaskRunner
from agents.stores import RedisJournal, RedisTaskQueue, open_journal
from agents.taskqueue import LocalTaskQueue
from agents.testing import FakeChatModel, TestBench
from agents.tools import ToolContext

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from agents.approvals import ApprovalStore
    from agents.budgets import TokenBudgets
    from agents.catalog import AgentRegistry
    from agents.journal import TaskJournal
    from agents.llm import ChatModel
    from agents.policy import UserGroups
    from agents.settings import Settings
    from agents.task import Task
    from agents.taskqueue import TaskQueue
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


@dataclass(frozen=True, slots=True)
class _SharedState:
    """What replicas share through Redis: the journal, rate limits, event dedupe, the task queue and token counts."""

    journal: RedisJournal
    budgets: RedisTokenBudgets
    limiter: StorageRateLimiter
    deduper: RedisDeduper
    queue: RedisTaskQueue
    approvals: RedisApprovals

    @classmethod
    def open(cls, settings: Settings, metrics: Metrics) -> _SharedState:
        url, prefix = settings.orch_store_url, settings.orch_redis_prefix
        redis = shared_redis(url)
        retention = settings.orch_retention_days * 24 * 3600
        journal = RedisJournal(redis, prefix=prefix, retention_seconds=retention)
        return cls(
            journal=journal,
            approvals=RedisApprovals(redis, prefix=prefix, retention_seconds=retention),
            budgets=RedisTokenBudgets(redis, prefix=prefix),
            limiter=redis_rate_limiter(settings.orch_rate_limit, url, prefix=prefix + "limits"),
            deduper=RedisDeduper(redis, prefix=prefix + "seen:"),
            queue=RedisTaskQueue(
                redis,
                journal,
                stage=journal.stage,  # the record and its queue entry in one transaction
                stream=prefix + "tasks",
                claim_idle=settings.orch_claim_idle_seconds,
                max_deliveries=settings.orch_task_max_attempts,
                capacity=settings.orch_max_concurrent_tasks,
                report_depth=metrics.queue_depth.set,
            ),
        )


def _watch_files(library: RunbookLibrary, policy: PolicySource, *, every: float) -> list[asyncio.Task[None]]:
    """Reload the team's runbooks and the policy on SIGHUP and, unless ``every`` is 0, when their files change.

    One SIGHUP handler reloads both (a loop has one handler per signal: two would replace each other).
    The policy's Slack user groups are refreshed every few minutes and after each policy reload.
    Returns the background tasks, for :func:`_stop_watching`.
    """
    reloads = [
        reload
        for reload, configured in ((library.reload, library.directory), (policy.reload, policy.path))
        if configured is not None
    ]

    def reload_all() -> None:
        for reload in reloads:
            reload()

    if reloads:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
            # Not on Windows, nor outside the main thread (tests): polling alone is enough there.
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload_all)
    tasks: list[asyncio.Task[None]] = []
    if every > 0 and library.directory is not None:
        tasks.append(asyncio.create_task(library.watch(every=every), name="runbook-watch"))
    if every > 0 and policy.path is not None:
        tasks.append(asyncio.create_task(policy.watch(every=every), name="policy-watch"))
    if policy.watches_usergroups:
        tasks.append(asyncio.create_task(policy.keep_usergroups_fresh(), name="policy-usergroups"))
    return tasks


@dataclass(frozen=True, slots=True)
class _Stores:
    """Everything kept in the one store: the journal, the queue, its health probe, token counters, approvals."""

    journal: TaskJournal
    queue: TaskQueue
    health: StoreHealth
    counters: TokenBudgets
    approvals: ApprovalStore


async def _open_stores(settings: Settings, shared: _SharedState | None, *, private: bool) -> _Stores:
    """The stores of ``ORCH_STORE_URL`` (SQLite: one file and one connection; Redis: the shared client)."""
    if private:
        journal = MemoryJournal()
        return _Stores(
            journal,
            LocalTaskQueue(journal),
            StoreHealth(None, name="in memory"),
            MemoryTokenBudgets(),
            MemoryApprovals(),
        )
    if shared is not None:
        health = StoreHealth(shared.journal.ping, name="Redis")
        return _Stores(shared.journal, shared.queue, health, shared.budgets, shared.approvals)
    sqlite = await open_journal(settings.orch_store_url)
    return _Stores(
        sqlite,
        LocalTaskQueue(sqlite),
        StoreHealth(sqlite.ping, name="SQLite"),
        await SqliteTokenBudgets.open(sqlite.connection),  # the same file, the same connection
        await SqliteApprovals.open(sqlite.connection),
    )


async def _stop_watching(library: RunbookLibrary, policy: PolicySource, tasks: list[asyncio.Task[None]]) -> None:
    if library.directory is not None or policy.path is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _approvals(
    settings: Settings,
    *,
    store: ApprovalStore,
    journal: TaskJournal,
    tool_context: Callable[[Task], ToolContext],
    bench: TestBench | None,
    source: PolicySource,
) -> tuple[ApprovalGate, ApprovalDesk]:
    """The hook that turns action calls into approval requests, and the desk that decides them.

    Both read the policy as it is at that moment (``source.current``: a reload applies to the next click).
    """
    policy = source.current
    gate = ApprovalGate(
        store=store,
        policy=policy,
        tool_context=tool_context,
        timeout_seconds=settings.orch_approval_timeout_seconds,
        fallback=bench.gate if bench is not None else None,
    )
    return gate, ApprovalDesk(store=store, policy=policy, journal=journal, sweep_every=1.0)


@asynccontextmanager
async def open_core(
    settings: Settings,
    *,
    files: FileSource | None = None,
    usergroups: UserGroups | None = None,
    offline_model: bool = False,
    metrics: Metrics | None = None,
    private: bool = False,
    tools: Callable[[AgentRegistry], AgentRegistry] | None = None,
    observe_model: Callable[[ChatModel], ChatModel] | None = None,
) -> AsyncIterator[Orchestrator]:
    """Open the AWS clients and build the orchestrator; close everything on exit (after draining).

    ``offline_model`` swaps Bedrock for the scripted :class:`FakeChatModel` (the console's ``--fake-llm``).
    ``private``: the tasks are the caller's own (the console's): kept in memory, run in this process.
    ``usergroups``: how to read the members of the Slack user groups the policy names (the edge's).
    A broken ``ORCH_POLICY_FILE`` raises :class:`~agents.errors.ConfigError` before anything is opened.
    ``tools`` replaces the agents' tools (evals and the demo serve them from cassettes); ``observe_model``
    wraps the model adapter (evals count its calls and tokens).
    """
    bedrock = settings.bedrock
    bench = TestBench.from_settings(settings) if settings.orch_test_tools else None
    registry = default_registry() if bench is None else bench.registry(default_registry())
    if tools is not None:
        registry = tools(registry)
    runbooks = RunbookLibrary(
        agents=registry.names(),
        directory=Path(settings.orch_runbooks_dir) if settings.orch_runbooks_dir else None,
    )
    policy = PolicySource(
        Path(settings.orch_policy_file) if settings.orch_policy_file else None,
        agents=registry.names(),
        runbooks=lambda: frozenset(runbook.name for runbook in runbooks.all()),
        usergroups=usergroups,
    )
    admission_settings = settings.admission
    async with (
        bedrock_client(region=bedrock.region, max_connections=admission_settings.max_concurrent_tasks + 50) as br,
        AwsClients(region=bedrock.region) as aws,
    ):
        metrics = metrics or Metrics()
        loop_lag = LoopLag()
        loop_lag.start()
        shared = _SharedState.open(settings, metrics) if settings.shared_store else None
        stores = await _open_stores(settings, shared, private=private)
        journal, queue, store_health, approvals = stores.journal, stores.queue, stores.health, stores.approvals
        budget = BudgetGuard(stores.counters, limits=lambda: policy.current().budgets, metrics=metrics)
        await queue.start()
        adapter: ChatModel = (
            FakeChatModel() if offline_model else BedrockChatModel(br, on_client_cpu=metrics.bedrock_client_cpu_spent)
        )
        if observe_model is not None:
            adapter = observe_model(adapter)
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
            router = ModelRouter(
                registry, router_model, model_id=bedrock.router_model_id, redactor=redactor, budget=budget
            )

        def tool_context(task: Task) -> ToolContext:
            return ToolContext.for_task(task, aws=aws, region=bedrock.region, files=files)

        gate, desk = _approvals(
            settings, store=approvals, journal=journal, tool_context=tool_context, bench=bench, source=policy
        )

        orchestrator = Orchestrator(
            policy=policy,
            runbooks=runbooks,
            runbook_limits=(settings.orch_runbook_max_parallel_steps, settings.orch_runbook_step_timeout_seconds),
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
                gate=gate,
                offered=gate.offered,
                on_effect=desk.effect_done,
                ledger=journal,
                effect_probe=bench.probe if bench is not None else None,
                prompt_cache=bedrock.prompt_cache,
                budget=budget,
            ),
            deduper=shared.deduper if shared else MemoryDeduper(),
            model_health=model_health,
            metrics=metrics,
            journal=journal,
            queue=queue,
            redactor=redactor,
            store_health=store_health,
            max_attempts=settings.orch_task_max_attempts,
            approvals=desk,
            budget=budget,
        )
        watching = _watch_files(runbooks, policy, every=settings.orch_runbooks_poll_seconds)
        try:
            yield orchestrator
        finally:
            await _stop_watching(runbooks, policy, watching)
            await queue.close()
            await orchestrator.drain(settings.orch_shutdown_grace)
            await approvals.close()
            await journal.close()
            await loop_lag.stop()
