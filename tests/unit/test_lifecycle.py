"""The core's task lifecycle in one process: suspend and continue, the hook's deny, giving up, every status shown.

Real parts throughout: the orchestrator, its lifecycle and local queue, the agent loop with the test bench's
tools and gate, and a SQLite journal in a file (two orchestrators on one file are a restart), or Redis with
two replicas on one queue. Only the model is scripted (:class:`FakeChatModel`) and the edge records what it was asked to do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import typing
import uuid
from typing import TYPE_CHECKING

from agents.admission import Admission, MemoryRateLimiter
from agents.assembly import shared_redis
from agents.attempts import GiveUp, Status
from agents.catalog import default_registry
from agents.dedupe import MemoryDeduper
from agents.errors import StoreUnavailable
from agents.events import TaskEvent, TaskSucceeded, TaskSuspended
from agents.health import ModelHealth
from agents.journal import JournalSink, MemoryJournal, TaskRecord
from agents.lifecycle import Rendering
from agents.llm import ModelReply, ToolCall
from agents.orchestrator import Accepted, Orchestrator
from agents.redaction import Redactor
from agents.router import KeywordRouter
from agents.runner import TaskRunner
from agents.stores import RedisJournal, RedisTaskQueue, SqliteJournal
from agents.task import Origin, Task
from agents.testing import FakeChatModel, TestBench
from agents.testing.redis_keys import delete_prefix
from agents.toolgate import Allow, Deny
from agents.tools import ToolContext
from bot.home import history_blocks
from bot.outfilter import OutputFilter

if TYPE_CHECKING:
    from pathlib import Path

    from agents.journal import TaskJournal
    from agents.taskqueue import TaskQueue
    from agents.toolgate import Decision
    from agents.tools import Tool

MODEL = "m"
ORIGIN = Origin(workspace_id="T1", user_id="U1", channel_id="C1", surface="command")


class RecordingEdge:
    """An edge that keeps every event and every notice, and says when a task reached an end."""

    def __init__(self) -> None:
        self.events: list[TaskEvent] = []
        self.given_up: list[GiveUp] = []
        self.bugs: list[str] = []
        self.ended = asyncio.Event()

    async def open(self, task: Task, target: str, *, resumed: bool) -> Rendering:  # noqa: ARG002 - the port's shape
        return Rendering(self)

    async def emit(self, event: TaskEvent) -> None:
        self.events.append(event)
        if isinstance(event, TaskSucceeded | TaskSuspended):
            self.ended.set()

    async def report_bug(self, task: Task, target: str) -> None:  # noqa: ARG002 - the port's shape
        self.bugs.append(task.request_id)
        self.ended.set()

    async def report_given_up(self, record: TaskRecord, give_up: GiveUp) -> None:  # noqa: ARG002
        self.given_up.append(give_up)
        self.ended.set()

    async def wait(self) -> None:
        async with asyncio.timeout(10):
            await self.ended.wait()
        self.ended.clear()


def core(
    journal: TaskJournal, model: FakeChatModel, *, gate: object | None = None, queue: TaskQueue | None = None
) -> Orchestrator:
    """An orchestrator with the test bench's agent, on ``journal``, the local queue and ``model``."""
    bench = TestBench(write_log="", kill_at="")
    registry = bench.registry(default_registry())
    runner = TaskRunner(
        router=KeywordRouter(registry),
        model=model,
        default_model_id=MODEL,
        tool_context=lambda _task: ToolContext(aws=None, region="us-east-1"),  # type: ignore[arg-type]
        gate=gate or bench.gate,  # type: ignore[arg-type]
        ledger=journal,
    )
    return Orchestrator(
        registry=registry,
        admission=Admission(MemoryRateLimiter("100/minute"), max_per_user=5, max_total=10),
        runner=runner,
        deduper=MemoryDeduper(),
        model_health=ModelHealth(model, model_id=MODEL),
        journal=journal,
        queue=queue,
        redactor=Redactor(),
        max_attempts=2,
    )


