"""A store that goes away: failures become StoreUnavailable at the boundary, and what Redis lost is found again.

The queue tests run on the real Redis named by REDIS_URL, each under its own key prefix; "an empty
restart" is simulated by deleting every key of that prefix, which is what the consumer sees after one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import TYPE_CHECKING, Self

import pytest
import structlog
from redis.asyncio import Redis

from agents.assembly import shared_redis
from agents.dedupe import RedisDeduper
from agents.errors import LLMTransient, StoreUnavailable
from agents.events import TaskFailed, TaskStarted
from agents.health import StoreHealth
from agents.journal import JournalSink, MemoryJournal, TaskRecord
from agents.stores import RedisJournal, RedisTaskQueue
from agents.task import Origin, Task
from agents.testing.redis_keys import delete_prefix
from bot.messages import failure_blocks
from bot.testing.environment import free_port

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from agents.events import TaskEvent

TASK = Task(
    request_id="req-0000000000aa",
    origin=Origin(workspace_id="T1", user_id="U1", channel_id="C1", surface="command"),
    text="why?",
)


def queued(request_id: str, *, at: float | None = None) -> TaskRecord:
    """A freshly accepted record (its task rebuildable)."""
    now = time.time() if at is None else at
    return dataclasses.replace(
        TaskRecord.queued(TASK, now=now, target="{}"), request_id=request_id, started_at=now, updated_at=now
    )


async def until(read: Callable[[], Any], holds: Callable[[Any], bool] = bool) -> None:
    """Poll ``read()`` (awaited if it is a coroutine) until ``holds`` its value."""
    while True:
        value = read()
        if asyncio.iscoroutine(value):
            value = await value
        if holds(value):
            return
        await asyncio.sleep(0.02)


class Consumer:
    """``queue.run`` in the background, collecting the request IDs it is handed."""

    def __init__(self, queue: RedisTaskQueue) -> None:
        self.queue = queue
        self.handled: list[str] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        async def handle(request_id: str, _resumed: bool) -> None:
            self.handled.append(request_id)
            self._changed.set()

        async def dead(request_id: str, deliveries: int) -> None:
            raise AssertionError(f"{request_id} dead-lettered after {deliveries}")

        self._task = asyncio.create_task(self.queue.run(handle, dead))
        return self

    async def __aexit__(self, *_: object) -> None:
        self.queue.stop()
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def wait_for(self, request_id: str, timeout: float = 10.0) -> None:
        """Until ``request_id`` has been handed over."""
        async with asyncio.timeout(timeout):
            while request_id not in self.handled:
                self._changed.clear()
                await self._changed.wait()


async def test_the_consumer_recreates_its_group_when_redis_lost_it(redis: tuple[Redis, str], redis_url: str) -> None:
    """After an empty restart (stream and group gone), NOGROUP makes the consumer recreate both and go on."""
    client, prefix = redis
    queue = RedisTaskQueue(client, MemoryJournal(), stream=f"{prefix}tasks", claim_idle=2)
    await queue.setup()
    with structlog.testing.capture_logs() as logs:
        async with Consumer(queue) as consumer:
            await queue.submit(queued("req-0000000000b1"))
            await consumer.wait_for("req-0000000000b1")
            await delete_prefix(redis_url, prefix)  # Redis came back empty
            await asyncio.sleep(0.2)
            # An ingress queues into the stream, which now exists without a group.
            await queue.submit(queued("req-0000000000b2"))
            await consumer.wait_for("req-0000000000b2")
    events = [entry["event"] for entry in logs]
    assert events.count("queue.group_recreated") >= 1
    groups = await client.xinfo_groups(f"{prefix}tasks")
    assert [g["name"] for g in groups] == ["orch-workers"]


async def test_reconcile_requeues_a_journalled_task_whose_queue_entry_vanished(redis: tuple[Redis, str]) -> None:
    """A record the journal holds as queued, with no entry in the stream, is queued again and run."""
    client, prefix = redis
    journal = RedisJournal(client, prefix=prefix)
    queue = RedisTaskQueue(client, journal, stage=journal.stage, stream=f"{prefix}tasks", claim_idle=2)
    await queue.setup()
    kept = queued("req-0000000000c1", at=time.time() - 30)
    await queue.submit(kept)
    lost = queued("req-0000000000c2", at=time.time() - 30)
    await journal.put(lost)  # its stream entry is gone (the stream was lost, the journal kept)
    fresh = queued("req-0000000000c3")
    await journal.put(fresh)  # too recent to judge: it may be on its way into the stream
    assert await queue.reconcile(older_than=10) == 1
    async with Consumer(queue) as consumer:
        await consumer.wait_for("req-0000000000c2")
        await consumer.wait_for("req-0000000000c1")
    assert "req-0000000000c3" not in consumer.handled
    assert (
        await RedisTaskQueue(client, journal, stage=journal.stage, stream=f"{prefix}tasks").reconcile(older_than=10)
        == 0
    )


async def test_reconcile_resubmits_an_accepted_task_whose_record_vanished_too(
    redis: tuple[Redis, str], redis_url: str
) -> None:
    """The process that accepted a task writes record and entry again when an empty Redis lost both."""
    client, prefix = redis
    journal = RedisJournal(client, prefix=prefix)
    queue = RedisTaskQueue(client, journal, stage=journal.stage, stream=f"{prefix}tasks", claim_idle=2)
    await queue.setup()
    record = queued("req-0000000000d1")
    await queue.submit(record)
    await delete_prefix(redis_url, prefix)  # record, stream and group: all gone
    assert await queue.reconcile(older_than=10) == 1
    assert await journal.get(record.request_id) == record
    await queue.setup()
    async with Consumer(queue) as consumer:
        await consumer.wait_for(record.request_id)
    # Once its record shows it started, the accepting process stops watching it.
    await journal.put(dataclasses.replace(record, status="running"))
    assert await queue.reconcile(older_than=10) == 0
    await delete_prefix(redis_url, prefix)
    assert await queue.reconcile(older_than=10) == 0


async def test_a_task_queued_again_while_it_runs_here_is_not_run_twice(redis: tuple[Redis, str]) -> None:
    """A resubmitted copy of a task this consumer is running is acknowledged with it, not handed over again."""
    client, prefix = redis
    queue = RedisTaskQueue(client, MemoryJournal(), stream=f"{prefix}tasks", claim_idle=2)
    await queue.setup()
    release = asyncio.Event()
    handled: list[str] = []

    async def handle(request_id: str, _resumed: bool) -> None:
        handled.append(request_id)
        await release.wait()

    async def dead(request_id: str, deliveries: int) -> None:
        raise AssertionError(f"{request_id} dead-lettered after {deliveries}")

    record = queued("req-0000000000d9")
    await queue.submit(record)
    consumer = asyncio.create_task(queue.run(handle, dead))
    try:
        async with asyncio.timeout(10):
            await until(lambda: bool(handled))
            await queue.submit(record)
            await until(lambda: client.xinfo_groups(f"{prefix}tasks"), lambda groups: groups[0]["lag"] == 0)
            release.set()
            await until(lambda: client.xpending(f"{prefix}tasks", "orch-workers"), lambda p: p["pending"] == 0)
    finally:
        queue.stop()
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
    assert handled == [record.request_id]


async def test_an_unreachable_redis_raises_store_unavailable_at_the_boundary() -> None:
    """Journal, queue and dedupe translate redis-py's connection errors; nothing redis leaks past them."""
    client = shared_redis(f"redis://127.0.0.1:{free_port()}/0")
    try:
        journal = RedisJournal(client, prefix="orch-none:")
        queue = RedisTaskQueue(client, journal, stage=journal.stage, stream="orch-none:tasks")
        with pytest.raises(StoreUnavailable) as raised:
            await journal.get("req-0000000000e1")
        assert raised.value.store == "Redis"
        assert raised.value.reason == "ConnectionError"
        with pytest.raises(StoreUnavailable):
            await queue.submit(queued("req-0000000000e2"))
        with pytest.raises(StoreUnavailable):
            await RedisDeduper(client).first_sighting("T1:Ev1")
        with pytest.raises(StoreUnavailable):
            await journal.ping()
    finally:
        await client.aclose()


