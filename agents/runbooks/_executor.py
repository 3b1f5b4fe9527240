"""A runbook run as one task: its steps on the agent loop, its events, its journal, its resume.

The run is one task for everything outside (one ``TaskStarted``, one ``TaskSucceeded``/``TaskFailed``: rate
limits, history, request ID and metrics count it once). Inside, each step runs the existing agent loop
(:class:`~agents.runner.TaskRunner`) with its agent, on a copy of the task whose text is the step's
rendered prompt; the step's own events stay inside, translated into :class:`StepStarted` and
:class:`StepFinished`. As each step finishes, the outcomes so far are published as the run's
:class:`LoopCheckpoint` (a :class:`RunbookState`), which the journal keeps; a resumed run re-uses those
outputs without asking the model again and runs only the rest.

The steps' tool calls are the run's evidence as much as an agent task's are: each step's records (marked
with the step's id) go out as :class:`ToolCallRecorded` just before that step's checkpoint, so the journal
writes a step's calls together with its outcome: a resumed run neither loses nor repeats them. The thread
still shows one card per step, not per tool.

The answer is the output of the step(s) no other step needs; when there is one such step, its text
streams as the run's answer while it is written.

A step stopped by a used-up daily token budget (:class:`BudgetExceeded`, checked before each of its model
calls) stops the whole run, ``continue_on_error`` or not: the steps that finished are the answer so far,
the rest are skipped, and the run fails with the budget's refusal, naming the step it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import structlog

from agents.errors import BudgetExceeded, InvalidTask, RunbookFailed, StoreUnavailable
from agents.events import (
    AnswerDelta,
    AnswerReset,
    LoopCheckpoint,
    RunbookStarted,
    StepFinished,
    StepStarted,
    TaskFailed,
    TaskResult,
    TaskStarted,
    TaskSucceeded,
    TaskSuspended,
    ToolCallRecorded,
    ToolFinished,
)
from agents.llm import Usage
from agents.runbooks._scheduler import StepOutcome, run_steps

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agents.budgets import BudgetGuard
    from agents.errors import TaskError
    from agents.events import EventSink, TaskEvent
    from agents.runbooks._library import RunbookLibrary
    from agents.runbooks._model import Runbook, RunbookStep
    from agents.runner import TaskRunner
    from agents.task import Task
    from agents.toolcalls import RecordedCall

__all__ = ["RunbookRunner", "RunbookState"]

log = structlog.get_logger(__name__)

_KIND = "runbook"


@dataclass(frozen=True, slots=True)
class RunbookState:
    """The journalled progress of a run: each finished step's outcome."""

    steps: dict[str, StepOutcome]

    def to_json(self) -> str:
        """The checkpoint text (told apart from an agent loop's by its ``kind``)."""
        return json.dumps({"kind": _KIND, "steps": {k: v.as_json() for k, v in self.steps.items()}})

    @classmethod
    def from_json(cls, text: str) -> RunbookState:
        """A checkpoint read back; an empty or foreign one is an empty state (the run starts over)."""
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            return cls({})
        if not isinstance(data, dict) or data.get("kind") != _KIND or not isinstance(data.get("steps"), dict):
            return cls({})
        steps = {str(k): StepOutcome.from_json(v) for k, v in data["steps"].items() if isinstance(v, dict)}
        # A step that failed is run again on resume; a skipped one was never run.
        return cls({k: v for k, v in steps.items() if v.ok})


@dataclass(slots=True)
class _StepCapture:
    """The sink of one step's agent loop: keeps its outcome and tool calls, streams its text when it is the answer."""

    outer: Task
    step: str
    emit: Callable[[TaskEvent], Awaitable[None]] | None  # the run's (locked) emitter when this step streams the answer
    calls: list[RecordedCall]  # the run's list for this step: kept even if the step is cancelled (its timeout)
    result: TaskResult | None = None
    error: TaskError | None = None
    suspended: str = ""
    sources: list[str] = field(default_factory=list)

    async def emit_event(self, event: TaskEvent) -> None:
        if isinstance(event, TaskSucceeded):
            self.result = event.result
        elif isinstance(event, TaskFailed):
            self.error = event.error
        elif isinstance(event, TaskSuspended):
            self.suspended = event.tool
        elif isinstance(event, ToolFinished):
            if event.ok:
                self.sources.append(event.source)
            if event.record is not None:
                self.calls.append(replace(event.record, step=self.step))
        elif isinstance(event, AnswerDelta) and self.emit is not None:
            await self.emit(AnswerDelta(self.outer, event.text))
        elif isinstance(event, AnswerReset) and self.emit is not None:
            await self.emit(AnswerReset(self.outer, event.text, event.reason))


