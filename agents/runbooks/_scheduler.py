"""Running a runbook's step DAG: who starts when, how many at once, and what a failure stops.

Steps without ``needs`` start at once; a step starts when every step it needs has finished, in file
order, at most ``max_parallel`` at a time. A step that fails or times out ends the run unless it has
``continue_on_error``: nothing new starts, the steps already running finish, and the rest are skipped.
A step whose outcome ``halts`` (a used-up token budget: every later step would be refused too) ends the run
even with ``continue_on_error``.
A step whose need failed with ``continue_on_error`` still runs, and its prompt sees that need's error.

The step itself is a parameter (``run_step``): production runs the agent loop, tests a fake with an
injected clock. Steps in ``done`` (a resumed run's journal) are not run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateError

from agents.llm import Usage
from agents.runbooks._templates import render, step_view

if TYPE_CHECKING:
    from collections.abc import Mapping

    from agents.runbooks._model import Runbook, RunbookStep

__all__ = ["StepOutcome", "StepRunner", "run_steps"]


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """How a step ended. ``skipped``: it never ran; ``reused``: taken from a resumed run's journal."""

    ok: bool
    output: str = ""
    error: str = ""
    seconds: float = 0.0
    sources: tuple[str, ...] = ()
    usage: Usage = field(default_factory=Usage)
    skipped: bool = False
    reused: bool = False
    #: The run cannot go on at all (``error`` says why), whatever the step's ``continue_on_error``.
    halts: bool = False

    def as_json(self) -> dict[str, object]:
        """The journalled form (see :meth:`from_json`)."""
        return {
            "ok": self.ok,
            "output": self.output,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "sources": list(self.sources),
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> StepOutcome:
        """A journalled outcome, marked as reused."""
        sources = data.get("sources")
        return cls(
            ok=bool(data.get("ok")),
            output=str(data.get("output", "")),
            error=str(data.get("error", "")),
            seconds=float(str(data.get("seconds", 0.0))),
            sources=tuple(str(s) for s in sources) if isinstance(sources, list) else (),
            usage=Usage(int(str(data.get("input_tokens", 0))), int(str(data.get("output_tokens", 0)))),
            reused=True,
        )


#: Runs one step with its rendered prompt; raising is a bug, a failure is an outcome with ``ok=False``.
StepRunner = Callable[["RunbookStep", str], Awaitable[StepOutcome]]


async def run_steps(
    runbook: Runbook,
    params: Mapping[str, object],
    *,
    run_step: StepRunner,
    done: Mapping[str, StepOutcome] | None = None,
    max_parallel: int = 4,
    default_timeout: float = 300.0,
    redact: Callable[[str], str] = lambda text: text,
    on_start: Callable[[RunbookStep], Awaitable[None]] | None = None,
    on_finish: Callable[[RunbookStep, StepOutcome], Awaitable[None]] | None = None,
    hold: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, StepOutcome]:
    """Run every step not in ``done``; each step's outcome, in the runbook's order."""
    results: dict[str, StepOutcome] = {k: v for k, v in (done or {}).items() if k in {s.id for s in runbook.steps}}
    pending = [step for step in runbook.steps if step.id not in results]
    running: dict[asyncio.Task[StepOutcome], RunbookStep] = {}
    stopped: str | None = None  # why the run ended early: what the skipped steps say

    async def one(step: RunbookStep) -> StepOutcome:
        started = clock()
        if on_start is not None:
            await on_start(step)
        views = {
            need: step_view(
                results[need].output or results[need].error, ok=results[need].ok, step_id=need, redact=redact
            )
            for need in runbook.ancestors(step.id)
        }
        try:
            prompt = render(step.prompt, params=params, steps=views)
        except TemplateError as exc:
            return StepOutcome(ok=False, error=f"its prompt could not be filled in: {exc.message or exc}")
        limit = step.timeout or default_timeout
        try:
            with hold():
                async with asyncio.timeout(limit):
                    outcome = await run_step(step, prompt)
        except TimeoutError:
            outcome = StepOutcome(ok=False, error=f"timed out after {limit:g} s")
        return replace(outcome, seconds=clock() - started)

    try:
        while pending or running:
            stopped = await _round(
                runbook,
                pending=pending,
                running=running,
                results=results,
                stopped=stopped,
                one=one,
                max_parallel=max_parallel,
                on_finish=on_finish,
            )
    finally:  # cancelled (the process drains): the steps still running stop with the run
        for job in running:
            job.cancel()
    return {step.id: results[step.id] for step in runbook.steps}


async def _round(
    runbook: Runbook,
    *,
    pending: list[RunbookStep],
    running: dict[asyncio.Task[StepOutcome], RunbookStep],
    results: dict[str, StepOutcome],
    stopped: str | None,
    one: Callable[[RunbookStep], Coroutine[Any, Any, StepOutcome]],
    max_parallel: int,
    on_finish: Callable[[RunbookStep, StepOutcome], Awaitable[None]] | None,
) -> str | None:
    """Start what may start, wait for one step to finish; why the run stopped early, if it did."""
    for step in list(pending):
        if stopped is not None:
            pending.remove(step)
            results[step.id] = StepOutcome(ok=False, error=f"not run: {stopped}", skipped=True)
            if on_finish is not None:
                await on_finish(step, results[step.id])
            continue
        if len(running) >= max_parallel or not all(need in results for need in step.needs):
            continue
        pending.remove(step)
        running[asyncio.create_task(one(step), name=f"step-{step.id}")] = step
    if not running:
        if pending:  # pragma: no cover - a checked DAG always has a runnable step while some are pending
            raise RuntimeError("runbook steps wait for each other")
        return stopped  # the rest was skipped: nothing left to wait for
    finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
    for job in sorted(finished, key=lambda j: runbook.steps.index(running[j])):
        step = running.pop(job)
        outcome = job.result()
        results[step.id] = outcome
        if not outcome.ok and stopped is None and (outcome.halts or not step.continue_on_error):
            stopped = outcome.error if outcome.halts else f"step {step.id} failed"
        if on_finish is not None:
            await on_finish(step, outcome)
    return stopped