def calls(*names: str) -> ModelReply:
    """A model turn calling the test bench's tools."""
    return ModelReply(
        text="",
        model_id=MODEL,
        stop_reason="tool_use",
        tool_calls=tuple(ToolCall(f"tooluse_{i}", name, {"action": "restart"}) for i, name in enumerate(names)),
    )


async def test_a_waiting_task_holds_no_slot_survives_a_restart_and_another_process_continues_it(
    tmp_path: Path,
) -> None:
    """Suspended, a task is ``waiting`` and frees its slot; a new orchestrator does not resume it but continues it."""
    path = str(tmp_path / "orch.db")
    journal = await SqliteJournal.open(path)
    model = FakeChatModel()
    model.enqueue(calls("request_approval"))
    first, edge = core(journal, model), RecordingEdge()
    first.start(edge)
    outcome = await first.submit("testbench: restart the api", request_id="req-life00000001", origin=ORIGIN, target="")
    assert isinstance(outcome, Accepted)
    await edge.wait()
    assert isinstance(edge.events[-1], TaskSuspended)
    assert first.in_flight == 0
    record = await first.task_status("req-life00000001")
    assert record is not None
    assert record.status == "waiting"
    assert await first.drain(1) == 0
    await journal.close()

    journal = await SqliteJournal.open(path)
    assert await journal.unfinished() == []
    model.enqueue("Approved: the api was restarted.")
    second, edge = core(journal, model), RecordingEdge()
    second.start(edge)
    assert await second.continue_task("req-life00000001", "approved by ana")
    await edge.wait()
    final = edge.events[-1]
    assert isinstance(final, TaskSucceeded)
    assert "the api was restarted" in final.result.text
    (result,) = model.requests[-1].messages[-1].tool_results
    assert result.tool_call_id == "tooluse_0"
    assert "approved by ana" in result.text
    assert not await second.continue_task("req-life00000001", "again")
    await second.drain(1)
    await journal.close()


class DenyWrites:
    """A gate that refuses every write effect."""

    async def decide(self, task: Task, tool: Tool, call: ToolCall) -> Decision:  # noqa: ARG002
        return Deny("writes are off in this workspace") if tool.effect == "write" else Allow()


async def test_a_denied_call_gives_the_model_an_error_result_and_the_task_still_answers(tmp_path: Path) -> None:
    """The hook's deny: the tool does not run, the model reads the reason as an error result and answers."""
    journal = await SqliteJournal.open(str(tmp_path / "orch.db"))
    model = FakeChatModel()
    model.enqueue(calls("record_change"), "I was not allowed to record it.")
    orchestrator, edge = core(journal, model, gate=DenyWrites()), RecordingEdge()
    orchestrator.start(edge)
    await orchestrator.submit("testbench: record it", request_id="req-life00000002", origin=ORIGIN, target="")
    await edge.wait()
    assert isinstance(edge.events[-1], TaskSucceeded)
    (result,) = model.requests[-1].messages[-1].tool_results
    assert result.is_error
    assert "writes are off in this workspace" in result.text
    await orchestrator.drain(1)
    await journal.close()


async def test_a_task_started_too_often_or_unreadable_is_given_up_and_its_person_told(tmp_path: Path) -> None:
    """On start, a task started max_attempts times, and one whose task cannot be read back, fail for good."""
    journal = await SqliteJournal.open(str(tmp_path / "orch.db"))
    task = Task(request_id="req-life00000003", origin=ORIGIN, text="general: hi")
    tired = dataclasses.replace(TaskRecord.queued(task, now=1.0), status="running", attempts=2)
    broken = dataclasses.replace(TaskRecord.queued(task, now=2.0), request_id="req-life00000004", task_json="{")
    await journal.put(tired)
    await journal.put(broken)
    orchestrator, edge = core(journal, FakeChatModel()), RecordingEdge()
    orchestrator.start(edge)
    async with asyncio.timeout(10):
        while len(edge.given_up) < 2:  # noqa: ASYNC110 - the lifecycle runs on its own
            await asyncio.sleep(0.01)
    assert sorted((g.request_id, g.reason) for g in edge.given_up) == [
        ("req-life00000003", "interrupted"),
        ("req-life00000004", "unrecoverable"),
    ]
    for request_id, reason in [("req-life00000003", "interrupted"), ("req-life00000004", "unrecoverable")]:
        record = await journal.get(request_id)
        assert record is not None
        assert (record.status, record.error_code) == ("failed", reason)
    await orchestrator.drain(1)
    await journal.close()


