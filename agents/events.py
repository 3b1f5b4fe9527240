"""What the core tells the edge while a task runs.

The runner publishes these to an :class:`EventSink`; the Slack edge renders them (status, answer, error)
and the console prints them. Nothing here knows how it will be shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from agents.approvals import Approval
    from agents.budgets import BudgetWarning
    from agents.errors import TaskError
    from agents.llm import Usage
    from agents.router import Routing
    from agents.task import Task
    from agents.toolcalls import RecordedCall

__all__ = [
    "AgentRouted",
    "AnswerReset",
    "EventSink",
    "LoopCheckpoint",
    "RunbookStarted",
    "StepFinished",
    "StepStarted",
    "TaskEvent",
    "TaskFailed",
    "TaskResult",
    "TaskStarted",
    "TaskSucceeded",
    "TaskSuspended",
    "ToolCallRecorded",
]


@dataclass(frozen=True, slots=True)
class TaskResult:
    """A finished answer and what it cost."""

    text: str
    agent: str
    routing_reason: str
    model_id: str
    usage: Usage
    seconds: float
    attempts: int
    sources: tuple[str, ...] = ()
    failed_sources: tuple[str, ...] = ()
    #: The daily token budgets this task left at 80% or more, for a warning under the answer.
    budget: BudgetWarning | None = None


@dataclass(frozen=True, slots=True)
class TaskStarted:
    """The task left admission and is about to be routed."""

    task: Task


@dataclass(frozen=True, slots=True)
class AgentRouted:
    """An agent was chosen."""

    task: Task
    routing: Routing


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """More of the answer, as the model writes it."""

    task: Task
    text: str


@dataclass(frozen=True, slots=True)
class AnswerReset:
    """The answer shown so far is void: from now on it is exactly ``text``, and more deltas follow.

    Sent when a model reply broke off mid-stream and is being asked for again (``reason`` is the vendor
    code, e.g. ``ModelStreamErrorException``), or when text already shown must be withdrawn (a guardrail
    stopped it, the turn is retried with a trimmed context). The edge replaces what it showed; it never
    shows a second answer under the first.
    """

    task: Task
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class ToolStarted:
    """An agent started reading a data source; ``progress`` says what, for people."""

    task: Task
    tool: str
    source: str
    progress: str


@dataclass(frozen=True, slots=True)
class ToolFinished:
    """A tool call ended; ``ok`` is False when its data source failed; ``record`` is what the journal keeps."""

    task: Task
    tool: str
    source: str
    ok: bool
    seconds: float
    record: RecordedCall | None = None


@dataclass(frozen=True, slots=True)
class ToolCallRecorded:
    """A tool call's record for the journal, with nothing to show: a runbook step's call.

    A run shows its steps (one card each), not their tools, so the executor keeps the steps'
    :class:`ToolFinished` inside and passes on only their records, like an agent task's, for audit,
    eval export and sources. The edges ignore it.
    """

    task: Task
    record: RecordedCall


@dataclass(frozen=True, slots=True)
class TaskSucceeded:
    """The final answer."""

    task: Task
    result: TaskResult


@dataclass(frozen=True, slots=True)
class TaskFailed:
    """The task ended without an answer; ``error`` says why in domain terms."""

    task: Task
    error: TaskError
    seconds: float


@dataclass(frozen=True, slots=True)
class LoopCheckpoint:
    """The agent loop's resumable state (``agents.loopstate``, as JSON) before a turn's tools run.

    The journal keeps it, so a task resumed after a restart continues from this turn with the same tool
    calls (and their idempotency keys) instead of asking the model again from the start.
    """

    task: Task
    state: str


@dataclass(frozen=True, slots=True)
class TaskSuspended:
    """The loop stopped before ``tool`` ran and waits for a decision (e.g. a person's approval).

    ``state`` is what :meth:`agents.orchestrator.Orchestrator.continue_task` continues from; ``reason`` is
    the hook's, for the person. The task holds no running slot until it is continued.
    """

    task: Task
    tool: str
    reason: str
    state: str
    #: The approval request to show as an action card (``None``: nothing new to show).
    approval: Approval | None = None


@dataclass(frozen=True, slots=True)
class RunbookStarted:
    """A runbook run began: its steps in order, as ``(step id, agent)``, for the edge's checklist or plan.

    ``done`` names the steps a resumed run re-uses from its journal (a :class:`StepFinished` follows for each).
    """

    task: Task
    runbook: str
    steps: tuple[tuple[str, str], ...]
    done: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StepStarted:
    """A runbook step started on its agent."""

    task: Task
    step: str
    agent: str


@dataclass(frozen=True, slots=True)
class StepFinished:
    """A runbook step ended: ``ok``, or ``error`` says why not (``skipped``: it never ran).

    ``output`` is the step's full answer (for the edge's per-step file); ``reused``: taken from the journal
    by a resumed run, with no model call.
    """

    task: Task
    step: str
    agent: str
    ok: bool
    seconds: float
    output: str = ""
    error: str = ""
    sources: tuple[str, ...] = ()
    skipped: bool = False
    reused: bool = False


TaskEvent = (
    TaskStarted
    | AgentRouted
    | AnswerDelta
    | AnswerReset
    | ToolStarted
    | ToolFinished
    | ToolCallRecorded
    | LoopCheckpoint
    | RunbookStarted
    | StepStarted
    | StepFinished
    | TaskSuspended
    | TaskSucceeded
    | TaskFailed
)


class EventSink(Protocol):
    """Receives a task's events in order."""

    async def emit(self, event: TaskEvent) -> None:
        """Handle one event; failures to deliver are the sink's to report."""
        ...
