"""The core's front door: every surface submits text here, and the core does the rest.

:meth:`Orchestrator.submit` is the one entry point of the slash command, mentions, DMs, the agent pane and
the console: it prepares the text (help, validation), authorizes it (the policy: an explicit agent or a
runbook is checked, a routed task may only go to the agents this person may use here, every decision is
an audit event), admits it (limits, daily token budgets), and accepts it (journal and queue, before the
person is told), returning what the surface should say. Running, resuming, giving up, continuing and
draining belong to :mod:`agents.lifecycle`, started with the edge's :class:`Edge`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from agents.attempts import Attempts
from agents.audit import audit
from agents.budgets import BudgetGuard, MemoryTokenBudgets
from agents.errors import AdmissionDenied, BudgetExceeded, InvalidTask, PolicyDenied, StoreUnavailable
from agents.feedback import MAX_FEEDBACK_TEXT, Feedback, FeedbackRefused, check_feedback, is_request_id, tally
from agents.health import StoreHealth
from agents.journal import MemoryJournal
from agents.lifecycle import TaskLifecycle
from agents.metrics import Metrics
from agents.policy import Place, Policy, PolicySource
from agents.redaction import Redactor
from agents.runbooks import RunbookRunner, parse_run, resolve
from agents.task import MAX_TASK_CHARS, HelpRequest, Task, clean_text, parse_text
from agents.taskqueue import LocalTaskQueue
from agents.toolcalls import load_calls

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from agents.admission import Admission, Slot
    from agents.budgets import UsageReport
    from agents.catalog import AgentRegistry, AgentSpec
    from agents.dedupe import Deduper
    from agents.feedback import FeedbackCount, Rating
    from agents.health import ModelHealth
    from agents.journal import TaskJournal, TaskRecord, Usage
    from agents.lifecycle import Edge
    from agents.runbooks import RunbookLibrary
    from agents.runner import TaskRunner
    from agents.task import ContextMessage, Origin, SharedFile
    from agents.taskqueue import TaskQueue
    from agents.toolcalls import RecordedCall

__all__ = ["Accepted", "HelpWanted", "Orchestrator", "Refused", "RunbooksWanted", "Submission", "UsageWanted"]

#: The one word that asks for the person's token usage today (``/orchestrate usage``), like ``runbooks``.
USAGE_WORD = "usage"


@dataclass(frozen=True, slots=True)
class _UsageRequest:
    """The text was exactly :data:`USAGE_WORD`."""


log = structlog.get_logger(__name__)

#: How far back ``usage`` counts ratings of answers for admins (as the App Home does): a week.
_FEEDBACK_WINDOW = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Accepted:
    """The task is journalled and queued: tell the person it is on its way."""

    request_id: str
    agent: str | None


@dataclass(frozen=True, slots=True)
class HelpWanted:
    """The person asked for help (or sent nothing): show the agents they may use there, and the limits."""

    agents: tuple[AgentSpec, ...]
    rate_limit: str
    max_per_user: int


@dataclass(frozen=True, slots=True)
class RunbooksWanted:
    """The person asked for the list of runbooks (``runbooks``): show each with its parameters and an example.

    ``allowed`` names the runbooks the policy lets this person run there (``None``: not checked yet).
    """

    library: RunbookLibrary
    allowed: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class UsageWanted:
    """The person asked for their token usage today (``usage``): their budgets and, for admins, the top users.

    ``report`` is ``None`` when the counters could not be read (``error`` says why).
    """

    report: UsageReport | None
    admin: bool
    error: StoreUnavailable | None = None
    #: For admins: the week's latest ratings of answers per agent and model.
    feedback: tuple[FeedbackCount, ...] = ()


@dataclass(frozen=True, slots=True)
class Refused:
    """Not accepted: invalid, not allowed, not admitted, over budget, or not recorded; ``error`` says why."""

    error: InvalidTask | PolicyDenied | AdmissionDenied | BudgetExceeded | StoreUnavailable


Submission = Accepted | HelpWanted | RunbooksWanted | UsageWanted | Refused


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
        policy: PolicySource | None = None,
        budget: BudgetGuard | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: Daily token budgets: checked at submit (and by the runner before every model call), reported by ``usage``.
        self.budget = budget or BudgetGuard(MemoryTokenBudgets())
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
        #: Who may use what, where (``ORCH_POLICY_FILE``, reloaded; the default policy without one).
        self.policy = policy or PolicySource.fixed(Policy.default())
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
                budget=self.budget,
            ),
        )
        self._clock = clock
        self._started = clock()

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
                agents = self.permitted_agents(origin.user_id, Place.of(origin))
                return HelpWanted(agents, self._admission.rate_limit, self._admission.max_per_user)
            if isinstance(prepared, RunbooksWanted):
                return RunbooksWanted(prepared.library, self.permitted_runbooks(origin.user_id, Place.of(origin)))
            if isinstance(prepared, _UsageRequest):
                return await self._usage(origin)
            if files:
                prepared = prepared.model_copy(update={"files": files})
            prepared = self._authorize(prepared)
            await self._within_budget(prepared)
            slot = await self._admit(prepared)
            await self._lifecycle.accept(prepared, target=target, slot=slot)
        except StoreUnavailable as error:
            log.warning("task.not_recorded", error_code=error.code, store=error.store, reason=error.reason)
            return Refused(error)
        except (InvalidTask, PolicyDenied, AdmissionDenied, BudgetExceeded) as error:
            log.info("task.refused", error_code=error.code)
            return Refused(error)
        log.info("task.accepted", surface=origin.surface, agent=prepared.agent)
        return Accepted(request_id, prepared.agent)

    def _prepare(
        self, text: str, *, request_id: str, origin: Origin, context: Iterable[ContextMessage]
    ) -> HelpRequest | RunbooksWanted | _UsageRequest | Task:
        if clean_text(text).lower() == USAGE_WORD:
            return _UsageRequest()  # exactly the one word; "usage of the api" is a question like any other
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

    def permitted_agents(self, user_id: str, place: Place) -> tuple[AgentSpec, ...]:
        """The agents ``user_id`` may use at ``place``, in the registry's order."""
        policy = self.policy.current()
        return tuple(agent for agent in self.registry.all() if policy.agent(user_id, place, agent.name).allowed)

    def permitted_runbooks(self, user_id: str, place: Place) -> frozenset[str]:
        """The runbooks ``user_id`` may run at ``place``."""
        if self.runbooks is None:
            return frozenset()
        policy = self.policy.current()
        return frozenset(r.name for r in self.runbooks.all() if policy.runbook(user_id, place, r.name).allowed)

    def _authorize(self, task: Task) -> Task:
        """Check the policy; the task as it may run (a routed one with the agents it may go to), or raise.

        An explicit ``agent:`` or a runbook is checked by name (a runbook's grant covers its steps' agents);
        a task left to the router may go only to the agents this person may use here, and is refused if
        there are none. Every decision is an audit event.
        """
        policy = self.policy.current()
        origin = task.origin
        place = Place.of(origin)
        if task.runbook is not None:
            what, asked = "runbook", task.runbook.name
            verdict = policy.runbook(origin.user_id, place, asked)
        elif task.agent is not None:
            what, asked = "agent", task.agent
            verdict = policy.agent(origin.user_id, place, asked)
        else:
            return self._authorize_routed(task, policy, place)
        self._audit(task, f"{what}:{asked}", allowed=verdict.allowed, rule=verdict.rule)
        if not verdict.allowed:
            self.metrics.refused.labels(PolicyDenied.code).inc()
            raise PolicyDenied(what=what, asked=asked, admins=policy.admins, rule=verdict.rule)
        return task

    def _authorize_routed(self, task: Task, policy: Policy, place: Place) -> Task:
        user_id = task.origin.user_id
        verdicts = {agent.name: policy.agent(user_id, place, agent.name) for agent in self.registry.all()}
        allowed = tuple(name for name, verdict in verdicts.items() if verdict.allowed)
        rules = sorted({verdict.rule for verdict in verdicts.values() if verdict.allowed}) or ["no rule allows any"]
        self._audit(task, "agent:*", allowed=bool(allowed), rule="; ".join(rules), agents=",".join(allowed))
        if not allowed:
            self.metrics.refused.labels(PolicyDenied.code).inc()
            raise PolicyDenied(what="agents", asked="*", admins=policy.admins, rule="no rule allows any agent")
        if len(allowed) == len(verdicts):
            return task  # no restriction to carry
        return task.model_copy(update={"allowed_agents": allowed})

    def _audit(self, task: Task, asked: str, *, allowed: bool, rule: str, **details: str) -> None:
        audit(
            "policy",
            user_id=task.origin.user_id,
            channel_id=task.origin.channel_id,
            asked=asked,
            decision="allowed" if allowed else "denied",
            rule=rule,
            request_id=task.request_id,
            surface=task.origin.surface,
            **details,
        )

    async def _usage(self, origin: Origin) -> UsageWanted:
        admin = self.policy.current().is_admin(origin.user_id)  # admins see the workspace's top users
        try:
            report = await self.budget.report(origin, admin=admin)
            week = time.time() - _FEEDBACK_WINDOW if admin else None
            ratings = await self.feedback_counts(origin.workspace_id, since=week) if week is not None else []
            return UsageWanted(report, admin=admin, feedback=tuple(ratings))
        except StoreUnavailable as error:
            log.warning("usage.store_unavailable", store=error.store, reason=error.reason)
            return UsageWanted(None, admin=admin, error=error)

    async def _within_budget(self, task: Task) -> None:
        """Refuse at once when a daily token budget is already used up: no queue round trip, no model call."""
        try:
            await self.budget.check(task.origin, stage="submit")
        except BudgetExceeded as refusal:
            self.metrics.refused.labels(refusal.code).inc()
            raise

    async def _admit(self, task: Task) -> Slot:
        try:
            return await self._admission.admit(task.origin.user_key)
        except AdmissionDenied as refusal:
            self.metrics.refused.labels(refusal.code).inc()
            raise

    def start(self, edge: Edge, *, consume: bool = True) -> None:
        """Render tasks through ``edge``; with ``consume``, run tasks from the queue (resuming unfinished ones)."""
        self._lifecycle.start(edge, consume=consume)

    async def continue_task(self, request_id: str, result: str) -> bool:
        """Continue a suspended (``waiting``) task with ``result`` as its pending tool call's result.

        Returns ``False`` when no such task waits. Runs it in this process (any process may), to its answer.
        """
        return await self._lifecycle.continue_task(request_id, result)

    async def drain(self, grace: float) -> int:
        """Stop admitting, wait up to ``grace`` seconds for running tasks; return how many were cut short."""
        return await self._lifecycle.drain(grace)

    async def history(self, workspace_id: str, *, user_id: str | None, limit: int) -> list[TaskRecord]:
        """The newest tasks of a workspace (of one person when ``user_id`` is given), newest first."""
        return await self._journal.recent(workspace_id, user_id=user_id, limit=limit)

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

    async def record_feedback(
        self,
        request_id: str,
        *,
        user_id: str,
        rating: Rating,
        workspace_id: str,
        channel_id: str,
        at: float | None = None,
    ) -> Feedback | FeedbackRefused:
        """Keep ``user_id``'s ``rating`` of ``request_id``'s answer, given at ``at`` (default: now).

        ``request_id`` came from a button, so it is only an id: the task must exist, be answered, and
        belong to ``workspace_id`` and ``channel_id`` (where the click was), or the rating is refused
        and logged. A rating older than the one kept for that person is dropped (the latest wins).
        Raises :class:`~agents.errors.StoreUnavailable` when the journal cannot be reached.
        """
        record = await self._journal.get(request_id) if is_request_id(request_id) else None
        refused = check_feedback(record, request_id, workspace_id=workspace_id, channel_id=channel_id)
        if refused is not None or record is None:
            refused = refused or FeedbackRefused("unknown_task")
            log.warning("feedback.refused", reason=refused.reason)
            return refused
        feedback = Feedback(
            request_id=request_id,
            user_id=user_id,
            rating=rating,
            at=time.time() if at is None else at,
            workspace_id=workspace_id,
            agent=record.agent or "",
            model_id=record.model_id,
        )
        if await self._journal.put_feedback(feedback):
            self.metrics.feedback.labels(feedback.agent, feedback.model_id, rating).inc()
            log.info("feedback.recorded", rated=request_id, rating=rating, agent=feedback.agent)
        else:
            log.info("feedback.superseded", rated=request_id, rating=rating)
        return feedback

    async def explain_feedback(self, request_id: str, *, user_id: str, workspace_id: str, text: str) -> bool:
        """Attach ``text`` ("what was wrong?"), redacted and bounded, to ``user_id``'s rating of the task.

        Only a person who rated the task (in the workspace it belongs to) can explain; anything else is
        refused and logged. Returns whether the text was kept.
        """
        record = await self._journal.get(request_id) if is_request_id(request_id) else None
        if record is None or record.workspace_id != workspace_id:
            log.warning("feedback.text_refused", reason="unknown_task")
            return False
        cleaned = self.redactor(text.strip())[:MAX_FEEDBACK_TEXT]
        if not cleaned or not await self._journal.explain_feedback(request_id, user_id, cleaned):
            log.warning("feedback.text_refused", reason="empty" if not cleaned else "not_rated")
            return False
        log.info("feedback.explained", rated=request_id, chars=len(cleaned))
        return True

    async def feedback(self, request_id: str) -> list[Feedback]:
        """Each person's latest rating of a task (with their "what was wrong?"), for eval export and audit."""
        return await self._journal.feedback(request_id)

    async def feedback_counts(self, workspace_id: str, *, since: float) -> list[FeedbackCount]:
        """Latest ratings per agent and model given since the wall-clock time ``since``."""
        return tally(await self._journal.feedback_since(workspace_id, since=since))