def test_every_status_has_a_line_in_history() -> None:
    """``/orchestrate history`` renders a task in every journal status (queued, waiting, interrupted…)."""
    base = TaskRecord(request_id="req-life00000005", workspace_id="T1", user_id="U1", text="hi", started_at=1.0)
    records = [dataclasses.replace(base, status=status) for status in typing.get_args(Status)]
    text, _ = history_blocks(records, everyone=False, clean=OutputFilter(Redactor()))
    assert text.count("req-life00000005") == len(typing.get_args(Status)) == 6


class CheckpointsLost(MemoryJournal):
    """A journal whose store goes away whenever a loop checkpoint is written."""

    async def put(self, record: TaskRecord, *, previous: TaskRecord | None = None) -> None:
        if record.checkpoint:
            raise StoreUnavailable(store="SQLite", reason="OperationalError")
        await super().put(record, previous=previous)


async def test_a_write_is_not_run_when_its_turn_could_not_be_checkpointed(tmp_path: Path) -> None:
    """No checkpoint, no write: a resume could not find the call again, so the tool is not run and the model hears why."""
    writes = tmp_path / "writes.log"
    bench = TestBench(write_log=str(writes), kill_at="")
    model = FakeChatModel()
    model.enqueue(calls("record_change"), "I could not record it.")
    registry = bench.registry(default_registry())
    runner = TaskRunner(
        router=KeywordRouter(registry),
        model=model,
        default_model_id=MODEL,
        tool_context=lambda _task: ToolContext(aws=None, region="us-east-1"),  # type: ignore[arg-type]
        ledger=MemoryJournal(),
    )
    edge = RecordingEdge()
    task = Task(request_id="req-life00000006", origin=ORIGIN, text="record it", agent="testbench")
    await runner.run(task, JournalSink(edge, CheckpointsLost(), waits=()))
    assert isinstance(edge.events[-1], TaskSucceeded)
    assert not writes.exists()
    (result,) = model.requests[-1].messages[-1].tool_results
    assert result.is_error
    assert "could not be recorded safely" in result.text


async def test_with_replicas_any_process_continues_a_waiting_task_through_the_shared_queue(redis_url: str) -> None:
    """On Redis, a task suspended on one replica is continued from another: queued again, run by a consumer."""
    prefix = f"orch-test-{uuid.uuid4().hex[:8]}:"
    client = shared_redis(redis_url)
    journal = RedisJournal(client, prefix=prefix)
    model = FakeChatModel()
    model.enqueue(calls("request_approval"), "Approved: done.")
    edge = RecordingEdge()
    replicas = []
    for _ in range(2):
        queue = RedisTaskQueue(client, journal, stage=journal.stage, stream=f"{prefix}tasks", claim_idle=2)
        await queue.setup()
        replica = core(journal, model, queue=queue)
        replica.start(edge)
        replicas.append(replica)
    try:
        first, second = replicas
        await first.submit("testbench: restart", request_id="req-life00000007", origin=ORIGIN, target="")
        await edge.wait()
        assert isinstance(edge.events[-1], TaskSuspended)
        assert (first.in_flight, second.in_flight) == (0, 0)
        assert await second.continue_task("req-life00000007", "approved by ana")
        await edge.wait()
        final = edge.events[-1]
        assert isinstance(final, TaskSucceeded)
        assert "Approved: done." in final.result.text
        record = await journal.get("req-life00000007")
        assert record is not None
        assert record.status == "succeeded"
    finally:
        for replica in replicas:
            await replica.drain(1)
        await delete_prefix(redis_url, prefix)
        await client.aclose()
