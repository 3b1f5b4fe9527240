"""The task journal in Redis, shared by every replica, with a retention period.

Each record is a hash (``<prefix>task:<id>``) that expires after the retention period; sorted sets index
them by workspace and by user (pruned as they expire), and a set holds the unfinished ones.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal

from agents.effects import Effect
from agents.feedback import Feedback
from agents.journal import UNFINISHED, TaskRecord, Usage
from agents.stores._errors import store_boundary

if TYPE_CHECKING:
    from collections.abc import Mapping

    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

__all__ = ["RedisJournal"]

_FIELDS = {f.name: f.type for f in dataclasses.fields(TaskRecord)}
_FLOATS = {"started_at", "updated_at", "seconds"}
_INTS = {"input_tokens", "output_tokens", "attempts", "cache_read_tokens", "cache_write_tokens"}
_OPTIONAL = {"agent", "seconds", "error_code"}
_FEEDBACK_FIELDS = tuple(f.name for f in dataclasses.fields(Feedback))

# Latest rating wins, atomically: a rating older than the one kept is dropped; an empty text keeps the
# kept one. KEYS: the rating's hash, the task's set of raters, the workspace's index of ratings by time.
# ARGV: at, retention seconds, index member, user, then the fields as name/value pairs.
_PUT_FEEDBACK = """
local kept = redis.call('HGET', KEYS[1], 'at')
if kept and tonumber(kept) > tonumber(ARGV[1]) then return 0 end
local fields = {}
for i = 5, #ARGV, 2 do
  if not (ARGV[i] == 'text' and ARGV[i + 1] == '') then
    fields[#fields + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[i + 1]
  end
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
return 1
"""
# Attach a text to a kept rating, only if there is one (no partial hash for a rating that expired).
_EXPLAIN_FEEDBACK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'text', ARGV[1])
return 1
"""


def _encode(record: TaskRecord) -> dict[Any, Any]:
    return {k: "" if v is None else str(v) for k, v in dataclasses.asdict(record).items()}


def _decode(raw: Mapping[str | bytes, str | bytes]) -> TaskRecord:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        found = raw.get(name, "")
        text = found.decode() if isinstance(found, bytes) else found
        if name in _OPTIONAL and text == "":
            values[name] = None
        elif name in _FLOATS:
            values[name] = float(text or 0)
        elif name in _INTS:
            values[name] = int(text or 0)
        else:
            values[name] = text
    return TaskRecord(**values)


def _place(record: TaskRecord) -> tuple[str, str, str, float]:
    """What decides where a record sits in the indexes (none of it changes during a task)."""
    return (record.request_id, record.workspace_id, record.user_id, record.started_at)


class RedisJournal:
    """Task records in Redis (decode_responses=True client)."""

    def __init__(self, redis: Redis, *, prefix: str = "orch:", retention_seconds: int = 30 * 24 * 3600) -> None:
        self._redis = redis
        self._prefix = prefix
        self._retention = retention_seconds
        self._put_feedback = redis.register_script(_PUT_FEEDBACK)  # EVALSHA, loaded on first use
        self._explain_feedback = redis.register_script(_EXPLAIN_FEEDBACK)

    def _key(self, request_id: str) -> str:
        return f"{self._prefix}task:{request_id}"

    def _feedback_key(self, request_id: str, user_id: str) -> str:
        return f"{self._prefix}feedback:{request_id}:{user_id}"

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

    @store_boundary
    async def ping(self) -> None:
        """Round-trip to Redis (the health probe)."""
        await self._redis.ping()

    @store_boundary
    async def put(self, record: TaskRecord, *, previous: TaskRecord | None = None) -> None:
        """Insert or replace the record; index it; expire it after the retention period.

        With ``previous`` (the record as this caller last wrote it), only the changed fields are written and
        the indexes are left alone (they depend on nothing that changes), in one round trip without MULTI.
        """
        key = self._key(record.request_id)
        if previous is not None and _place(previous) == _place(record):
            await self._update(key, record, previous)
            return
        pipe = self._redis.pipeline(transaction=True)
        self.stage(pipe, record)
        await pipe.execute()

    def stage(self, pipe: Pipeline, record: TaskRecord) -> None:
        """Add :meth:`put`'s whole-record writes to ``pipe`` (a transaction on this journal's client)."""
        key = self._key(record.request_id)
        pipe.hset(key, mapping=_encode(record))
        pipe.expire(key, self._retention)
        pipe.zadd(f"{self._prefix}ws:{record.workspace_id}", {record.request_id: record.started_at})
        pipe.zadd(f"{self._prefix}user:{record.workspace_id}:{record.user_id}", {record.request_id: record.started_at})
        if record.status in UNFINISHED:
            pipe.sadd(f"{self._prefix}unfinished", record.request_id)
        else:
            pipe.srem(f"{self._prefix}unfinished", record.request_id)

    async def _update(self, key: str, record: TaskRecord, previous: TaskRecord) -> None:
        before = _encode(previous)
        changed = {k: v for k, v in _encode(record).items() if before[k] != v}
        if not changed:
            return
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(key, mapping=changed)
        pipe.expire(key, self._retention)
        if (record.status in UNFINISHED) != (previous.status in UNFINISHED):
            if record.status in UNFINISHED:
                pipe.sadd(f"{self._prefix}unfinished", record.request_id)
            else:
                pipe.srem(f"{self._prefix}unfinished", record.request_id)
        await pipe.execute()

    @store_boundary
    async def put_effect(self, effect: Effect) -> None:
        """Record ``effect`` (kept as long as task records are)."""
        key = f"{self._prefix}effect:{effect.key}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            key,
            mapping={
                "request_id": effect.request_id,
                "state": effect.state,
                "ok": "1" if effect.ok else "0",
                "result": effect.result,
            },
        )
        pipe.expire(key, self._retention)
        await pipe.execute()

    @store_boundary
    async def effect(self, key: str) -> Effect | None:
        """The ledger entry recorded under ``key``."""
        raw = await self._redis.hgetall(f"{self._prefix}effect:{key}")
        if not raw:
            return None
        state: Literal["started", "done"] = "done" if raw.get("state") == "done" else "started"
        return Effect(
            key=key,
            request_id=str(raw.get("request_id", "")),
            state=state,
            ok=raw.get("ok") == "1",
            result=str(raw.get("result", "")),
        )

    @store_boundary
    async def get(self, request_id: str) -> TaskRecord | None:
        """The record with ``request_id``, unless it expired."""
        raw = await self._redis.hgetall(self._key(request_id))
        return _decode(raw) if raw else None

    @store_boundary
    async def unfinished(self) -> list[TaskRecord]:
        """Records queued, running or interrupted, oldest first."""
        ids = await self._redis.smembers(f"{self._prefix}unfinished")
        records = [r for r in [await self.get(str(i)) for i in ids] if r is not None and r.status in UNFINISHED]
        return sorted(records, key=lambda r: r.started_at)

    @store_boundary
    async def recent(self, workspace_id: str, *, user_id: str | None = None, limit: int = 10) -> list[TaskRecord]:
        """The newest records of a workspace (of one user when given), newest first."""
        index = (
            f"{self._prefix}ws:{workspace_id}" if user_id is None else f"{self._prefix}user:{workspace_id}:{user_id}"
        )
        found: list[TaskRecord] = []
        start = 0
        while len(found) < limit:
            ids = await self._redis.zrevrange(index, start, start + limit * 2 - 1)
            if not ids:
                break
            for raw_id in ids:
                request_id = str(raw_id)
                record = await self.get(request_id)
                if record is None:
                    await self._redis.zrem(index, request_id)  # expired: prune the index
                    continue
                found.append(record)
                if len(found) >= limit:
                    break
            start += len(ids)
        return found

    @store_boundary
    async def usage(self, workspace_id: str, *, user_id: str | None, since: float) -> Usage:
        """Totals since ``since``."""
        index = (
            f"{self._prefix}ws:{workspace_id}" if user_id is None else f"{self._prefix}user:{workspace_id}:{user_id}"
        )
        ids = await self._redis.zrangebyscore(index, since, "+inf")
        records = [r for r in [await self.get(str(i)) for i in ids] if r is not None]
        return Usage(
            tasks=len(records),
            failed=sum(r.status == "failed" for r in records),
            input_tokens=sum(r.input_tokens for r in records),
            output_tokens=sum(r.output_tokens for r in records),
        )

    @store_boundary
    async def put_feedback(self, feedback: Feedback) -> bool:
        """Keep ``feedback`` unless a later rating by the same person is kept (one script: no race)."""
        pairs = [str(v) for name in _FEEDBACK_FIELDS for v in (name, getattr(feedback, name))]
        keys = [
            self._feedback_key(feedback.request_id, feedback.user_id),
            f"{self._prefix}feedback_of:{feedback.request_id}",
            f"{self._prefix}feedback_ws:{feedback.workspace_id}",
        ]
        args = [repr(feedback.at), str(self._retention), f"{feedback.request_id}:{feedback.user_id}", feedback.user_id]
        kept = await self._put_feedback(keys=keys, args=[*args, *pairs])
        return bool(kept)

    @store_boundary
    async def explain_feedback(self, request_id: str, user_id: str, text: str) -> bool:
        """Attach ``text`` to the person's kept rating of the task."""
        kept = await self._explain_feedback(keys=[self._feedback_key(request_id, user_id)], args=[text])
        return bool(kept)

    @store_boundary
    async def feedback(self, request_id: str) -> list[Feedback]:
        """Each person's latest rating of a task, oldest first."""
        users = await self._redis.smembers(f"{self._prefix}feedback_of:{request_id}")
        found = [f for f in [await self._rating(request_id, str(u)) for u in users] if f is not None]
        return sorted(found, key=lambda f: f.at)

    @store_boundary
    async def feedback_since(self, workspace_id: str, *, since: float) -> list[Feedback]:
        """The latest ratings in a workspace since ``since`` (expired ones are pruned from the index)."""
        index = f"{self._prefix}feedback_ws:{workspace_id}"
        found: list[Feedback] = []
        for raw in await self._redis.zrangebyscore(index, since, "+inf"):
            member = str(raw)
            request_id, _, user_id = member.partition(":")
            rating = await self._rating(request_id, user_id)
            if rating is None:
                await self._redis.zrem(index, member)
            else:
                found.append(rating)
        return found

    async def _rating(self, request_id: str, user_id: str) -> Feedback | None:
        raw = await self._redis.hgetall(self._feedback_key(request_id, user_id))
        if not raw:
            return None
        values: dict[str, Any] = {name: str(raw.get(name, "")) for name in _FEEDBACK_FIELDS}
        values["at"] = float(values["at"] or 0)
        values["rating"] = "up" if values["rating"] == "up" else "down"
        return Feedback(**values)
