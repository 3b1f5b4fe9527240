"""The task journal's backends behave alike: one suite, run against memory, SQLite and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
import uuid
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from agents.assembly import shared_redis
from agents.effects import Effect
from agents.events import TaskResult, TaskStarted, TaskSucceeded, ToolFinished
from agents.journal import JournalSink, MemoryJournal, TaskJournal, TaskRecord
from agents.llm import Usage
from agents.stores import RedisJournal, SqliteJournal
from agents.stores._sqlite import _MIGRATIONS
from agents.task import Origin, Task
from agents.testing.redis_keys import delete_prefix
from agents.toolcalls import RecordedCall, dump_calls, load_calls

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest_asyncio.fixture(params=["memory", "sqlite", "redis"])
async def journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TaskJournal]:
    """Each backend in turn; Redis under a unique key prefix, deleted afterwards."""
    if request.param == "memory":
        yield MemoryJournal()
    elif request.param == "sqlite":
        store = await SqliteJournal.open(str(tmp_path / "data" / "journal.db"))
        yield store
        await store.close()
    else:
        url = request.getfixturevalue("redis_url")
        prefix = f"orch-test-{uuid.uuid4().hex[:8]}:"
        store = RedisJournal(Redis.from_url(url, decode_responses=True), prefix=prefix)
        yield store
        await delete_prefix(url, prefix)
        await store.close()


def record(request_id: str, *, user: str = "U1", at: float = 1000.0, **changes: object) -> TaskRecord:
    """A queued record."""
    base = TaskRecord(
        request_id=request_id,
        workspace_id="T1",
        user_id=user,
        text="why?",
        started_at=at,
        status="queued",
        channel_id="C1",
        task_json='{"x": 1}',
        target='{"kind": "thread"}',
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


async def test_a_record_round_trips_unchanged(journal: TaskJournal) -> None:
    """Every field written comes back as written, None and numbers included."""
    written = record(
        "req-000000000001",
        agent="general",
        seconds=1.5,
        input_tokens=10,
        output_tokens=3,
        attempts=2,
        error_code=None,
        status="succeeded",
        updated_at=1001.5,
    )
    await journal.put(written)
    assert await journal.get("req-000000000001") == written
    assert await journal.get("req-missing000") is None


async def test_put_replaces_and_unfinished_follows_status(journal: TaskJournal) -> None:
    """Queued, running and interrupted records are unfinished, oldest first; finishing one removes it."""
    await journal.put(record("req-00000000000a", at=3))
    await journal.put(record("req-00000000000b", at=1, status="running"))
    await journal.put(record("req-00000000000c", at=2, status="interrupted"))
    await journal.put(record("req-00000000000d", at=0, status="succeeded"))
    assert [r.request_id for r in await journal.unfinished()] == [
        "req-00000000000b",
        "req-00000000000c",
        "req-00000000000a",
    ]
    await journal.put(record("req-00000000000b", at=1, status="failed", error_code="llm_unavailable"))
    assert [r.request_id for r in await journal.unfinished()] == ["req-00000000000c", "req-00000000000a"]


async def test_a_put_naming_the_previous_version_stores_the_whole_new_one(journal: TaskJournal) -> None:
    """Written as a change against ``previous``, the record still reads back whole and leaves the unfinished set."""
    queued = record("req-0000000000e1", at=5)
    running = dataclasses.replace(queued, status="running", attempts=1, updated_at=6.0)
    done = dataclasses.replace(
        running, status="succeeded", agent="general", seconds=2.5, input_tokens=7, output_tokens=9, updated_at=8.0
    )
    await journal.put(queued)
    await journal.put(running, previous=queued)
    assert await journal.get(queued.request_id) == running
    assert [r.request_id for r in await journal.unfinished()] == [queued.request_id]
    await journal.put(done, previous=running)
    await journal.put(done, previous=done)  # nothing changed: nothing to write, nothing breaks
    assert await journal.get(queued.request_id) == done
    assert await journal.unfinished() == []
    assert [r.request_id for r in await journal.recent("T1", user_id="U1")] == [queued.request_id]
    failed_again = dataclasses.replace(done, status="interrupted", error_code=None, updated_at=9.0)
    await journal.put(failed_again, previous=done)
    assert [r.request_id for r in await journal.unfinished()] == [queued.request_id]


async def test_a_changed_write_keeps_the_retention_period(redis_url: str) -> None:
    """A write of changes alone still (re)sets the record's expiry, as a whole write does."""
    prefix = f"orch-test-{uuid.uuid4().hex[:8]}:"
    redis = Redis.from_url(redis_url, decode_responses=True)
    store = RedisJournal(redis, prefix=prefix, retention_seconds=600)
    try:
        queued = record("req-0000000000f1")
        await store.put(queued)
        await redis.expire(f"{prefix}task:{queued.request_id}", 5)
        await store.put(dataclasses.replace(queued, status="running"), previous=queued)
        assert 590 < await redis.ttl(f"{prefix}task:{queued.request_id}") <= 600
    finally:
        await delete_prefix(redis_url, prefix)
        await store.close()


