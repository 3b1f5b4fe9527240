"""Seeing each delivery once.

Slack redelivers an event it believes timed out, up to three times over about five minutes. The first
sighting of an ``event_id`` runs; later ones are dropped. The decision is by id, never by the retry
headers, so a retry whose first delivery was lost is still answered.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

import structlog
from cachetools import TTLCache

from agents.errors import StoreUnavailable
from agents.stores import store_boundary

if TYPE_CHECKING:
    from collections.abc import Callable

    from redis.asyncio import Redis

__all__ = ["Deduper", "MemoryDeduper", "RedisDeduper", "first_sighting_or_unknown"]

log = structlog.get_logger(__name__)


class Deduper(Protocol):
    """Remembers keys for a while."""

    async def first_sighting(self, key: str) -> bool:
        """True the first time ``key`` is seen within the TTL, False after."""
        ...


class MemoryDeduper:
    """In-process memory of recent keys, bounded in size and age (one replica)."""

    def __init__(
        self, *, ttl: float = 15 * 60, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seen: TTLCache[str, bool] = TTLCache(maxsize=max_keys, ttl=ttl, timer=clock)

    async def first_sighting(self, key: str) -> bool:
        """True the first time ``key`` is seen within the TTL, False after."""
        if key in self._seen:
            return False
        self._seen[key] = True
        return True


class RedisDeduper:
    """Recent keys in Redis (``SET NX EX``), so a redelivery reaching another replica is still dropped."""

    def __init__(self, redis: Redis, *, ttl: int = 15 * 60, prefix: str = "orch:seen:") -> None:
        self._redis = redis
        self._ttl = ttl
        self._prefix = prefix

    @store_boundary
    async def first_sighting(self, key: str) -> bool:
        """True for exactly one caller across all replicas within the TTL (:class:`StoreUnavailable` if down)."""
        return bool(await self._redis.set(self._prefix + key, "1", nx=True, ex=self._ttl))


async def first_sighting_or_unknown(deduper: Deduper, key: str) -> bool:
    """``deduper.first_sighting(key)``, or True when the store cannot say: answering twice beats not answering."""
    try:
        return await deduper.first_sighting(key)
    except StoreUnavailable as error:
        log.warning("event.dedupe_unavailable", store=error.store, reason=error.reason)
        return True
