"""Admission: may this person start a task now?

Three checks, cheapest first, before any model call: the process is not draining, the person and the
bot are under their concurrency caps, and the person is under the rate limit. The rate-limit algorithm
is the ``limits`` library's moving window, behind the small :class:`RateLimiter` port so a shared
(Redis) backend can replace the in-memory one without touching callers.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Self

import limits
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from agents.errors import RateLimited, ShuttingDown, TooManyTasks

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Admission", "MemoryRateLimiter", "RateDecision", "RateLimiter", "Slot", "redis_rate_limiter"]


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether a hit was allowed, and if not, in how many seconds the next one will be."""

    allowed: bool
    retry_after: float = 0.0


class RateLimiter(Protocol):
    """Counts hits per key against one limit."""

    limit: str

    async def hit(self, key: str) -> RateDecision:
        """Record a hit for ``key`` if the limit allows it."""
        ...


class MemoryRateLimiter:
    """A moving-window limit kept in this process (one replica), or in ``storage`` (e.g. Redis, shared)."""

    def __init__(self, limit: str, *, storage: Storage | None = None, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._item = limits.parse(limit)
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())
        self._clock = clock

    async def hit(self, key: str) -> RateDecision:
        """Record a hit for ``key`` if the limit allows it."""
        if await self._limiter.hit(self._item, key):
            return RateDecision(allowed=True)
        stats = await self._limiter.get_window_stats(self._item, key)
        return RateDecision(allowed=False, retry_after=max(0.0, stats.reset_time - self._clock()))


def redis_rate_limiter(limit: str, url: str, *, prefix: str = "orch-limits") -> MemoryRateLimiter:
    """The same moving window, counted in Redis so every replica sees the same hits."""
    uri = "async+" + url if not url.startswith("async+") else url
    return MemoryRateLimiter(limit, storage=RedisStorage(uri, implementation="redispy", key_prefix=prefix))


class Slot:
    """A place among the running tasks; release it exactly once (it is idempotent)."""

    def __init__(self, admission: Admission, user_key: str) -> None:
        self._admission = admission
        self._user_key = user_key
        self._released = False

    def release(self) -> None:
        """Give the place back."""
        if not self._released:
            self._released = True
            self._admission._release(self._user_key)  # noqa: SLF001 - Slot is Admission's own handle

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.release()


class Admission:
    """Decides whether a task may start, and keeps count of those running."""

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        max_per_user: int,
        max_total: int,
        lag: Callable[[], float] | None = None,
        max_lag: float = 0.0,
    ) -> None:
        self._lag = lag
        self._max_lag = max_lag
        self._limiter = limiter
        self._max_per_user = max_per_user
        self._max_total = max_total
        self._per_user: Counter[str] = Counter()
        self._total = 0
        self._closed = False

    @property
    def in_flight(self) -> int:
        """Tasks admitted and not yet released."""
        return self._total

    @property
    def closed(self) -> bool:
        """Whether admission has stopped (the process is draining)."""
        return self._closed

    @property
    def max_per_user(self) -> int:
        """How many tasks one person may have running at once."""
        return self._max_per_user

    @property
    def rate_limit(self) -> str:
        """The per-user limit, as configured (e.g. ``5/minute``)."""
        return self._limiter.limit

    def close(self) -> None:
        """Refuse all new work from now on (the process is draining)."""
        self._closed = True

    def resume(self, user_key: str) -> Slot:
        """A slot for a task accepted before a restart: it already passed the rate limit, and is not refused."""
        self._per_user[user_key] += 1
        self._total += 1
        return Slot(self, user_key)

    async def admit(self, user_key: str) -> Slot:
        """Take a slot for ``user_key`` or raise an :class:`AdmissionDenied` saying when to retry."""
        if self._closed:
            raise ShuttingDown
        if self._lag is not None and self._max_lag > 0 and (lag := self._lag()) > self._max_lag:
            raise TooManyTasks(scope="busy", limit=self._max_total, retry_after=max(10.0, lag * 4))
        if self._per_user[user_key] >= self._max_per_user:
            raise TooManyTasks(scope="user", limit=self._max_per_user, retry_after=15)
        if self._total >= self._max_total:
            raise TooManyTasks(scope="global", limit=self._max_total, retry_after=15)
        # Reserve before awaiting the limiter so concurrent admits cannot overshoot the caps.
        self._per_user[user_key] += 1
        self._total += 1
        slot = Slot(self, user_key)
        try:
            decision = await self._limiter.hit(user_key)
        except BaseException:
            slot.release()
            raise
        if not decision.allowed:
            slot.release()
            raise RateLimited(limit=self._limiter.limit, retry_after=decision.retry_after)
        return slot

    def _release(self, user_key: str) -> None:
        self._total -= 1
        self._per_user[user_key] -= 1
        if self._per_user[user_key] <= 0:
            del self._per_user[user_key]
