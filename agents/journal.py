"""The journal of tasks: every accepted task's durable record, from queued to its outcome.

A record is written before a task is acknowledged as accepted, so a restart can resume it; it feeds
``/orchestrate history`` and the App Home tab. Backends implement :class:`TaskJournal`:
:class:`MemoryJournal` (tests, console), ``agents.stores.SqliteJournal`` (one process, the default) and
``agents.stores.RedisJournal`` (several replicas). ``target`` is the edge's opaque description of
where the answer goes (the core never reads it). ``checkpoint`` is the agent loop's resumable state
(:mod:`agents.loopstate`), and the journal also keeps the ledger of write effects (:mod:`agents.effects`),
so a resumed task neither repeats a turn's tools from scratch nor an action that already ran.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import structlog

from agents.attempts import RESUMABLE, Status
from agents.errors import StoreUnavailable
from agents.events import (
    AgentRouted,
    LoopCheckpoint,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
    TaskSuspended,
    ToolCallRecorded,
    ToolFinished,
)
from agents.toolcalls import dump_calls, load_calls

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agents.effects import Effect
    from agents.events import EventSink, TaskEvent
    from agents.feedback import Feedback
    from agents.task import Task

__all__ = ["UNFINISHED", "JournalSink", "MemoryJournal", "Status", "TaskJournal", "TaskRecord", "Usage"]

log = structlog.get_logger(__name__)

# Waits between attempts at a journal write while the store is unreachable (about 20 s in all): a short
# store outage delays the task's next event instead of failing a task that is already running.
STORE_RETRY_WAITS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0)

#: What a restart resumes (see :mod:`agents.attempts`; a ``waiting`` task waits for its decision instead).
UNFINISHED: frozenset[str] = RESUMABLE


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One task as the journal knows it."""

    request_id: str
    workspace_id: str
    user_id: str
    text: str
    started_at: float
    status: Status = "running"
    agent: str | None = None
    seconds: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    error_code: str | None = None
    channel_id: str = ""
    attempts: int = 0
    updated_at: float = 0.0
    task_json: str = ""
    target: str = ""
    checkpoint: str = ""
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    #: The task's tool calls (:func:`agents.toolcalls.dump_calls`), kept as long as the record.
    tool_calls: str = ""
    #: The model that wrote the answer (set when it succeeds), for feedback counts per agent and model.
    model_id: str = ""

    @classmethod
    def queued(cls, task: Task, *, now: float, target: str = "") -> TaskRecord:
        """A new record for ``task``, kept whole (with ``target``) so another process can run it."""
        return cls(
            request_id=task.request_id,
            workspace_id=task.origin.workspace_id,
            user_id=task.origin.user_id,
            channel_id=task.origin.channel_id,
            text=task.text[:200],
            started_at=now,
            updated_at=now,
            status="queued",
            agent=task.agent,
            task_json=task.model_dump_json(),
            target=target,
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """What a person (or a workspace) used in a period."""

    tasks: int
    failed: int
    input_tokens: int
    output_tokens: int


class TaskJournal(Protocol):
    """Where task records are kept."""

    async def put(self, record: TaskRecord, *, previous: TaskRecord | None = None) -> None:
        """Insert or replace the record with ``record.request_id``.

        ``previous`` is the record as this caller last wrote it: a store may then write only what changed.
        """
        ...

    async def get(self, request_id: str) -> TaskRecord | None:
        """The record with ``request_id``, if the journal still has it."""
        ...

    async def unfinished(self) -> list[TaskRecord]:
        """Records queued, running or interrupted, oldest first (what a restart must resume)."""
        ...

    async def close(self) -> None:
        """Release the backend's connections."""
        ...

    async def effect(self, key: str) -> Effect | None:
        """The ledger entry of the write effect with idempotency ``key``, if one was recorded."""
        ...

    async def put_effect(self, effect: Effect) -> None:
        """Record (or update) a write effect's ledger entry, durably, before the caller goes on."""
        ...

    async def recent(self, workspace_id: str, *, user_id: str | None = None, limit: int = 10) -> list[TaskRecord]:
        """The newest records of a workspace (of one user when ``user_id`` is given), newest first."""
        ...

    async def usage(self, workspace_id: str, *, user_id: str | None, since: float) -> Usage:
        """Totals since the wall-clock time ``since``."""
        ...

    async def put_feedback(self, feedback: Feedback) -> bool:
        """Keep ``feedback`` as its person's rating of its task, unless a later one (by ``at``) is kept.

        A rating without text keeps the text stored with the person's earlier rating. Returns whether it
        was kept. Feedback is kept as long as task records are.
        """
        ...

    async def explain_feedback(self, request_id: str, user_id: str, text: str) -> bool:
        """Attach ``text`` to the person's kept rating of the task; ``False`` when they have none."""
        ...

    async def feedback(self, request_id: str) -> list[Feedback]:
        """Each person's latest rating of a task, oldest first."""
        ...

    async def feedback_since(self, workspace_id: str, *, since: float) -> list[Feedback]:
        """The latest ratings in a workspace given since the wall-clock time ``since``."""
        ...


class MemoryJournal:
    """The last ``max_records`` tasks of this process."""

    def __init__(self, *, max_records: int = 5_000) -> None:
        self._records: dict[str, TaskRecord] = {}
        self._order: deque[str] = deque()
        self._max = max_records
        self._effects: dict[str, Effect] = {}
        self._feedback: dict[tuple[str, str], Feedback] = {}

    async def effect(self, key: str) -> Effect | None:
        """The ledger entry for ``key``."""
        return self._effects.get(key)

    async def put_effect(self, effect: Effect) -> None:
        """Record ``effect``."""
        self._effects[effect.key] = effect

    async def get(self, request_id: str) -> TaskRecord | None:
        """The record with ``request_id``, if still kept."""
        return self._records.get(request_id)

    async def unfinished(self) -> list[TaskRecord]:
        """Records queued, running or interrupted, oldest first."""
        return sorted((r for r in self._records.values() if r.status in UNFINISHED), key=lambda r: r.started_at)

    async def close(self) -> None:
        """Nothing to release."""

    async def put(self, record: TaskRecord, *, previous: TaskRecord | None = None) -> None:  # noqa: ARG002 - whole records are cheap here
        """Insert or replace the record with ``record.request_id``."""
        if record.request_id not in self._records:
            self._order.append(record.request_id)
            while len(self._order) > self._max:
                self._records.pop(self._order.popleft(), None)
        self._records[record.request_id] = record

    async def recent(self, workspace_id: str, *, user_id: str | None = None, limit: int = 10) -> list[TaskRecord]:
        """The newest records of a workspace (of one user when ``user_id`` is given), newest first."""
        found: list[TaskRecord] = []
        for request_id in reversed(self._order):
            record = self._records[request_id]
            if record.workspace_id == workspace_id and user_id in {None, record.user_id}:
                found.append(record)
                if len(found) >= limit:
                    break
        return found

    async def usage(self, workspace_id: str, *, user_id: str | None, since: float) -> Usage:
        """Totals since the wall-clock time ``since``."""
        records = [
            r
            for r in self._records.values()
            if r.workspace_id == workspace_id and user_id in {None, r.user_id} and r.started_at >= since
        ]
        return Usage(
            tasks=len(records),
            failed=sum(r.status == "failed" for r in records),
            input_tokens=sum(r.input_tokens for r in records),
            output_tokens=sum(r.output_tokens for r in records),
        )

    async def put_feedback(self, feedback: Feedback) -> bool:
        """Keep ``feedback`` unless a later rating by the same person of the same task is kept."""
        key = (feedback.request_id, feedback.user_id)
        kept = self._feedback.get(key)
        if kept is not None and kept.at > feedback.at:
            return False
        if kept is not None and not feedback.text:
            feedback = replace(feedback, text=kept.text)
        self._feedback.pop(key, None)  # re-inserted: the dict's order stays the order of the latest ratings
        self._feedback[key] = feedback
        return True

    async def explain_feedback(self, request_id: str, user_id: str, text: str) -> bool:
        """Attach ``text`` to the person's kept rating of the task."""
        kept = self._feedback.get((request_id, user_id))
        if kept is None:
            return False
        self._feedback[request_id, user_id] = replace(kept, text=text)
        return True

    async def feedback(self, request_id: str) -> list[Feedback]:
        """Each person's latest rating of a task, oldest first."""
        found = [f for (task, _user), f in self._feedback.items() if task == request_id]
        return sorted(found, key=lambda f: f.at)

    async def feedback_since(self, workspace_id: str, *, since: float) -> list[Feedback]:
        """The latest ratings in a workspace since ``since``."""
        return [f for f in self._feedback.values() if f.workspace_id == workspace_id and f.at >= since]


class JournalSink:
    """Wraps an :class:`EventSink`, moving the task's record through running to its outcome.

    Two writes per run, at its start and at its end, plus one per turn of tool calls (the loop's checkpoint)
    and one if the task is suspended. ``known`` (the task's current record, as the caller last wrote, read or
    changed it) saves reading it first. The first write stores the whole record (so a change the caller made
    without writing it, such as a new target, lands with it); later ones name the last written as
    ``previous``, so a store may write only what changed.

    While the store is unreachable a write is tried again after each of ``waits``; if it still fails, the
    event is passed on unrecorded: the user's answer matters more than its record. A checkpoint or a
    suspension that could not be recorded raises :class:`StoreUnavailable` after being passed on: the loop
    must not run write effects from a turn it could not resume (nor pretend to be waiting).
    """

    def __init__(
        self,
        inner: EventSink,
        journal: TaskJournal,
        *,
        known: TaskRecord | None = None,
        clock: Callable[[], float] = time.time,
        waits: tuple[float, ...] = STORE_RETRY_WAITS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._waits = waits
        self._sleep = sleep
        self._inner = inner
        self._journal = journal
        self._known = known  # the task's current record, when the caller has it: no read at the start
        self._clock = clock
        self._record: TaskRecord | None = None
        self._written: TaskRecord | None = None

    async def emit(self, event: TaskEvent) -> None:  # noqa: C901 - one branch per kind of event, read as a table
        """Record ``event`` if it changes the task's state, then pass it on."""
        record = self._record
        now = self._clock()
        if isinstance(event, TaskStarted):
            task = event.task
            known = self._known or await self._journal.get(task.request_id)
            record = known or TaskRecord.queued(task, now=now)
            record = replace(record, status="running", attempts=record.attempts + 1, updated_at=now)
        elif record is not None and isinstance(event, AgentRouted):
            # Kept for the final write: one durable write at the start and one at the end of a run is enough.
            self._record = replace(record, agent=event.routing.agent.name, updated_at=now)
            record = self._record
        elif record is not None and isinstance(event, ToolFinished | ToolCallRecorded) and event.record is not None:
            # Written with the next write (the next turn's or step's checkpoint, or the outcome), not one per call.
            calls = (*load_calls(record.tool_calls), event.record)
            self._record = replace(record, tool_calls=dump_calls(calls), updated_at=now)
            record = self._record
        elif record is not None and isinstance(event, LoopCheckpoint):
            record = replace(record, checkpoint=event.state, updated_at=now)
        elif record is not None and isinstance(event, TaskSuspended):
            record = replace(record, status="waiting", checkpoint=event.state, updated_at=now)
        elif record is not None and isinstance(event, TaskSucceeded):
            result = event.result
            record = replace(
                record,
                status="succeeded",
                checkpoint="",
                agent=result.agent,
                model_id=result.model_id,
                seconds=result.seconds,
                input_tokens=result.usage.input_tokens,
                output_tokens=result.usage.output_tokens,
                cache_read_tokens=result.usage.cache_read_tokens,
                cache_write_tokens=result.usage.cache_write_tokens,
                updated_at=now,
            )
        elif record is not None and isinstance(event, TaskFailed):
            record = replace(
                record,
                status="failed",
                seconds=event.seconds,
                error_code=event.error.code,
                checkpoint="",
                updated_at=now,
            )
        failed: StoreUnavailable | None = None
        if record is not self._record and record is not None:
            self._record = record
            failed = await self._write(record)
            if failed is None:
                self._written = record
        await self._inner.emit(event)
        if failed is not None and isinstance(event, LoopCheckpoint | TaskSuspended):
            raise failed

    async def _write(self, record: TaskRecord) -> StoreUnavailable | None:
        """Write ``record``, retrying while the store is unreachable; the last failure if it was not written."""
        for wait in (*self._waits, None):
            try:
                await self._journal.put(record, previous=self._written)
            except StoreUnavailable as exc:
                if wait is None:
                    log.warning("journal.write_failed", status=record.status, store=exc.store, reason=exc.reason)
                    return exc
                await self._sleep(wait)
            else:
                return None
        return None  # pragma: no cover - the loop returns
