"""The core's front door: every surface submits text here, and the core does the rest.

:meth:`Orchestrator.submit` is the one entry point of the slash command, mentions, DMs, the agent pane and
the console: it prepares the text (help, validation), admits it (policy, limits), and accepts it (journal
and queue, before the person is told), returning what the surface should say. Running, resuming, giving
up, continuing and draining belong to :mod:`agents.lifecycle`, started with the edge's :class:`Edge`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from agents.approvals import ApprovalCards
from agents.attempts import Attempts
from agents.errors import AdmissionDenied, InvalidTask, StoreUnavailable
from agents.health import StoreHealth
from agents.journal import MemoryJournal
from agents.lifecycle import TaskLifecycle
from agents.metrics import Metrics
from agents.redaction import Redactor
from agents.runbooks import RunbookRunner, parse_run, resolve
from agents.task import MAX_TASK_CHARS, HelpRequest, Task, clean_text, parse_text
from agents.taskqueue import LocalTaskQueue
from agents.toolcalls import load_calls

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from agents.admission import Admission, Slot
    from agents.approvals import Approval, ApprovalDesk
    from agents.catalog import AgentRegistry
    from agents.dedupe import Deduper
    from agents.health import ModelHealth
    from agents.journal import TaskJournal, TaskRecord, Usage
    from agents.lifecycle import Edge
    from agents.runbooks import RunbookLibrary
    from agents.runner import TaskRunner
    from agents.task import ContextMessage, Origin, SharedFile
    from agents.taskqueue import TaskQueue
    from agents.toolcalls import RecordedCall

__all__ = ["Accepted", "HelpWanted", "Orchestrator", "Refused", "RunbooksWanted", "Submission"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Accepted:
    """The task is journalled and queued: tell the person it is on its way."""

    request_id: str
    agent: str | None


@dataclass(frozen=True, slots=True)
class HelpWanted:
    """The person asked for help (or sent nothing): show the agents and the limits."""

    registry: AgentRegistry
    rate_limit: str
    max_per_user: int


@dataclass(frozen=True, slots=True)
class RunbooksWanted:
    """The person asked for the list of runbooks (``runbooks``): show each with its parameters and an example."""

    library: RunbookLibrary


@dataclass(frozen=True, slots=True)
class Refused:
    """Not accepted: invalid, not admitted, or not recorded; ``error`` says why, in domain terms."""

    error: InvalidTask | AdmissionDenied | StoreUnavailable


Submission = Accepted | HelpWanted | RunbooksWanted | Refused


class Orchestrator:
    """Validation, admission and the task lifecycle, for any chat surface."""

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
        queue: TaskQueue | None = None,
        redactor: Redactor | None = None,
        store_health: StoreHealth | None = None,
        max_attempts: int = 2,
        runbooks: RunbookLibrary | None = None,
        runbook_limits: tuple[int, float] = (4, 300.0),
        clock: Callable[[], float] = time.monotonic,
        approvals: ApprovalDesk | None = None,
    ) -> None:
        #: The process's redactor (its own secrets and the patterns), for every front end's output too.
        self.redactor = redactor or Redactor()
        self.store_health = store_health or StoreHealth(None, name="in memory")
        self.registry = registry
        self.metrics = metrics or Metrics()
        self.deduper = deduper
        self.model_health = model_health
        self._journal = journal or MemoryJournal()
        self._admission = admission
        #: The runbooks ``run <runbook> …`` may name (``None``: runbooks are off).
        self.runbooks = runbooks
        self.metrics.track_in_flight(lambda: self._admission.in_flight)
        self._lifecycle = TaskLifecycle(
            journal=self._journal,
            queue=queue or LocalTaskQueue(self._journal),
            admission=admission,
            runner=runner,
            metrics=self.metrics,
            attempts=Attempts(max_attempts),
            redactor=self.redactor,
            runbooks=None
            if runbooks is None
            else RunbookRunner(
                library=runbooks,
                runner=runner,
                max_parallel=runbook_limits[0],
                default_timeout=runbook_limits[1],
                redact=self.redactor,
                hold=admission.holding,
            ),
        )
        self._clock = clock
        self._started = clock()
        #: Decisions on proposed actions (clicks on action cards, expiry); ``None``: no actions here.
        self.approvals = approvals
        if approvals is not None:
            approvals.bind(self._lifecycle.requeue_waiting)

    @property
    def uptime(self) -> float:
        """Seconds since the orchestrator was created."""
        return self._clock() - self._started

    @property
    def in_flight(self) -> int:
        """Tasks running in this process (started here or taken from the shared queue)."""
        return self._admission.in_flight

    @property
    def rate_limit(self) -> str:
        """The per-person rate limit, as configured (e.g. ``5/minute``)."""
        return self._admission.rate_limit

    @property
    def draining(self) -> bool:
        """Whether the process has stopped taking work (it is shutting down)."""
        return self._admission.closed

    async def submit(
        self,
        text: str,
        *,
        request_id: str,
        origin: Origin,
        target: str,
        context: Iterable[ContextMessage] = (),
        files: tuple[SharedFile, ...] = (),
    ) -> Submission:
        """Prepare, admit and accept ``text`` from ``origin``; ``target`` is the edge's note of where to answer.

        The answer is rendered later through the :class:`Edge` given to :meth:`start` (in this process or,
        with a shared queue, in any replica's).
        """
        try:
            prepared = self._prepare(text, request_id=request_id, origin=origin, context=context)
            if isinstance(prepared, HelpRequest):
                return HelpWanted(self.registry, self._admission.rate_limit, self._admission.max_per_user)
            if isinstance(prepared, RunbooksWanted):
                return prepared
            if files:
                prepared = prepared.model_copy(update={"files": files})
            slot = await self._admit(prepared)
            await self._lifecycle.accept(prepared, target=target, slot=slot)
        except StoreUnavailable as error:
            log.warning("task.not_recorded", error_code=error.code, store=error.store, reason=error.reason)
            return Refused(error)
        except (InvalidTask, AdmissionDenied) as error:
            log.info("task.refused", error_code=error.code)
            return Refused(error)
        log.info("task.accepted", surface=origin.surface, agent=prepared.agent)
        return Accepted(request_id, prepared.agent)

    def _prepare(
        self, text: str, *, request_id: str, origin: Origin, context: Iterable[ContextMessage]
    ) -> HelpRequest | RunbooksWanted | Task:
        try:
            if self.runbooks is not None:
                runbook = self._runbook_task(text, request_id=request_id, origin=origin)
                if runbook is not None:
                    return runbook
            parsed = parse_text(text, agents=self.registry.names())
        except InvalidTask as invalid:
            self.metrics.refused.labels(invalid.code).inc()
            raise
        if isinstance(parsed, HelpRequest):
            return parsed
        return Task(request_id=request_id, origin=origin, text=parsed.text, agent=parsed.agent, context=tuple(context))

    def _runbook_task(self, text: str, *, request_id: str, origin: Origin) -> RunbooksWanted | Task | None:
        """``runbooks`` (the list) or ``run <runbook> key=value …`` (a checked runbook task); else ``None``."""
        library = self.runbooks
        if library is None:  # pragma: no cover - the caller checks
            return None
        cleaned = clean_text(text)
        if cleaned.lower() in {"runbooks", "runbook", "run"}:
            return RunbooksWanted(library)
        parsed = parse_run(cleaned, names=[r.name for r in library.all()])
        if parsed is None:
            return None
        runbook, call = resolve(library, *parsed)
        log.info("runbook.requested", runbook=runbook.name)
        return Task(request_id=request_id, origin=origin, text=cleaned[:MAX_TASK_CHARS], runbook=call)

    async def _admit(self, task: Task) -> Slot:
        try:
            return await self._admission.admit(task.origin.user_key)
        except AdmissionDenied as refusal:
            self.metrics.refused.labels(refusal.code).inc()
            raise

    def start(self, edge: Edge, *, consume: bool = True) -> None:
        """Render tasks through ``edge``; with ``consume``, run tasks from the queue (resuming unfinished ones)."""
        self._lifecycle.start(edge, consume=consume)
        if self.approvals is not None:
            self.approvals.start(edge if isinstance(edge, ApprovalCards) else None, sweep=consume)

    async def continue_task(self, request_id: str, result: str) -> bool:
        """Continue a suspended (``waiting``) task with ``result`` as its pending tool call's result.

        Returns ``False`` when no such task waits. Runs it in this process (any process may), to its answer.
        """
        return await self._lifecycle.continue_task(request_id, result)

    async def drain(self, grace: float) -> int:
        """Stop admitting, wait up to ``grace`` seconds for running tasks; return how many were cut short."""
        if self.approvals is not None:
            await self.approvals.stop()
        return await self._lifecycle.drain(grace)

    async def history(self, workspace_id: str, *, user_id: str | None, limit: int) -> list[TaskRecord]:
        """The newest tasks of a workspace (of one person when ``user_id`` is given), newest first."""
        return await self._journal.recent(workspace_id, user_id=user_id, limit=limit)

    async def recent_actions(self, workspace_id: str, *, user_id: str | None, limit: int) -> list[Approval]:
        """The newest proposed actions of a workspace (those ``user_id`` asked for or decided, when given)."""
        if self.approvals is None:
            return []
        found = await self.approvals.store.recent(workspace_id, limit=limit * 4 if user_id else limit)
        if user_id is not None:
            found = [a for a in found if user_id in {a.requester_id, a.decided_by}]
        return found[:limit]

    async def usage(self, workspace_id: str, *, user_id: str | None, since: float) -> Usage:
        """Tasks and tokens since the wall-clock time ``since``."""
        return await self._journal.usage(workspace_id, user_id=user_id, since=since)

    async def tool_calls(self, request_id: str) -> tuple[RecordedCall, ...]:
        """The tool calls a task made, as journalled (for audit, eval export and an answer's sources)."""
        record = await self._journal.get(request_id)
        return load_calls(record.tool_calls) if record is not None else ()

    async def task_status(self, request_id: str) -> TaskRecord | None:
        """The journal's record of one task (for tests and operators)."""
        return await self._journal.get(request_id)
