"""Running eval cases through the bot's own pipeline, with tools served from each case's cassette.

Each run of a case is submitted to the same :class:`~agents.orchestrator.Orchestrator` the console and Slack
use (validation, routing on the router model, the agent loop or the runbook runner, on the configured
Bedrock), in a private in-memory journal, one case at a time, so its model calls and tokens are its own.
The tools are the real ones with ``run`` served from the case's cassette (:mod:`agents.evals._cassette`).
Each run is then scored (:mod:`agents.evals._score`) and, with a judge model, graded (:mod:`agents.evals._judge`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents.assembly import open_core
from agents.evals._cassette import Cassette, CassetteDeck, tool_inputs
from agents.evals._judge import DEFAULT_RUBRIC, Verdict, judge_answer
from agents.evals._meter import ModelMeter
from agents.evals._score import Check, score_answer
from agents.events import TaskFailed, TaskSucceeded, TaskSuspended
from agents.lifecycle import Rendering
from agents.orchestrator import Accepted, Refused
from agents.task import ContextMessage, Origin, new_request_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from agents.attempts import GiveUp
    from agents.evals._case import EvalCase
    from agents.events import TaskEvent
    from agents.journal import TaskRecord
    from agents.llm import ChatModel, Usage
    from agents.orchestrator import Orchestrator
    from agents.settings import Settings
    from agents.task import Task
    from agents.toolcalls import RecordedCall
    from agents.tools import ToolInput

__all__ = ["EVAL_ORIGIN", "CaseRun", "Judge", "run_cases"]

#: Where eval tasks come from, as the core sees them.
EVAL_ORIGIN = Origin(workspace_id="eval", user_id="eval", channel_id="eval", surface="console")
_TASK_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class Judge:
    """The LLM judge: a model port and the model id to call it with."""

    model: ChatModel
    model_id: str


@dataclass(frozen=True, slots=True)
class CaseRun:
    """One run of one case: the answer, what it took, and the verdicts."""

    case: EvalCase
    request_id: str
    answer: str
    check: Check
    usage: Usage
    model_calls: int
    seconds: float
    tools_called: tuple[str, ...] = ()
    verdict: Verdict | None = None
    calls: tuple[RecordedCall, ...] = field(default=(), repr=False)

    @property
    def passed(self) -> bool:
        """Every deterministic check held and, when judged, the judge's score reached the case's minimum."""
        if not self.check.passed:
            return False
        if self.verdict is None:
            return True
        minimum = self.case.judge.min_score if self.case.judge else 4
        return self.verdict.score is not None and self.verdict.score >= minimum


class _Collector:
    """The edge of eval runs: keeps each task's answer and says when it ended."""

    def __init__(self) -> None:
        self._ended: dict[str, asyncio.Future[tuple[str, str | None]]] = {}

    def _future(self, request_id: str) -> asyncio.Future[tuple[str, str | None]]:
        return self._ended.setdefault(request_id, asyncio.get_running_loop().create_future())

    async def ended(self, request_id: str) -> tuple[str, str | None]:
        """``(answer, failure)`` of the task once it ended."""
        try:
            async with asyncio.timeout(_TASK_TIMEOUT):
                return await self._future(request_id)
        except TimeoutError:
            return "", f"no answer within {_TASK_TIMEOUT:.0f} s"
        finally:
            self._ended.pop(request_id, None)

    def _end(self, request_id: str, answer: str, failure: str | None) -> None:
        future = self._future(request_id)
        if not future.done():
            future.set_result((answer, failure))

    async def open(self, task: Task, target: str, *, resumed: bool) -> Rendering:  # noqa: ARG002 - the port's shape
        """Collect the task's end."""
        return Rendering(_Sink(self, task.request_id))

    async def report_bug(self, task: Task, target: str) -> None:  # noqa: ARG002 - the port's shape
        """A bug stopped the task."""
        self._end(task.request_id, "", "a bug stopped the task (see the log)")

    async def report_given_up(self, record: TaskRecord, give_up: GiveUp) -> None:
        """The task was given up."""
        self._end(record.request_id, "", f"given up: {give_up.reason}")


