"""The task lifecycle, owned by the core: accept, run, resume, give up, continue, drain.

Every accepted task goes through the :class:`~agents.taskqueue.TaskQueue` port; this module is its
consumer. One delivery of a task (:meth:`TaskLifecycle.handle`) loads its record, gives it up when
:mod:`agents.attempts` says so, takes a running slot, asks the edge for a place to render it
(:meth:`Edge.open`), and runs the agent loop, from its last checkpoint when it has one. A bug in that job
never crashes the process: the person is told, with the request ID (:meth:`Edge.report_bug`).

The edge (Slack, the console) supplies only :class:`Edge`: where a task's events are rendered, and how a
person is told that a bug stopped their task or that it was given up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import structlog

from agents.attempts import RESUMABLE, Attempts, GiveUp, Slots
from agents.journal import JournalSink, TaskRecord
from agents.loopstate import LoopState
from agents.metrics import MetricsSink
from agents.task import Task

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

    from agents.admission import Admission, Slot
    from agents.attempts import GiveUpReason
    from agents.events import EventSink
    from agents.journal import TaskJournal
    from agents.metrics import Metrics
    from agents.redaction import Redactor
    from agents.runbooks import RunbookRunner
    from agents.runner import TaskRunner
    from agents.taskqueue import TaskQueue

__all__ = ["Edge", "Rendering", "TaskLifecycle", "TaskRecord"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Rendering:
    """Where one run of a task is shown, as the edge prepared it.

    ``task`` is the task with what the edge read for it (e.g. the thread so far), when it changed;
    ``target`` the task's new target, when the edge changed it (e.g. the thread now exists): it is stored
    with the run's first journal write, so a resumed task renders in the same place.
    """

    sink: EventSink
    task: Task | None = None
    target: str | None = None


class Edge(Protocol):
    """What a chat surface gives the core: a place to render a task, and how to tell its person bad news."""

    async def open(self, task: Task, target: str, *, resumed: bool) -> Rendering:
        """Prepare the rendering of one run of ``task`` at ``target`` (``resumed``: it was started before)."""
        ...

    async def report_bug(self, task: Task, target: str) -> None:
        """Tell the person that a bug stopped their task, with its request ID."""
        ...

    async def report_given_up(self, record: TaskRecord, give_up: GiveUp) -> None:
        """Tell the person their task was given up, and why, with its request ID."""
        ...


class TaskLifecycle:
    """Runs every accepted task, once per delivery, holding a running slot while it runs."""

    def __init__(
        self,
        *,
        journal: TaskJournal,
        queue: TaskQueue,
        admission: Admission,
        runner: TaskRunner,
        metrics: Metrics,
        attempts: Attempts,
        redactor: Redactor,
        runbooks: RunbookRunner | None = None,
    ) -> None:
        self._redact = redactor
        self._runbooks = runbooks
        self._journal = journal
        self._queue = queue
        self._admission = admission
        self._runner = runner
        self._metrics = metrics
        self._attempts = attempts
        self._edge: Edge | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._jobs: set[asyncio.Task[None]] = set()
        self._slots = Slots(admission)
        # Accepted here, for a queue that runs them here: their records as written (saves reading them back).
        self._accepted: dict[str, TaskRecord] = {}

    async def accept(self, task: Task, *, target: str, slot: Slot) -> TaskRecord:
        """Journal and queue an admitted task before its person is told; the queue owns it from here.

        Raises :class:`StoreUnavailable` when it could not be recorded (then it was not accepted).
        """
        record = TaskRecord.queued(task, now=time.time(), target=target)
        try:
            await self._queue.submit(record)
        except BaseException:
            slot.release()
            raise
        runs_here = not self._queue.shared
        self._slots.accepted(task.request_id, slot, runs_here=runs_here)
        if runs_here:
            self._accepted[task.request_id] = record
        return record

    def start(self, edge: Edge, *, consume: bool = True) -> None:
        """Render through ``edge`` from now on and, with ``consume``, start taking tasks from the queue."""
        self._edge = edge
        if consume and self._consumer is None:
            self._consumer = asyncio.create_task(self._queue.run(self.handle, self.dead), name="queue-consumer")
            log.info("queue.consuming", shared=self._queue.shared)

    async def handle(self, request_id: str, resumed: bool) -> None:
        """Run one delivery of a task, unless it is finished already or must be given up."""
        accepted = self._accepted.pop(request_id, None)
        if accepted is not None:
            record = accepted
            resumed = False  # accepted by this process and not started yet (even if a start-up scan found it)
        else:
            found = await self._journal.get(request_id)
            if found is None or found.status not in RESUMABLE:
                log.info("queue.already_finished", request_id=request_id)
                return
            record = found
        task = await self._restore(record)
        if task is None:
            self._slots.not_run(request_id)
            return
        if self._attempts.exhausted(record.attempts):
            self._slots.not_run(request_id)
            await self._give_up(record, "interrupted")
            return
        # Started before and cut short (a continued task is queued again on purpose: not a restart to announce).
        resumed = resumed or (record.attempts > 0 and record.status != "queued")
        if resumed:
            log.info("task.resuming", request_id=request_id, attempts=record.attempts, status=record.status)
        await self._job(task, record, self._slots.for_run(request_id, task.origin.user_key), resumed=resumed)

    async def dead(self, request_id: str, deliveries: int) -> None:
        """The queue stopped delivering a task: fail it for good and tell its person."""
        log.warning("queue.dead_letter", request_id=request_id, deliveries=deliveries)
        record = await self._journal.get(request_id)
        if record is not None:
            await self._give_up(record, "dead_letter")

    async def continue_task(self, request_id: str, result: str) -> bool:
        """Continue a ``waiting`` task with ``result`` as its pending tool call's result; ``False`` if none waits.

        Any process may call this: the decision is journalled first (so a restart from here resumes the
        task with it). With a shared queue the task is queued again, for whichever replica is free (so the
        queue keeps its claims fresh while it runs); otherwise it runs here, holding a slot, to its answer.
        """
        return await self._continue(request_id, result)

    async def requeue_waiting(self, request_id: str) -> bool:
        """Run a ``waiting`` task again from its suspension, with no result: the gate is asked again.

        For decisions the hook itself looks up (an approval, by the task's tool call): the suspended call
        goes through the gate once more, which now allows or denies it. ``False`` if the task does not wait.
        """
        return await self._continue(request_id, None)

    async def _continue(self, request_id: str, result: str | None) -> bool:
        record = await self._journal.get(request_id)
        if record is None or record.status != "waiting" or not record.checkpoint:
            return False
        task = await self._restore(record)
        if task is None:
            return False
        state = LoopState.from_json(record.checkpoint)
        if result is not None:
            state = state.decided(self._redact(result))
        # A decision starts a new run, not a retry of a crashed one: the attempts count crashes from here.
        record = dataclasses.replace(
            record, status="queued", checkpoint=state.to_json(), attempts=0, updated_at=time.time()
        )
        log.info("task.continued", request_id=request_id, shared=self._queue.shared, decided=result is not None)
        if self._queue.shared:
            await self._queue.submit(record)
            return True
        await self._journal.put(record)
        slot = self._slots.for_run(request_id, task.origin.user_key)
        self._track(self._guarded(task, record, slot, resumed=False), name=request_id)
        return True

    async def _job(self, task: Task, record: TaskRecord, slot: Slot, *, resumed: bool) -> None:
        """Run the task as a job drain can wait for (and cut short), awaiting its end."""
        await self._track(self._guarded(task, record, slot, resumed=resumed), name=task.request_id)

    def _track(self, job: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(job, name=name)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        return task

    async def _guarded(self, task: Task, record: TaskRecord, slot: Slot, *, resumed: bool) -> None:
        """Render and run ``task`` holding ``slot``; a bug is reported to its person (the one catch-all)."""
        structlog.contextvars.bind_contextvars(request_id=task.request_id)
        target = record.target
        try:
            rendering = await self._started_edge().open(task, target, resumed=resumed)
            if rendering.target is not None and rendering.target != record.target:
                # Stored by the run's first journal write, which follows at once (one write instead of two).
                target = rendering.target
                record = dataclasses.replace(record, target=target, updated_at=time.time())
            await self._run(rendering.task or task, rendering.sink, record)
        except Exception as exc:  # noqa: BLE001 - the outermost handler of a task: report, never crash
            log.error("task.crashed", error_type=type(exc).__name__)  # noqa: TRY400 - no tracebacks in logs
            try:
                if self._edge is not None:
                    await self._edge.report_bug(task, target)
            except Exception as again:  # noqa: BLE001 - telling the person failed too; the log is all that is left
                log.error("task.crash_report_failed", error_type=type(again).__name__)  # noqa: TRY400
        finally:
            slot.release()

    def _started_edge(self) -> Edge:
        if self._edge is None:  # pragma: no cover - start() comes before anything is consumed
            raise RuntimeError("the lifecycle was not started with an edge")
        return self._edge

    async def _run(self, task: Task, sink: EventSink, record: TaskRecord) -> None:
        journalled = JournalSink(MetricsSink(sink, self._metrics), self._journal, known=record)
        if task.runbook is not None and self._runbooks is not None:
            # One task for the journal and metrics; its steps' outcomes are its checkpoint (re-used on resume).
            await self._runbooks.run(task, journalled, checkpoint=record.checkpoint)
        elif record.checkpoint:
            await self._runner.resume(task, LoopState.from_json(record.checkpoint), journalled)
        else:
            await self._runner.run(task, journalled)

    async def _restore(self, record: TaskRecord) -> Task | None:
        """The record's task rebuilt; a record whose task cannot be rebuilt is given up."""
        try:
            return Task.model_validate_json(record.task_json)
        except ValueError:
            await self._give_up(record, "unrecoverable")
            return None

    async def _give_up(self, record: TaskRecord, reason: GiveUpReason) -> None:
        """Fail an unfinished task for good, and tell its person why."""
        await self._journal.put(
            dataclasses.replace(record, status="failed", error_code=reason, checkpoint="", updated_at=time.time())
        )
        log.warning("task.given_up", request_id=record.request_id, reason=reason, attempts=record.attempts)
        if self._edge is None:  # pragma: no cover - start() comes before anything is consumed
            return
        try:
            await self._edge.report_given_up(record, GiveUp(record.request_id, reason, record.attempts))
        except Exception as exc:  # noqa: BLE001 - the record says it; a failed notice is logged only
            log.warning("task.give_up_notice_failed", error_type=type(exc).__name__)

    async def drain(self, grace: float) -> int:
        """Stop admitting, let running tasks finish within ``grace``, stop consuming; return how many were cut."""
        self._admission.close()
        jobs = set(self._jobs)
        if jobs:
            log.info("shutdown.draining", in_flight=len(jobs), grace_seconds=grace)
        pending: set[asyncio.Task[None]] = set()
        if jobs:
            _, pending = await asyncio.wait(jobs, timeout=grace)
        await self._queue.wait_idle(0 if pending else grace)
        for job in pending:
            job.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)
        for job in pending:
            await self._mark_interrupted(job.get_name())
        self._queue.stop()
        if self._consumer is not None:
            self._consumer.cancel()
            await asyncio.gather(self._consumer, return_exceptions=True)
            self._consumer = None
        return len(pending)

    async def _mark_interrupted(self, request_id: str) -> None:
        record = await self._journal.get(request_id)
        if record is not None and record.status in RESUMABLE:
            await self._journal.put(dataclasses.replace(record, status="interrupted", updated_at=time.time()))
            log.info("task.interrupted", request_id=request_id)
