"""Every task's tool calls are recorded: tool, validated input, bounded and redacted output, duration, error.

The real agent loop runs a task (only the model is scripted), the real orchestrator journals it in a real
SQLite file, and :meth:`Orchestrator.tool_calls` hands the records back: what audit, eval export and an
answer's sources read.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import Field

from agents.admission import Admission, MemoryRateLimiter
from agents.catalog import AgentRegistry, AgentSpec
from agents.dedupe import MemoryDeduper
from agents.errors import ToolFailed
from agents.events import TaskSucceeded, ToolFinished
from agents.health import ModelHealth
from agents.lifecycle import Rendering
from agents.llm import ModelReply, ToolCall
from agents.orchestrator import Accepted, Orchestrator
from agents.redaction import Redactor
from agents.router import KeywordRouter
from agents.runner import TaskRunner
from agents.stores import SqliteJournal
from agents.task import Origin
from agents.testing import FakeChatModel
from agents.toolcalls import MAX_OUTPUT_CHARS, RecordedCall, bounded, dump_calls, load_calls
from agents.tools import Tool, ToolContext, ToolInput, ToolOutput, Toolset

if TYPE_CHECKING:
    from pathlib import Path

    from agents.events import TaskEvent
    from agents.task import Task

ORIGIN = Origin(workspace_id="T1", user_id="U1", channel_id="C1", surface="command")
SECRET = "AKIAIOSFODNN7EXAMPLE"  # an AWS access key id: the redactor's patterns know it


class _Input(ToolInput):
    group: str = Field(description="Log group.")
    minutes: int = Field(default=60, ge=1, description="Window.")


def _agent() -> AgentSpec:
    async def read(_ctx: ToolContext, request: _Input) -> ToolOutput:
        lines = [f"ERROR pool exhausted key={SECRET}"] + ["x" * 100] * 100
        return ToolOutput(data={"group": request.group, "lines": lines}, summary="101 lines")

    async def fail(_ctx: ToolContext, _request: _Input) -> ToolOutput:
        raise ToolFailed(source="CloudWatch Metrics", reason="AccessDenied: no GetMetricData")

    def tool(name: str, source: str, run: Any) -> Tool[_Input]:
        return Tool(
            name=name,
            description=name,
            input_model=_Input,
            source=source,
            effect="read",
            progress=lambda _ctx, request: f"Reading {request.group}…",
            run=run,
        )

    return AgentSpec(
        name="logs",
        description="logs",
        examples=(),
        system_prompt="You read logs.",
        toolset=Toolset(
            (tool("filter_log_events", "CloudWatch Logs", read), tool("get_metrics", "CloudWatch Metrics", fail))
        ),
    )


class _Edge:
    def __init__(self) -> None:
        self.events: list[TaskEvent] = []
        self.done = asyncio.Event()

    async def open(self, task: Task, target: str, *, resumed: bool) -> Rendering:  # noqa: ARG002 - the port's shape
        return Rendering(self)

    async def emit(self, event: TaskEvent) -> None:
        self.events.append(event)
        if isinstance(event, TaskSucceeded):
            self.done.set()

    async def report_bug(self, task: Task, target: str) -> None:  # noqa: ARG002
        self.done.set()

    async def report_given_up(self, record: Any, give_up: Any) -> None:  # noqa: ARG002
        self.done.set()


def _orchestrator(journal: SqliteJournal, model: FakeChatModel) -> Orchestrator:
    registry = AgentRegistry([_agent()], default="logs")
    runner = TaskRunner(
        router=KeywordRouter(registry),
        model=model,
        default_model_id="m",
        tool_context=lambda task: ToolContext.for_task(task, aws=None, region="us-east-1"),  # type: ignore[arg-type]
        ledger=journal,
    )
    return Orchestrator(
        registry=registry,
        admission=Admission(MemoryRateLimiter("100/minute"), max_per_user=5, max_total=10),
        runner=runner,
        deduper=MemoryDeduper(),
        model_health=ModelHealth(model, model_id="m"),
        journal=journal,
        redactor=Redactor(),
    )


async def test_a_tasks_tool_calls_are_journalled_and_handed_out_by_the_orchestrator(tmp_path: Path) -> None:
    """Two turns, three calls (one failing): each recorded with its typed input, redacted 4 kB output, time, error."""
    path = str(tmp_path / "orch.db")
    journal = await SqliteJournal.open(path)
    model = FakeChatModel()
    model.enqueue(
        ModelReply(
            text="",
            model_id="m",
            stop_reason="tool_use",
            tool_calls=(
                ToolCall("t1", "filter_log_events", {"group": "/ecs/api"}),
                ToolCall("t2", "get_metrics", {"group": "/ecs/api", "minutes": 5}),
            ),
        ),
        ModelReply(
            text="",
            model_id="m",
            stop_reason="tool_use",
            tool_calls=(ToolCall("t3", "filter_log_events", {"group": f"/ecs/{SECRET}", "minutes": 15}),),
        ),
        "The api's pool is exhausted.",
    )
    orchestrator, edge = _orchestrator(journal, model), _Edge()
    orchestrator.start(edge)
    outcome = await orchestrator.submit(
        "why is the api failing?", request_id="req-calls0000001", origin=ORIGIN, target=""
    )
    assert isinstance(outcome, Accepted)
    async with asyncio.timeout(10):
        await edge.done.wait()
    finished = [e.record for e in edge.events if isinstance(e, ToolFinished)]
    await orchestrator.drain(1)
    await journal.close()

    # A new process on the same file reads the same records back: they are in the journal, not in memory.
    journal = await SqliteJournal.open(path)
    calls = await _orchestrator(journal, FakeChatModel()).tool_calls("req-calls0000001")
    assert list(calls) == finished
    assert [(c.tool, c.source, c.ok) for c in calls] == [
        ("filter_log_events", "CloudWatch Logs", True),
        ("get_metrics", "CloudWatch Metrics", False),
        ("filter_log_events", "CloudWatch Logs", True),
    ]
    first, failed, third = calls
    assert first.input == {"group": "/ecs/api", "minutes": 60}  # validated: the default filled in
    assert "pool exhausted" in first.output
    assert len(first.output) <= MAX_OUTPUT_CHARS + 60
    assert first.output.endswith("characters kept]")
    assert failed.output == ""
    assert failed.error == "CloudWatch Metrics failed: AccessDenied: no GetMetricData"
    assert all(c.seconds >= 0 for c in calls)
    assert SECRET not in repr(calls)  # neither in an output nor in an input
    assert third.input["minutes"] == 15
    journal = await SqliteJournal.open(path)
    assert await _orchestrator(journal, FakeChatModel()).tool_calls("req-unknown0001") == ()
    await journal.close()


def test_records_survive_their_journal_form_and_outputs_are_cut_saying_so() -> None:
    """dump/load round-trips every field (a runbook step's id too); a long output keeps its first 4,000 characters."""
    calls = (
        RecordedCall("list_alarms", "CloudWatch", {"state": "ALARM"}, "[]", 0.25),
        RecordedCall("get_cost", "Cost Explorer", {"days": 7}, "", 1.5, error="Cost Explorer failed"),
        RecordedCall("list_alarms", "CloudWatch", {"state": "OK"}, "[]", 0.1, step="alarms"),
    )
    assert load_calls(dump_calls(calls)) == calls
    assert '"step"' not in dump_calls(calls[:2])  # an agent task's calls have no step to store
    assert (dump_calls(()), load_calls("")) == ("", ())
    cut = bounded("y" * 10_000)
    assert cut.startswith("y" * MAX_OUTPUT_CHARS)
    assert cut.endswith("[cut: 4,000 of 10,000 characters kept]")
