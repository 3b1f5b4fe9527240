"""The shared task queue on a real Redis: submitting journals and queues a task together."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from agents.journal import MemoryJournal, TaskRecord
from agents.stores import RedisJournal, RedisTaskQueue


def queued(request_id: str) -> TaskRecord:
    """A freshly accepted record."""
    return TaskRecord(
        request_id=request_id,
        workspace_id="T1",
        user_id="U1",
        text="why?",
        started_at=1000.0,
        status="queued",
        channel_id="C1",
        task_json="{}",
        target="{}",
    )


async def _consume_one(queue: RedisTaskQueue) -> tuple[str, bool]:
    """Run the consumer until it hands over one task; return what it was given."""
    got: asyncio.Future[tuple[str, bool]] = asyncio.get_running_loop().create_future()

    async def handle(request_id: str, resumed: bool) -> None:
        if not got.done():
            got.set_result((request_id, resumed))

    async def dead(request_id: str, deliveries: int) -> None:
        raise AssertionError(f"{request_id} dead-lettered after {deliveries}")

    consumer = asyncio.create_task(queue.run(handle, dead))
    try:
        return await asyncio.wait_for(got, 10)
    finally:
        queue.stop()
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)


async def test_submit_on_the_journals_redis_writes_both_in_one_transaction(redis: tuple[Redis, str]) -> None:
    """The record and the stream entry land together, in one MULTI/EXEC, and a worker then receives the task."""
    client, prefix = redis
    journal = RedisJournal(client, prefix=prefix)
    queue = RedisTaskQueue(client, journal, stage=journal.stage, stream=f"{prefix}tasks")
    await queue.setup()
    record = queued("req-00000000q001")
    before = await _transactions(client)
    await queue.submit(record)
    assert await _transactions(client) == before + 1
    assert await journal.get(record.request_id) == record
    assert [r.request_id for r in await journal.unfinished()] == [record.request_id]
    assert await _consume_one(queue) == (record.request_id, False)


async def test_submit_with_another_journal_writes_the_record_first(redis: tuple[Redis, str]) -> None:
    """A journal elsewhere still gets the record, and the task is still queued."""
    client, prefix = redis
    journal = MemoryJournal()
    queue = RedisTaskQueue(client, journal, stream=f"{prefix}tasks")
    await queue.setup()
    record = queued("req-00000000q002")
    await queue.submit(record)
    assert await journal.get(record.request_id) == record
    assert await _consume_one(queue) == (record.request_id, False)


async def test_stop_ends_the_consumer_even_when_a_cancellation_is_lost(redis: tuple[Redis, str]) -> None:
    """Stopped at once after starting (where redis-py can swallow a cancel), run() still returns within ~1 s."""
    client, prefix = redis
    for attempt in range(5):
        queue = RedisTaskQueue(client, MemoryJournal(), stream=f"{prefix}tasks{attempt}", claim_idle=2)
        await queue.setup()

        async def never(*_: object) -> None:
            raise AssertionError("nothing was queued")

        consumer = asyncio.create_task(queue.run(never, never))
        await asyncio.sleep(attempt * 0.002)
        queue.stop()
        consumer.cancel()
        done, _ = await asyncio.wait({consumer}, timeout=3)
        assert done == {consumer}


async def _transactions(client: Redis) -> int:
    """How many EXEC commands the server has run (INFO commandstats)."""
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_exec", {}).get("calls", 0))