async def test_recent_is_newest_first_per_user_or_workspace(journal: TaskJournal) -> None:
    """History lists a user's tasks, or the whole workspace's, newest first and bounded."""
    for i in range(6):
        await journal.put(record(f"req-00000000001{i}", user="U1" if i % 2 else "U2", at=100 + i))
    await journal.put(dataclasses.replace(record("req-000000000099", at=200), workspace_id="T2"))
    mine = await journal.recent("T1", user_id="U1", limit=10)
    assert [r.request_id for r in mine] == ["req-000000000015", "req-000000000013", "req-000000000011"]
    everyone = await journal.recent("T1", limit=4)
    assert [r.request_id for r in everyone] == [
        "req-000000000015",
        "req-000000000014",
        "req-000000000013",
        "req-000000000012",
    ]


async def test_usage_sums_a_period(journal: TaskJournal) -> None:
    """Usage counts tasks, failures and tokens since a time, per user or workspace."""
    await journal.put(record("req-000000000021", at=50, input_tokens=100, output_tokens=10, status="succeeded"))
    await journal.put(record("req-000000000022", at=150, input_tokens=200, output_tokens=20, status="succeeded"))
    await journal.put(record("req-000000000023", at=160, user="U2", status="failed"))
    usage = await journal.usage("T1", user_id="U1", since=100)
    assert (usage.tasks, usage.failed, usage.input_tokens, usage.output_tokens) == (1, 0, 200, 20)
    everyone = await journal.usage("T1", user_id=None, since=0)
    assert (everyone.tasks, everyone.failed) == (3, 1)


async def test_sqlite_journal_survives_reopening(tmp_path: Path) -> None:
    """A record written before the process ends is there when the file is opened again."""
    path = str(tmp_path / "j.db")
    first = await SqliteJournal.open(path)
    await first.put(record("req-000000000031", status="running"))
    await first.close()
    second = await SqliteJournal.open(path)
    assert [r.request_id for r in await second.unfinished()] == ["req-000000000031"]
    await second.close()


async def test_hundreds_of_concurrent_writes_share_the_redis_pool(redis_url: str) -> None:
    """500 tasks writing at the same moment all succeed: they wait for one of the pool's connections."""
    prefix = f"orch-test-{uuid.uuid4().hex[:8]}:"
    store = RedisJournal(shared_redis(redis_url), prefix=prefix)
    try:
        await asyncio.gather(*(store.put(record(f"req-{i:012x}", at=1000.0 + i)) for i in range(500)))
        assert len(await store.unfinished()) == 500
    finally:
        await delete_prefix(redis_url, prefix)
        await store.close()


async def test_an_effect_entry_round_trips_and_is_replaced(journal: TaskJournal) -> None:
    """The write-effect ledger: unknown keys are None; ``started`` then ``done`` (with its result) under one key."""
    key = "req-00000000e001:tooluse_1:abcdef"
    assert await journal.effect(key) is None
    await journal.put_effect(Effect(key, "req-00000000e001", "started"))
    assert await journal.effect(key) == Effect(key, "req-00000000e001", "started")
    done = Effect(key, "req-00000000e001", "done", ok=False, result='{"executions": 1}')
    await journal.put_effect(done)
    assert await journal.effect(key) == done


