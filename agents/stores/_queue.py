"""Accepted tasks shared by several replicas through a Redis Streams consumer group.

Any replica may run any task. A replica keeps the tasks it is running fresh (re-claiming them, which
resets their idle time) so long tasks are not taken from it; a task whose replica died goes idle, and
another replica claims it with XAUTOCLAIM once it has been idle for ``claim_idle`` seconds. A task
delivered more than ``max_deliveries`` times goes to a dead-letter stream, and ``dead`` is told.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import RedisError, ResponseError

from agents.stores._redis import RedisJournal

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from redis.asyncio import Redis

    from agents.journal import TaskJournal, TaskRecord

__all__ = ["RedisTaskQueue"]

log = structlog.get_logger(__name__)


class RedisTaskQueue:
    """A consumer of the shared task stream. ``run`` loops until cancelled."""

    def __init__(
        self,
        redis: Redis,
        *,
        stream: str = "orch:tasks",
        group: str = "orch-workers",
        claim_idle: float = 60.0,
        max_deliveries: int = 3,
        capacity: int = 100,
        report_depth: Callable[[int], None] | None = None,
    ) -> None:
        self._redis = redis
        self._stream = stream
        self._group = group
        self._dead_stream = stream + ":dead"
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._claim_idle_ms = int(claim_idle * 1000)
        self._refresh_every = max(0.2, claim_idle / 3)
        self._max_deliveries = max_deliveries
        self._capacity = capacity
        self._running: dict[str, asyncio.Task[None]] = {}
        self._report_depth = report_depth
        self._stopping = False

    async def setup(self) -> None:
        """Create the stream and consumer group if they do not exist."""
        try:
            await self._redis.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def put(self, request_id: str) -> None:
        """Queue an accepted task for whichever replica is free."""
        await self._redis.xadd(self._stream, {"request_id": request_id})

    async def submit(self, record: TaskRecord, journal: TaskJournal) -> None:
        """Journal ``record`` and queue its task: one transaction when the journal is on this Redis.

        Then no replica can see a queued task without its record, nor a record stay queued with no task
        in the stream. With any other journal the record is written first, then the task is queued.
        """
        if isinstance(journal, RedisJournal) and journal.uses(self._redis):
            pipe = self._redis.pipeline(transaction=True)
            journal.stage(pipe, record)
            pipe.xadd(self._stream, {"request_id": record.request_id})
            await pipe.execute()
            return
        await journal.put(record)
        await self.put(record.request_id)

    async def run(
        self,
        handle: Callable[[str, bool], Awaitable[None]],
        dead: Callable[[str, int], Awaitable[None]],
    ) -> None:
        """Read new and abandoned tasks and ``handle(request_id, resumed)`` each; acknowledge when handled."""
        keeper = asyncio.create_task(self._keep_claims_fresh(), name="queue-keeper")
        try:
            while not self._stopping:
                try:
                    await self._claim_abandoned(handle, dead)
                    await self._read_new(handle)
                except RedisError as exc:
                    log.warning("queue.redis_error", error_type=type(exc).__name__)
                    await asyncio.sleep(1)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    def stop(self) -> None:
        """Make :meth:`run` return after its current read (at most about a second).

        Cancel the task running it too; this is the backstop: redis-py can lose a cancellation that lands
        while a command is starting (redis/redis-py#2028, #2551), and the loop would then go on reading.
        """
        self._stopping = True

    async def _read_new(self, handle: Callable[[str, bool], Awaitable[None]]) -> None:
        room = self._capacity - len(self._running)
        if room <= 0:
            await asyncio.sleep(0.05)
            return
        block_ms = max(100, min(1000, self._claim_idle_ms // 2))
        replies: Any = await self._redis.xreadgroup(
            self._group, self.consumer, {self._stream: ">"}, count=room, block=block_ms
        )
        for _, messages in replies or []:
            for message_id, fields in messages:
                self._start(str(message_id), str(fields.get("request_id", "")), handle, resumed=False)

    async def _claim_abandoned(
        self, handle: Callable[[str, bool], Awaitable[None]], dead: Callable[[str, int], Awaitable[None]]
    ) -> None:
        reply: Any = await self._redis.xautoclaim(
            self._stream, self._group, self.consumer, min_idle_time=self._claim_idle_ms, start_id="0-0", count=10
        )
        claimed = reply[1]
        for raw_id, fields in claimed:
            message_id = str(raw_id)
            request_id = str((fields or {}).get("request_id", ""))
            pending = await self._redis.xpending_range(
                self._stream, self._group, min=message_id, max=message_id, count=1
            )
            deliveries = int(pending[0]["times_delivered"]) if pending else 1
            log.info("queue.claimed", request_id=request_id, deliveries=deliveries)
            if deliveries > self._max_deliveries:
                await self._redis.xadd(self._dead_stream, {"request_id": request_id, "deliveries": deliveries})
                await self._redis.xack(self._stream, self._group, message_id)
                await dead(request_id, deliveries)
                continue
            self._start(message_id, request_id, handle, resumed=True)

    def _start(
        self, message_id: str, request_id: str, handle: Callable[[str, bool], Awaitable[None]], *, resumed: bool
    ) -> None:
        if message_id in self._running:
            return

        async def work() -> None:
            try:
                await handle(request_id, resumed)
            except RedisError as exc:
                # The store failed us (not the task): leave it unacknowledged, to be claimed again once idle.
                log.warning("queue.task_store_error", request_id=request_id, error_type=type(exc).__name__)
                return
            finally:
                self._running.pop(message_id, None)
            # Acknowledge only once handled: a replica that dies before this leaves the task to be claimed.
            try:
                await self._redis.xack(self._stream, self._group, message_id)
            except RedisError as exc:
                # Claimed again later, it is found finished in the journal and only acknowledged then.
                log.warning("queue.ack_failed", request_id=request_id, error_type=type(exc).__name__)

        self._running[message_id] = asyncio.create_task(work(), name=f"queue-{request_id}")

    async def _measure_depth(self) -> None:
        if self._report_depth is None:
            return
        groups: Any = await self._redis.xinfo_groups(self._stream)
        for group in groups:
            if str(group.get("name")) == self._group:
                # Waiting to be read (lag) plus read and not yet acknowledged (pending).
                self._report_depth(int(group.get("lag") or 0) + int(group.get("pending") or 0))

    async def _keep_claims_fresh(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_every)
            try:
                await self._measure_depth()
            except RedisError as exc:
                log.warning("queue.depth_failed", error_type=type(exc).__name__)
            ids: list[int | bytes | str | memoryview[int]] = list(self._running)
            if ids:
                try:
                    # Claiming our own messages with min-idle 0 resets their idle time: nobody takes them.
                    await self._redis.xclaim(self._stream, self._group, self.consumer, 0, ids, justid=True)
                except RedisError as exc:
                    log.warning("queue.refresh_failed", error_type=type(exc).__name__)

    async def wait_idle(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for the tasks this replica is running."""
        if self._running:
            await asyncio.wait(set(self._running.values()), timeout=grace)