class FlakyJournal(MemoryJournal):
    """A journal whose next ``failures`` writes find the store unreachable."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def put(self, record: TaskRecord, *, previous: TaskRecord | None = None) -> None:
        """Fail while failures remain, then write."""
        if self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable(store="Redis", reason="ConnectionError")
        await super().put(record, previous=previous)


class Collect:
    """An event sink that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[TaskEvent] = []

    async def emit(self, event: TaskEvent) -> None:
        """Keep ``event``."""
        self.events.append(event)


async def test_a_running_task_rides_out_a_short_store_outage() -> None:
    """Journal writes are retried while the store is down; the record lands and the events go on."""
    journal = FlakyJournal(failures=3)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    inner = Collect()
    sink = JournalSink(inner, journal, waits=(0.5, 1.0, 2.0, 4.0), sleep=sleep)
    await sink.emit(TaskStarted(TASK))
    assert waits == [0.5, 1.0, 2.0]
    record = await journal.get(TASK.request_id)
    assert record is not None
    assert record.status == "running"
    assert [type(e) for e in inner.events] == [TaskStarted]


async def test_an_outage_longer_than_the_retries_still_tells_the_user() -> None:
    """When the store stays down, the final event is passed on unrecorded (and a warning is logged)."""
    journal = FlakyJournal(failures=100)

    async def sleep(_: float) -> None:
        return None

    inner = Collect()
    sink = JournalSink(inner, journal, known=queued(TASK.request_id), waits=(0.1, 0.1), sleep=sleep)
    with structlog.testing.capture_logs() as logs:
        await sink.emit(TaskStarted(TASK))
        await sink.emit(TaskFailed(TASK, LLMTransient("down"), 1.0))
    assert [type(e) for e in inner.events] == [TaskStarted, TaskFailed]
    assert [e["event"] for e in logs].count("journal.write_failed") == 2