async def test_a_waiting_task_is_kept_with_its_checkpoint_and_not_resumed(journal: TaskJournal) -> None:
    """``waiting`` is not unfinished work for a restart; its loop checkpoint is stored whole."""
    waiting = record("req-00000000e002", status="waiting", checkpoint='{"turn": 1}')
    await journal.put(waiting)
    assert await journal.get("req-00000000e002") == waiting
    assert [r.request_id for r in await journal.unfinished()] == []


async def test_a_journal_file_from_the_previous_version_is_migrated_in_place(tmp_path: Path) -> None:
    """A file at schema 1 (no checkpoints, no effect ledger) opens: its records are kept and both new parts work."""
    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as old:
        old.executescript(_MIGRATIONS[0])
        old.execute(
            "INSERT INTO tasks (request_id, workspace_id, user_id, text, started_at, status) VALUES (?, ?, ?, ?, ?, ?)",
            ("req-00000000m001", "T1", "U1", "why?", 1.0, "running"),
        )
        old.execute("PRAGMA user_version=1")
        old.commit()
    journal = await SqliteJournal.open(str(path))
    try:
        kept = await journal.get("req-00000000m001")
        assert kept is not None
        assert (kept.status, kept.checkpoint) == ("running", "")
        await journal.put(dataclasses.replace(kept, checkpoint='{"turn": 1}'))
        assert (await journal.get("req-00000000m001")) == dataclasses.replace(kept, checkpoint='{"turn": 1}')
        await journal.put_effect(Effect("k", "req-00000000m001", "started"))
        assert await journal.effect("k") == Effect("k", "req-00000000m001", "started")
    finally:
        await journal.close()


async def test_cache_tokens_and_tool_calls_are_kept_with_the_task(journal: TaskJournal) -> None:
    """A finished task's cache read/write tokens and its recorded tool calls come back from every backend."""
    calls = (
        RecordedCall("list_alarms", "CloudWatch", {"state": "ALARM"}, '[{"name": "api-5xx"}]', 0.2),
        RecordedCall("get_cost", "Cost Explorer", {"days": 7}, "", 1.5, error="Cost Explorer failed: throttled"),
    )
    written = record(
        "req-000000000cac",
        status="succeeded",
        input_tokens=12_300,
        cache_read_tokens=9_800,
        cache_write_tokens=1_200,
        tool_calls=dump_calls(calls),
    )
    await journal.put(record("req-000000000cac"))
    await journal.put(written, previous=record("req-000000000cac"))
    found = await journal.get("req-000000000cac")
    assert found == written
    assert load_calls(found.tool_calls) == calls


async def test_the_journal_sink_keeps_each_tool_call_and_writes_it_with_the_next_write(journal: TaskJournal) -> None:
    """ToolFinished events cost no write of their own; the outcome's write carries every call and the cache tokens."""
    task = Task(
        request_id="req-000000000cad",
        origin=Origin(workspace_id="T1", user_id="U1", channel_id="C1", surface="command"),
        text="hi",
    )
    await journal.put(TaskRecord.queued(task, now=1.0))
    seen: list[object] = []
    sink = JournalSink(_Collect(seen), journal, clock=lambda: 2.0)
    call = RecordedCall("list_alarms", "CloudWatch", {"state": "ALARM"}, "[]", 0.1)
    await sink.emit(TaskStarted(task))
    await sink.emit(ToolFinished(task, "list_alarms", "CloudWatch", ok=True, seconds=0.1, record=call))
    running = await journal.get(task.request_id)
    assert running is not None
    assert running.tool_calls == ""  # not written on its own
    usage = Usage(1000, 50, 800, 100)
    result = TaskResult(
        text="ok", agent="general", routing_reason="r", model_id="m", usage=usage, seconds=1.0, attempts=1
    )
    await sink.emit(TaskSucceeded(task, result))
    done = await journal.get(task.request_id)
    assert done is not None
    assert load_calls(done.tool_calls) == (call,)
    assert (done.input_tokens, done.cache_read_tokens, done.cache_write_tokens) == (1000, 800, 100)
    assert len(seen) == 3


class _Collect:
    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    async def emit(self, event: object) -> None:
        self.seen.append(event)