class _Sink:
    def __init__(self, capture: _StepCapture) -> None:
        self._capture = capture

    async def emit(self, event: TaskEvent) -> None:
        await self._capture.emit_event(event)


class RunbookRunner:
    """Runs runbook tasks (``task.runbook`` set) through the agent loop, step by step."""

    def __init__(
        self,
        *,
        library: RunbookLibrary,
        runner: TaskRunner,
        max_parallel: int = 4,
        default_timeout: float = 300.0,
        redact: Callable[[str], str] = lambda text: text,
        hold: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
        clock: Callable[[], float] = time.monotonic,
        budget: BudgetGuard | None = None,
    ) -> None:
        self._budget = budget  # the run's answer warns when it left a daily token budget at 80% or more
        self.library = library
        self._runner = runner
        self._max_parallel = max_parallel
        self._default_timeout = default_timeout
        self._redact = redact
        self._hold = hold
        self._clock = clock

    async def run(self, task: Task, sink: EventSink, *, checkpoint: str = "") -> None:
        """Run ``task``'s runbook to its answer, re-using the steps ``checkpoint`` says are done."""
        call = task.runbook
        if call is None:  # pragma: no cover - the lifecycle only sends runbook tasks here
            raise ValueError("not a runbook task")
        started = self._clock()
        lock = asyncio.Lock()

        async def emit(event: TaskEvent) -> None:
            async with lock:  # steps finish concurrently; the journal sees one event at a time
                await sink.emit(event)

        await emit(TaskStarted(task))
        runbook = self.library.get(call.name)
        if runbook is None:
            error = InvalidTask(f"the runbook `{call.name}` is no longer available", hint="runbooks")
            await emit(TaskFailed(task, error, self._clock() - started))
            return
        done = RunbookState.from_json(checkpoint).steps
        finals = runbook.final_steps()
        streamed = finals[0].id if len(finals) == 1 else None
        log.info("runbook.started", runbook=runbook.name, reused=sorted(done))
        await emit(RunbookStarted(task, runbook.name, tuple((s.id, s.agent) for s in runbook.steps), tuple(done)))
        finished: dict[str, StepOutcome] = dict(done)
        for step_id, outcome in done.items():
            step = runbook.step(step_id)
            await emit(_finished(task, step, outcome))

        async def on_start(step: RunbookStep) -> None:
            await emit(StepStarted(task, step.id, step.agent))

        async def on_finish(step: RunbookStep, outcome: StepOutcome) -> None:
            await _pass_on(task, calls.pop(step.id, []), emit)  # written with the checkpoint below
            if not outcome.skipped:
                finished[step.id] = outcome
                await self._journal(task, emit, finished)
            # Logged once the outcome is journalled: from this line on, a resume re-uses the step.
            log.info("runbook.step_finished", step=step.id, ok=outcome.ok, seconds=round(outcome.seconds, 3))
            await emit(_finished(task, step, outcome))

        budget_hits: dict[str, BudgetExceeded] = {}
        calls: dict[str, list[RecordedCall]] = {}  # each running step's tool calls, until it finishes

        async def run_step(step: RunbookStep, prompt: str) -> StepOutcome:
            answer = emit if step.id == streamed else None
            return await self._step(
                task, step, prompt, emit=answer, budget_hits=budget_hits, calls=calls.setdefault(step.id, [])
            )

        results = await run_steps(
            runbook,
            call.params,
            run_step=run_step,
            done=done,
            max_parallel=self._max_parallel,
            default_timeout=self._default_timeout,
            redact=self._redact,
            on_start=on_start,
            on_finish=on_finish,
            hold=self._hold,
            clock=self._clock,
        )
        if budget_hits:
            await self._stop_for_budget(task, runbook, results, budget_hits, emit, started=started)
            return
        await self._finish(task, runbook, results, emit, started=started, streamed=streamed)

    async def _journal(
        self, task: Task, emit: Callable[[TaskEvent], Awaitable[None]], finished: dict[str, StepOutcome]
    ) -> None:
        try:
            await emit(LoopCheckpoint(task, RunbookState({k: v for k, v in finished.items() if v.ok}).to_json()))
        except StoreUnavailable:
            log.warning("runbook.step_not_journalled")  # the run goes on; a resume would run the step again

    async def _step(
        self,
        task: Task,
        step: RunbookStep,
        prompt: str,
        *,
        emit: Callable[[TaskEvent], Awaitable[None]] | None,
        budget_hits: dict[str, BudgetExceeded],
        calls: list[RecordedCall],
    ) -> StepOutcome:
        """One step on the agent loop, with its own agent and the rendered prompt as its text.

        A step refused by a token budget is kept in ``budget_hits`` and halts the run; its tool calls go to ``calls``.
        """
        step_task = task.model_copy(update={"text": prompt, "agent": step.agent, "runbook": None, "context": ()})
        capture = _StepCapture(task, step.id, emit, calls)
        await self._runner.run(step_task, _Sink(capture))
        if capture.result is not None:
            result = capture.result
            return StepOutcome(ok=True, output=result.text, sources=result.sources, usage=result.usage)
        if capture.suspended:
            return StepOutcome(
                ok=False, error=f"it needs a decision ({capture.suspended}), which runbook steps cannot wait for"
            )
        if isinstance(capture.error, BudgetExceeded):
            budget_hits[step.id] = capture.error
            return StepOutcome(
                ok=False, error=f"{capture.error.budget} is used up", sources=tuple(capture.sources), halts=True
            )
        reason = str(capture.error) if capture.error is not None else "it ended without an answer"
        return StepOutcome(ok=False, error=reason, sources=tuple(capture.sources))

    async def _stop_for_budget(
        self,
        task: Task,
        runbook: Runbook,
        results: dict[str, StepOutcome],
        budget_hits: dict[str, BudgetExceeded],
        emit: Callable[[TaskEvent], Awaitable[None]],
        *,
        started: float,
    ) -> None:
        """The run ran out of budget: the finished steps' outputs as the answer so far, then the refusal."""
        finished = [s for s in runbook.steps if results[s.id].ok]
        if finished:
            parts = [f"*{s.id}*\n{results[s.id].output}" for s in finished]
            await emit(AnswerDelta(task, "\n\n".join(parts) + "\n\n"))
        step = next(s.id for s in runbook.steps if s.id in budget_hits)
        log.warning("runbook.budget_exceeded", step=step, finished=[s.id for s in finished])
        await emit(TaskFailed(task, budget_hits[step].at_step(step), self._clock() - started))

    async def _finish(
        self,
        task: Task,
        runbook: Runbook,
        results: dict[str, StepOutcome],
        emit: Callable[[TaskEvent], Awaitable[None]],
        *,
        started: float,
        streamed: str | None,
    ) -> None:
        seconds = self._clock() - started
        failed = [
            s for s in runbook.steps if not results[s.id].ok and not results[s.id].skipped and not s.continue_on_error
        ]
        if failed:
            step = failed[0]
            log.warning("runbook.failed", step=step.id)
            await emit(TaskFailed(task, RunbookFailed(step.id, results[step.id].error), seconds))
            return
        finals = runbook.final_steps()
        if streamed is not None:
            text = (
                results[streamed].output
                if results[streamed].ok
                else f"_(step {streamed} failed: {results[streamed].error})_"
            )
            if results[streamed].reused or not results[streamed].ok:
                await emit(AnswerDelta(task, text))
        else:
            parts = [f"*{s.id}*\n{results[s.id].output or '(failed: ' + results[s.id].error + ')'}" for s in finals]
            text = "\n\n".join(parts)
            await emit(AnswerDelta(task, text))
        usage = Usage()
        for outcome in results.values():
            usage += outcome.usage
        sources = tuple(dict.fromkeys(src for outcome in results.values() for src in outcome.sources))
        result = TaskResult(
            budget=None if self._budget is None else await self._budget.warning(task.origin),
            text=text,
            agent=f"runbook {runbook.name}",
            routing_reason=f"runbook {runbook.name}",
            model_id="",
            usage=usage,
            seconds=seconds,
            attempts=len([o for o in results.values() if not o.reused and not o.skipped]),
            sources=sources,
        )
        log.info("runbook.succeeded", runbook=runbook.name, seconds=round(seconds, 3))
        await emit(TaskSucceeded(task, result))


async def _pass_on(task: Task, records: list[RecordedCall], emit: Callable[[TaskEvent], Awaitable[None]]) -> None:
    """A finished step's tool calls, for the journal (the edges show the step, not its tools)."""
    for record in records:
        await emit(ToolCallRecorded(task, record))


def _finished(task: Task, step: RunbookStep, outcome: StepOutcome) -> StepFinished:
    return StepFinished(
        task,
        step.id,
        step.agent,
        ok=outcome.ok,
        seconds=outcome.seconds,
        output=outcome.output,
        error=outcome.error,
        sources=outcome.sources,
        skipped=outcome.skipped,
        reused=outcome.reused,
    )
