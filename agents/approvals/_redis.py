"""Approvals in Redis, shared by every replica: the decision is one Lua script, atomic on the server.

Each approval is a hash ``<prefix>approval:<id>``, found by its task's tool call through
``<prefix>approval-call:<request id>:<call id>``; a sorted set holds the pending ones by expiry time (what
the sweeper reads) and one per workspace by creation time (history). The compare-and-set script reads
``state`` and writes the decision in one step, so of two replicas clicked at once exactly one wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.approvals._record import FIELDS, Approval, State
from agents.stores import store_boundary

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisApprovals"]

# KEYS: the approval's hash, the pending set, the to-deliver set. ARGV: new state, decided_by, decided_at, id.
_DECIDE = """
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'decided_by', ARGV[2], 'decided_at', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""

# KEYS: the to-deliver set. ARGV: id, now, now + lease. The score is when the delivery may next be tried.
_CLAIM = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""


class RedisApprovals:
    """Approval records in Redis (a ``decode_responses=True`` client), kept as long as task records."""

    def __init__(self, redis: Redis, *, prefix: str = "orch:", retention_seconds: int = 30 * 24 * 3600) -> None:
        self._redis = redis
        self._prefix = prefix
        self._retention = retention_seconds
        self._decide = redis.register_script(_DECIDE)
        self._claim = redis.register_script(_CLAIM)

    def _key(self, approval_id: str) -> str:
        return f"{self._prefix}approval:{approval_id}"

    @property
    def _pending(self) -> str:
        return f"{self._prefix}approvals:pending"

    @property
    def _to_deliver(self) -> str:
        return f"{self._prefix}approvals:to-deliver"

    async def close(self) -> None:
        """The client is the journal's: it closes it."""

    @store_boundary
    async def create(self, approval: Approval) -> None:
        """Store ``approval`` and index it, in one transaction."""
        row: dict[Any, Any] = {k: str(v) for k, v in approval.to_row().items()}
        key = self._key(approval.id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, mapping=row)
        pipe.expire(key, self._retention)
        call = f"{self._prefix}approval-call:{approval.request_id}:{approval.call_id}"
        pipe.set(call, approval.id, ex=self._retention)
        pipe.zadd(self._pending, {approval.id: approval.expires_at})
        history = f"{self._prefix}approvals:ws:{approval.workspace_id}"
        pipe.zadd(history, {approval.id: approval.created_at})
        pipe.zremrangebyscore(history, "-inf", approval.created_at - self._retention)  # records gone by now
        await pipe.execute()

    @store_boundary
    async def get(self, approval_id: str) -> Approval | None:
        """The approval with ``approval_id``."""
        raw = await self._redis.hgetall(self._key(approval_id))
        if not raw or any(f not in raw for f in FIELDS):
            return None
        return Approval.from_row({str(k): v for k, v in raw.items()})

    @store_boundary
    async def for_call(self, request_id: str, call_id: str) -> Approval | None:
        """The approval of one tool call of one task."""
        found = await self._redis.get(f"{self._prefix}approval-call:{request_id}:{call_id}")
        return await self.get(str(found)) if found else None

    @store_boundary
    async def attach_card(self, approval_id: str, channel: str, ts: str) -> None:
        """Remember the card's place."""
        await self._redis.hset(self._key(approval_id), mapping={"card_channel": channel, "card_ts": ts})

    @store_boundary
    async def decide(self, approval_id: str, state: State, by: str, at: float) -> bool:
        """The compare-and-set, as one script on the server."""
        keys = [self._key(approval_id), self._pending, self._to_deliver]
        won = await self._decide(keys=keys, args=[state, by, at, approval_id])
        return int(won) == 1

    @store_boundary
    async def record_result(self, approval_id: str, result: str) -> None:
        """Keep the result."""
        await self._redis.hset(self._key(approval_id), "result", result)

    @store_boundary
    async def claim_delivery(self, approval_id: str, now: float, *, lease: float) -> bool:
        """The lease, as one script on the server."""
        won = await self._claim(keys=[self._to_deliver], args=[approval_id, now, now + lease])
        return int(won) == 1

    @store_boundary
    async def delivered(self, approval_id: str) -> None:
        """Nothing more to deliver."""
        await self._redis.zrem(self._to_deliver, approval_id)

    @store_boundary
    async def undelivered(self, due_by: float) -> list[Approval]:
        """Decided, and their delivery due."""
        return await self._members(self._to_deliver, due_by)

    async def _members(self, index: str, up_to: float) -> list[Approval]:
        """The approvals ``index`` holds up to the score ``up_to``; ids whose record expired leave the index."""
        found: list[Approval] = []
        for raw in await self._redis.zrangebyscore(index, "-inf", up_to):
            approval = await self.get(str(raw))
            if approval is None:
                await self._redis.zrem(index, str(raw))
            else:
                found.append(approval)
        return found

    @store_boundary
    async def due(self, now: float) -> list[Approval]:
        """Pending and out of time."""
        return [a for a in await self._members(self._pending, now) if a.state == "pending"]

    @store_boundary
    async def recent(self, workspace_id: str, *, limit: int = 10) -> list[Approval]:
        """Newest first."""
        ids = await self._redis.zrevrange(f"{self._prefix}approvals:ws:{workspace_id}", 0, limit - 1)
        found = [await self.get(str(i)) for i in ids]
        return [a for a in found if a is not None]
