"""The core's front door: turn text into a task, admit it, run it, and keep track of what is running.

Every surface (Slack, and later the console) goes through :class:`Orchestrator`, so validation,
limits and routing are the same everywhere. Running tasks are held in a registry of our own: Bolt and
aiohttp keep no reference to background work, and shutdown must be able to wait for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import TYPE_CHECKING

import structlog

from agents.errors import AdmissionDenied, InvalidTask
from agents.health import StoreHealth
from agents.journal import UNFINISHED, JournalSink, MemoryJournal, TaskRecord
from agents.metrics import Metrics, MetricsSink
from agents.redaction import Redactor
from agents.task import HelpRequest, Task, parse_text

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable
    from typing import Any

    from agents.admission import Admission, Slot
    from agents.catalog import AgentRegistry
    from agents.dedupe import Deduper
    from agents.events import EventSink
    from agents.health import ModelHealth
    from agents.journal import TaskJournal
    from agents.runner import TaskRunner
    from agents.stores import RedisTaskQueue
    from agents.task import ContextMessage, Origin

__all__ = ["Orchestrator"]

log = structlog.get_logger(__name__)


class Orchestrator:
    """Validation, admission and execution of tasks, for any chat surface."""

    def __init__(
        self,
        *,
        registry: AgentRegistry,
        admission: Admission,
        runner: TaskRunner,
        deduper: Deduper,
        model_health: ModelHealth,
        metrics: Metrics | None = None,
        journal: TaskJournal | None = None,
        queue: RedisTaskQueue | None = None,
        redactor: Redactor | None = None,
        store_health: StoreHealth | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue = queue
        #: The process's redactor (its own secrets and the patterns), for every front end's output too.
        self.redactor = redactor or Redactor()
        self.store_health = store_health or StoreHealth(None, name="in memory")
        self.registry = registry
        self.journal = journal or MemoryJournal()
        self.metrics = metrics or Metrics()
        self.metrics.track_in_flight(lambda: self.admission.in_flight)
        self.admission = admission
        self.deduper = deduper
        self.model_health = model_health
        self._runner = runner
        self._clock = clock
        self._started = clock()
        self._running: set[asyncio.Task[None]] = set()

    @property
    def uptime(self) -> float:
        """Seconds since the orchestrator was created."""
        return self._clock() - self._started

    @property
    def in_flight(self) -> int:
        """Tasks running in this process (started here or taken from the shared queue)."""
        return self.admission.in_flight

    def prepare(
        self,
        text: str,
        *,
        request_id: str,
        origin: Origin,
        context: Iterable[ContextMessage] = (),
    ) -> HelpRequest | Task:
        """Parse and validate ``text``; raise :class:`InvalidTask` with a hint when it cannot run."""
        try:
            parsed = parse_text(text, agents=self.registry.names())
        except InvalidTask as invalid:
            self.metrics.refused.labels(invalid.code).inc()
            raise
        if isinstance(parsed, HelpRequest):
            return parsed
        return Task(request_id=request_id, origin=origin, text=parsed.text, agent=parsed.agent, context=tuple(context))

    async def admit(self, task: Task) -> Slot:
        """Take a running slot for ``task`` or raise :class:`AdmissionDenied`."""
        try:
            return await self.admission.admit(task.origin.user_key)
        except AdmissionDenied as refusal:
            self.metrics.refused.labels(refusal.code).inc()
            raise

    async def run(self, task: Task, sink: EventSink, *, record: TaskRecord | None = None) -> None:
        """Run an admitted task to its final event; ``record`` is its journal record, if the caller has it."""
        await self._runner.run(task, JournalSink(MetricsSink(sink, self.metrics), self.journal, known=record))

    def spawn(self, job: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run ``job`` in the background, tracked until it ends so shutdown can wait for it."""
        task = asyncio.create_task(job, name=name)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def drain(self, grace: float) -> int:
        """Stop admitting, wait up to ``grace`` seconds for running jobs; return how many were cut short."""
        self.admission.close()
        if not self._running:
            return 0
        log.info("shutdown.draining", in_flight=len(self._running), grace_seconds=grace)
        _, pending = await asyncio.wait(set(self._running), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)
        for task in pending:
            await self._mark_interrupted(task.get_name())
        return len(pending)

    async def _mark_interrupted(self, request_id: str) -> None:
        record = await self.journal.get(request_id)
        if record is not None and record.status in UNFINISHED:
            await self.journal.put(dataclasses.replace(record, status="interrupted", updated_at=time.time()))
            log.info("task.interrupted", request_id=request_id)

    async def accept(self, task: Task, *, target: str) -> TaskRecord:
        """Record ``task`` as queued, durably, before the user is told it was accepted; return the record.

        With a shared queue the task is queued for any replica too (in the same Redis transaction); without
        one the caller runs it here. ``target`` is the edge's description of where the answer goes, kept so
        a restart can resume it. Raises :class:`StoreUnavailable` when the store cannot record it: then the
        task was not accepted, and its user must be told so.
        """
        record = TaskRecord.queued(task, now=time.time(), target=target)
        if self.queue is not None:
            await self.queue.submit(record, self.journal)
        else:
            await self.journal.put(record)
        return record

    async def load(self, request_id: str) -> tuple[TaskRecord, Task] | None:
        """A journalled task that still needs running (``None`` when it is finished or gone)."""
        record = await self.journal.get(request_id)
        if record is None or record.status not in UNFINISHED:
            return None
        return await self._restore(record)

    async def _restore(self, record: TaskRecord) -> tuple[TaskRecord, Task] | None:
        """The record with its task rebuilt; a record whose task cannot be rebuilt is failed for good."""
        try:
            return record, Task.model_validate_json(record.task_json)
        except ValueError:
            await self.give_up(record, code="unrecoverable")
            return None

    async def retarget(self, request_id: str, target: str, *, record: TaskRecord | None = None) -> TaskRecord | None:
        """The task's record with a new answer target (e.g. once the thread exists), for :meth:`run` to store.

        Nothing is written here: the caller runs the task next, and the run's first journal write stores the
        whole record, target included (one write instead of two). ``record`` is the task's current record,
        when the caller has it (saves reading it).
        """
        record = record or await self.journal.get(request_id)
        if record is None:
            return None
        return dataclasses.replace(record, target=target, updated_at=time.time())

    async def give_up(self, record: TaskRecord, *, code: str) -> None:
        """Mark an unfinished task failed for good."""
        await self.journal.put(dataclasses.replace(record, status="failed", error_code=code, updated_at=time.time()))

    async def unfinished(self) -> list[tuple[TaskRecord, Task]]:
        """Tasks a previous process accepted and did not finish, with their tasks restored, oldest first."""
        restored = [await self._restore(record) for record in await self.journal.unfinished()]
        return [pair for pair in restored if pair is not None]
