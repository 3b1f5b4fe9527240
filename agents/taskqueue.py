"""The ``TaskQueue`` port: where accepted tasks wait for a worker, and how workers take them.

Two implementations, picked by ``ORCH_STORE_URL`` in :mod:`agents.assembly`, and nothing above this port
knows which one runs:

- :class:`LocalTaskQueue`: one process (SQLite or in-memory journal). A task submitted here runs here; on
  start, the tasks a previous process accepted and did not finish are handed over first, as resumed.
- ``agents.stores.RedisTaskQueue``: several replicas share a Redis Streams consumer group; a task accepted
  by one replica may run on any, and a dead replica's tasks are claimed by a live one.

Both journal the task before :meth:`TaskQueue.submit` returns (the user is told only then), and both call
the consumer's ``handle(request_id, resumed)`` once per delivery; deciding whether a delivery still needs
running, or must be given up, is the core's (:mod:`agents.lifecycle`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agents.journal import TaskJournal, TaskRecord

__all__ = ["LocalTaskQueue", "TaskQueue"]


class TaskQueue(Protocol):
    """Accepted tasks, durably queued until a worker has run them."""

    @property
    def shared(self) -> bool:
        """Whether other processes take tasks from this queue too.

        When they do, a task submitted here may run elsewhere, so the submitting process gives its
        admission slot back at once; otherwise the slot is kept for the run.
        """
        ...

    async def start(self) -> None:
        """Prepare the queue and start its upkeep (every process, consuming or not)."""
        ...

    async def submit(self, record: TaskRecord) -> None:
        """Journal ``record`` and queue its task; raise ``StoreUnavailable`` if neither happened."""
        ...

    async def run(
        self, handle: Callable[[str, bool], Awaitable[None]], dead: Callable[[str, int], Awaitable[None]]
    ) -> None:
        """Consume until :meth:`stop`: ``handle`` every delivery, ``dead`` every task given up by the queue."""
        ...

    def stop(self) -> None:
        """Make :meth:`run` return soon; what was not taken stays queued."""
        ...

    async def wait_idle(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for the deliveries this process is handling."""
        ...

    async def close(self) -> None:
        """Stop the upkeep started by :meth:`start`."""
        ...


class LocalTaskQueue:
    """One process: submitted tasks run here; unfinished tasks in the journal are handed over on start."""

    def __init__(self, journal: TaskJournal) -> None:
        self._journal = journal
        self._pending: asyncio.Queue[str | None] = asyncio.Queue()
        self._handling: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    @property
    def shared(self) -> bool:
        """Never: this process runs what it accepts."""
        return False

    async def start(self) -> None:
        """Nothing to prepare."""

    async def close(self) -> None:
        """Nothing to stop."""

    async def submit(self, record: TaskRecord) -> None:
        """Journal ``record``, then hand it to the consumer."""
        await self._journal.put(record)
        self._pending.put_nowait(record.request_id)

    async def run(
        self,
        handle: Callable[[str, bool], Awaitable[None]],
        dead: Callable[[str, int], Awaitable[None]],  # noqa: ARG002 - attempts are counted by the core here
    ) -> None:
        """Hand over the journal's unfinished tasks (resumed), then every submitted one, until stopped."""
        for record in await self._journal.unfinished():
            self._dispatch(handle, record.request_id, resumed=True)
        while not self._stopping:
            request_id = await self._pending.get()
            if request_id is not None:
                self._dispatch(handle, request_id, resumed=False)

    def _dispatch(self, handle: Callable[[str, bool], Awaitable[None]], request_id: str, *, resumed: bool) -> None:
        if request_id in self._handling:
            return  # accepted while the journal was being read on start: already being handled

        async def work() -> None:
            try:
                await handle(request_id, resumed)
            finally:
                self._handling.pop(request_id, None)

        self._handling[request_id] = asyncio.create_task(work(), name=f"local-{request_id}")

    def stop(self) -> None:
        """Make :meth:`run` return; tasks submitted after this stay in the journal for the next process."""
        self._stopping = True
        self._pending.put_nowait(None)

    async def wait_idle(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for the tasks being handled."""
        if self._handling:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(set(self._handling.values()), timeout=grace)
