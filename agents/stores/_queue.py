"""Accepted tasks shared by several replicas through a Redis Streams consumer group.

Any replica may run any task. A replica keeps the tasks it is running fresh (re-claiming them, which
resets their idle time) so long tasks are not taken from it; a task whose replica died goes idle, and
another replica claims it with XAUTOCLAIM once it has been idle for ``claim_idle`` seconds. A task
delivered more than ``max_deliveries`` times goes to a dead-letter stream, and ``dead`` is told.

A Redis that restarts empty (no persistence, or a failover to an empty replica) loses the stream, its
consumer group and, with the journal on the same Redis, the task records. So the consumer recreates its
group when Redis answers NOGROUP, and :meth:`RedisTaskQueue.reconcile` (run every few seconds by
:meth:`RedisTaskQueue.keep_reconciled`) finds what went missing: tasks this process accepted whose records
vanished are submitted again from memory, and tasks the journal holds as unfinished with no entry in the
stream are queued again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import RedisError, ResponseError

from agents.errors import StoreUnavailable
from agents.journal import UNFINISHED
from agents.stores._errors import store_boundary

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

    from agents.journal import TaskJournal, TaskRecord

__all__ = ["RedisTaskQueue"]

log = structlog.get_logger(__name__)

# How far back of a task's start its stream entry may lie, for clocks of hosts that disagree a little.
_CLOCK_SKEW = 300.0
# How long a task this process accepted is watched until a worker is seen to have started it.
_WATCH_FOR = 3600.0
_WATCH_MAX = 20_000
_PAGE = 1000


class RedisTaskQueue:
    """The shared task stream (a :class:`agents.taskqueue.TaskQueue`). ``run`` loops until stopped.

    ``journal`` is where task records are kept; ``stage`` (``RedisJournal.stage`` of a journal on the same
    Redis client) puts the record's writes into the queueing transaction.
    """

    def __init__(
        self,
        redis: Redis,
        journal: TaskJournal,
        *,
        stage: Callable[[Pipeline, TaskRecord], None] | None = None,
        stream: str = "orch:tasks",
        group: str = "orch-workers",
        claim_idle: float = 60.0,
        max_deliveries: int = 3,
        capacity: int = 100,
        report_depth: Callable[[int], None] | None = None,
    ) -> None:
        self._redis = redis
        self._journal = journal
        self._stage = stage
        self._reconciler: asyncio.Task[None] | None = None
        self._stream = stream
        self._group = group
        self._dead_stream = stream + ":dead"
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._claim_idle = claim_idle
        self._claim_idle_ms = int(claim_idle * 1000)
        self._refresh_every = max(0.2, claim_idle / 3)
        self._max_deliveries = max_deliveries
        self._capacity = capacity
        self._running: dict[str, asyncio.Task[None]] = {}
        self._report_depth = report_depth
        self._stopping = False
        # Accepted here, not yet seen running: resubmitted from memory if an empty Redis loses their records.
        self._accepted: dict[str, TaskRecord] = {}
        self._running_ids: dict[str, str] = {}  # message id -> request id, of the tasks running here
        self._also_ack: dict[str, list[str]] = {}  # request id -> more entries of it, acked when it ends

    @property
    def shared(self) -> bool:
        """Always: any replica may run what this one accepts."""
        return True

    async def start(self) -> None:
        """Create the stream and group, and reconcile what an empty Redis lost every few seconds."""
        await self.setup()
        every = max(1.0, min(10.0, self._claim_idle / 2))
        self._reconciler = asyncio.create_task(
            self.keep_reconciled(every=every, older_than=self._claim_idle), name="queue-reconciler"
        )

    async def close(self) -> None:
        """Stop reconciling."""
        if self._reconciler is not None:
            self._reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciler
            self._reconciler = None

    async def setup(self) -> None:
        """Create the stream and consumer group if they do not exist."""
        try:
            await self._redis.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @store_boundary
    async def put(self, request_id: str) -> None:
        """Queue an accepted task for whichever replica is free."""
        await self._redis.xadd(self._stream, {"request_id": request_id})

    async def submit(self, record: TaskRecord) -> None:
        """Journal ``record`` and queue its task: one transaction when the journal is on this Redis.

        Then no replica can see a queued task without its record, nor a record stay queued with no task
        in the stream. With any other journal the record is written first, then the task is queued.
        Raises :class:`StoreUnavailable` when Redis cannot be reached (nothing was queued then).
        """
        await self._submit(record)
        if len(self._accepted) >= _WATCH_MAX:
            self._accepted.pop(next(iter(self._accepted)))
        self._accepted[record.request_id] = record

    @store_boundary
    async def _submit(self, record: TaskRecord) -> None:
        if self._stage is not None:
            pipe = self._redis.pipeline(transaction=True)
            self._stage(pipe, record)
            pipe.xadd(self._stream, {"request_id": record.request_id})
            await pipe.execute()
            return
        await self._journal.put(record)
        await self._redis.xadd(self._stream, {"request_id": record.request_id})

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
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        log.warning("queue.redis_error", error_type=type(exc).__name__)
                        await asyncio.sleep(1)
                        continue
                    await self._recreate_group()
                except (RedisError, StoreUnavailable) as exc:
                    log.warning("queue.redis_error", error_type=type(exc).__name__)
                    await asyncio.sleep(1)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _recreate_group(self) -> None:
        """Redis lost the group (it restarted empty, or the stream was deleted): create both again.

        From id 0, so tasks queued since (by an ingress, say) into a stream without a group are read too.
        """
        log.warning("queue.group_recreated", stream=self._stream, group=self._group)
        try:
            await self.setup()
        except RedisError as exc:
            log.warning("queue.redis_error", error_type=type(exc).__name__)
            await asyncio.sleep(1)

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
        if request_id in self._running_ids.values():
            # The same task queued again (resubmitted after an empty Redis lost its record) while it runs
            # here: acknowledged together with the run in progress, not run twice.
            self._also_ack.setdefault(request_id, []).append(message_id)
            return
        watched = self._accepted.pop(request_id, None)  # running here: no need to watch it any more

        async def work() -> None:
            try:
                await handle(request_id, resumed)
            except (RedisError, StoreUnavailable) as exc:
                # The store failed us (not the task): leave it unacknowledged, to be claimed again once idle,
                # and watch it again if this process accepted it (an empty Redis would lose its entry).
                log.warning("queue.task_store_error", request_id=request_id, error_type=type(exc).__name__)
                if watched is not None:
                    self._accepted[request_id] = watched
                return
            finally:
                self._running.pop(message_id, None)
                self._running_ids.pop(message_id, None)
            # Acknowledge only once handled: a replica that dies before this leaves the task to be claimed.
            try:
                await self._redis.xack(self._stream, self._group, message_id, *self._also_ack.pop(request_id, []))
            except RedisError as exc:
                # Claimed again later, it is found finished in the journal and only acknowledged then.
                log.warning("queue.ack_failed", request_id=request_id, error_type=type(exc).__name__)

        self._running_ids[message_id] = request_id
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

    async def keep_reconciled(self, *, every: float, older_than: float) -> None:
        """Run :meth:`reconcile` every ``every`` seconds until cancelled, riding out store failures."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.reconcile(older_than=older_than)
            except (RedisError, StoreUnavailable) as exc:
                log.warning("queue.reconcile_failed", error_type=type(exc).__name__)

    async def reconcile(self, *, older_than: float, now: float | None = None) -> int:
        """Queue again what an empty Redis lost; return how many tasks were queued again.

        1. Tasks this process accepted and has not yet seen started: if the journal no longer has the
           record (it vanished with Redis), the record and queue entry are written again from memory.
        2. Records the journal holds as queued, running or interrupted, untouched for ``older_than``
           seconds, with no entry in the stream (none left to read or to claim): queued again. One
           replica at a time does this (a short Redis lock), so a task is not queued twice.
        A task queued again that has meanwhile finished is only acknowledged by the worker that reads it.
        """
        now = time.time() if now is None else now
        requeued = await self._resubmit_lost(now)
        waiting = [
            record
            for record in await self._journal.unfinished()
            if record.status in UNFINISHED
            and record.updated_at < now - older_than
            and record.request_id not in self._running_ids.values()
        ]
        if not waiting or not await self._lock_reconciliation(older_than):
            return requeued
        queued = await self._request_ids_in_stream(since=min(r.started_at for r in waiting) - _CLOCK_SKEW)
        for record in waiting:
            if record.request_id not in queued:
                log.warning("queue.requeued", request_id=record.request_id, status=record.status)
                await self.put(record.request_id)
                requeued += 1
        return requeued

    async def _resubmit_lost(self, now: float) -> int:
        resubmitted = 0
        for request_id, record in list(self._accepted.items()):
            if record.started_at < now - _WATCH_FOR:
                self._accepted.pop(request_id, None)
                continue
            current = await self._journal.get(request_id)
            if current is None:
                log.warning("queue.resubmitted", request_id=request_id, reason="record lost by the store")
                await self._submit(record)
                resubmitted += 1
            elif current.status != "queued":
                self._accepted.pop(request_id, None)  # a worker has it: from here its worker answers it
        return resubmitted

    @store_boundary
    async def _lock_reconciliation(self, hold: float) -> bool:
        return bool(await self._redis.set(self._stream + ":reconcile", self.consumer, nx=True, px=int(hold * 1000)))

    @store_boundary
    async def _request_ids_in_stream(self, *, since: float) -> set[str]:
        """Request IDs of the stream's entries added since ``since`` (stream ids start with milliseconds)."""
        found: set[str] = set()
        start = f"{max(0, int(since * 1000))}-0"
        while True:
            entries: Any = await self._redis.xrange(self._stream, min=start, max="+", count=_PAGE)
            for _, fields in entries:
                found.add(str((fields or {}).get("request_id", "")))
            if len(entries) < _PAGE:
                return found
            start = "(" + str(entries[-1][0])
