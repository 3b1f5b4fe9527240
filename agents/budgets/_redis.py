"""Token counters in Redis, shared by every replica: one script call (one round trip) per model call.

Per UTC day and workspace, three sorted sets (``users``, ``channels``, ``agents``: ZINCRBY keeps them ranked
for the admins' view) and one integer (``total``: INCRBY), under ``<prefix>tokens:<day>:<workspace>:``. Each
key expires :data:`TTL_SECONDS` after its last write, so yesterday's counters stay readable past midnight and
nothing needs cleaning up.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agents.budgets._day import BudgetDay
from agents.budgets._port import Account, Spent, TopUsage
from agents.stores import store_boundary

if TYPE_CHECKING:
    from collections.abc import Callable

    from redis.asyncio import Redis

__all__ = ["TTL_SECONDS", "RedisTokenBudgets"]

#: How long a day's counters live after their last write: about two days.
TTL_SECONDS = 2 * 86_400 + 3_600

# KEYS: users, channels, agents (sorted sets), total. ARGV: tokens, user, channel, agent, TTL.
# One script instead of an eight-command MULTI: the same atomic update for about half the client CPU
# (0.15 against 0.26 ms a call, measured), and it runs on every model call.
_ADD = """
for i = 1, 3 do redis.call('ZINCRBY', KEYS[i], ARGV[1], ARGV[i + 1]) end
redis.call('INCRBY', KEYS[4], ARGV[1])
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
return 1
"""


class RedisTokenBudgets:
    """Today's counters in Redis (a ``decode_responses=True`` client), shared across replicas."""

    def __init__(self, redis: Redis, *, prefix: str = "orch:", clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._add = redis.register_script(_ADD)

    def _keys(self, day: BudgetDay, workspace_id: str) -> tuple[str, str, str, str]:
        base = f"{self._prefix}tokens:{day.key}:{workspace_id}:"
        return base + "users", base + "channels", base + "agents", base + "total"

    @store_boundary
    async def add(self, account: Account, tokens: int, *, agent: str) -> None:
        """Count ``tokens`` for the account's person, channel and workspace, and for ``agent``, today."""
        keys = self._keys(BudgetDay.at(self._clock()), account.workspace_id)
        await self._add(keys=list(keys), args=[tokens, account.user_id, account.channel_id, agent, TTL_SECONDS])

    @store_boundary
    async def spent(self, account: Account) -> Spent:
        """What the account's person, channel and workspace have used today."""
        day = BudgetDay.at(self._clock())
        users, channels, _, total = self._keys(day, account.workspace_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zscore(users, account.user_id)
            pipe.zscore(channels, account.channel_id)
            pipe.get(total)
            user, channel, workspace = await pipe.execute()
        return Spent(int(user or 0), int(channel or 0), int(workspace or 0), day)

    @store_boundary
    async def top(self, workspace_id: str, *, limit: int) -> TopUsage:
        """The workspace's ``limit`` biggest users, channels and agents today."""
        day = BudgetDay.at(self._clock())
        users, channels, agents, _ = self._keys(day, workspace_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in (users, channels, agents):
                pipe.zrevrange(key, 0, limit - 1, withscores=True)
            ranked = await pipe.execute()
        by_user, by_channel, by_agent = (tuple((str(name), int(score)) for name, score in rows) for rows in ranked)
        return TopUsage(users=by_user, channels=by_channel, agents=by_agent, day=day)