class _Sink:
    def __init__(self, collector: _Collector, request_id: str) -> None:
        self._collector = collector
        self._request_id = request_id

    async def emit(self, event: TaskEvent) -> None:
        if isinstance(event, TaskSucceeded):
            self._collector._end(self._request_id, event.result.text, None)  # noqa: SLF001 - its own edge
        elif isinstance(event, TaskFailed):
            self._collector._end(self._request_id, "", f"{event.error.code}: {event.error}")  # noqa: SLF001
        elif isinstance(event, TaskSuspended):
            self._collector._end(self._request_id, "", f"suspended waiting for {event.reason}")  # noqa: SLF001


async def run_cases(
    settings: Settings,
    cases: list[EvalCase],
    *,
    repeat: int = 1,
    judge: Judge | None = None,
    on_run: Callable[[CaseRun], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[CaseRun]:
    """Run every case ``repeat`` times, one run at a time; ``on_run`` hears each run as it ends."""
    deck = CassetteDeck()
    meter = ModelMeter()
    runs: list[CaseRun] = []
    async with open_core(settings, private=True, tools=deck.registry, observe_model=meter.wrap) as orchestrator:
        collector = _Collector()
        orchestrator.start(collector)
        inputs = tool_inputs(orchestrator.registry)
        for case in cases:
            for _ in range(repeat):
                run = await _run_once(
                    orchestrator=orchestrator,
                    collector=collector,
                    deck=deck,
                    meter=meter,
                    case=case,
                    inputs=inputs,
                    judge=judge,
                    clock=clock,
                )
                runs.append(run)
                if on_run is not None:
                    on_run(run)
    return runs


async def _run_once(
    *,
    orchestrator: Orchestrator,
    collector: _Collector,
    deck: CassetteDeck,
    meter: ModelMeter,
    case: EvalCase,
    inputs: dict[str, type[ToolInput]],
    judge: Judge | None,
    clock: Callable[[], float],
) -> CaseRun:
    request_id = new_request_id()
    cassette = Cassette.of(case, inputs)
    deck.insert(request_id, cassette)
    before = meter.read()
    started = clock()
    try:
        outcome = await orchestrator.submit(
            case.text,
            request_id=request_id,
            origin=EVAL_ORIGIN,
            target="",
            context=[ContextMessage(author=m.author, text=m.text) for m in case.thread],
        )
        if isinstance(outcome, Accepted):
            answer, failure = await collector.ended(request_id)
        elif isinstance(outcome, Refused):
            answer, failure = "", f"refused: {outcome.error.code}: {outcome.error}"
        else:
            answer, failure = "", "the case's text asks for help or the runbook list, not a task"
    finally:
        deck.eject(request_id)
    seconds = clock() - started
    spent = meter.read() - before
    calls = await orchestrator.tool_calls(request_id)
    tools_called = tuple(dict.fromkeys(cassette.played))
    check = score_answer(
        case.expect,
        answer=answer,
        tools_called=tools_called,
        model_calls=spent.calls,
        tokens=spent.usage.input_tokens + spent.usage.output_tokens,
        failure=failure,
    )
    verdict = None
    if judge is not None and failure is None:
        verdict = await judge_answer(
            judge.model,
            model_id=judge.model_id,
            rubric=case.judge.rubric if case.judge else DEFAULT_RUBRIC,
            question=case.text,
            answer=answer,
            evidence=calls,
            note=case.expect.note,
        )
    return CaseRun(
        case=case,
        request_id=request_id,
        answer=answer,
        check=check,
        usage=spent.usage,
        model_calls=spent.calls,
        seconds=seconds,
        tools_called=tools_called,
        verdict=verdict,
        calls=calls,
    )