async def test_store_health_reports_state_and_latency() -> None:
    """A store that answers is healthy with its latency; one that refuses or hangs is unhealthy, saying why."""
    now = [100.0]
    state = {"mode": "up"}

    async def ping() -> None:
        if state["mode"] == "down":
            raise StoreUnavailable(store="Redis", reason="ConnectionError")
        if state["mode"] == "hang":
            await asyncio.sleep(10)

    health = StoreHealth(ping, name="Redis", timeout=0.05, ttl=1.0, clock=lambda: now[0])
    up = await health.check()
    assert (up.status, up.detail) == ("healthy", "Redis: 0.0 ms")
    state["mode"] = "down"
    assert (await health.check()).status == "healthy"  # cached for a second
    now[0] += 1.0
    down = await health.check()
    assert down.status == "unhealthy"
    assert "Redis unreachable (ConnectionError) for 0s" in down.detail
    now[0] += 5.0
    state["mode"] = "hang"
    hung = await health.check()
    assert hung.status == "unhealthy"
    assert "no answer within 0.05s) for 5s" in hung.detail
    now[0] += 1.0
    state["mode"] = "up"
    assert (await health.check()).status == "healthy"


def test_the_user_is_told_the_task_was_not_recorded_with_the_request_id() -> None:
    """StoreUnavailable reads as: not recorded, nothing started, try again, and the request ID."""
    text, _ = failure_blocks(StoreUnavailable(store="Redis", reason="ConnectionError"), "req-0000000000f1")
    assert "could not be recorded" in text
    assert "try again" in text
    assert "req-0000000000f1" in text
    assert "Redis" not in text
    assert "ConnectionError" not in text
