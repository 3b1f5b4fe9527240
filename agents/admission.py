"""Admission: may this person start a task now?

Three checks, cheapest first, before any model call: the process is not draining, the person and the
bot are under their concurrency caps, and the person is under the rate limit. The rate-limit algorithm
is a moving window, behind the small :class:`RateLimiter` port: in memory for one process, the ``limits``
library's in Redis when replicas share it, without touching callers.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Self

import limits
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from agents.errors import RateLimited, ShuttingDown, TooManyTasks
from agents.stores import store_boundary

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "Admission",
    "MemoryRateLimiter",
    "RateDecision",
    "RateLimiter",
    "Slot",
    "StorageRateLimiter",
    "redis_rate_limiter",
]


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
    """A moving-window limit kept in this process (one replica): a deque of hit times per key.

    The same algorithm as ``limits``' moving window, without its async storage's thread hop per
    key and expiry pass per hit. Keys whose hits have all expired are swept every ``sweep_every`` hits.
    """

    def __init__(self, limit: str, *, clock: Callable[[], float] = time.time, sweep_every: int = 4096) -> None:
        self.limit = limit
        item = limits.parse(limit)
        self._amount = item.amount
        self._window = float(item.get_expiry())
        self._hits: dict[str, deque[float]] = {}
        self._clock = clock
        self._sweep_every = sweep_every
        self._since_sweep = 0

    async def hit(self, key: str) -> RateDecision:
        """Record a hit for ``key`` if the limit allows it."""
        now = self._clock()
        self._since_sweep += 1
        if self._since_sweep >= self._sweep_every:
            self._sweep(now)
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        horizon = now - self._window
        while hits and hits[0] <= horizon:
            hits.popleft()
        if len(hits) < self._amount:
            hits.append(now)
            return RateDecision(allowed=True)
        return RateDecision(allowed=False, retry_after=max(0.0, hits[0] + self._window - now))

    def _sweep(self, now: float) -> None:
        self._since_sweep = 0
        horizon = now - self._window
        for key in [key for key, hits in self._hits.items() if not hits or hits[-1] <= horizon]:
            del self._hits[key]

    def __len__(self) -> int:
        """Keys currently tracked."""
        return len(self._hits)


class StorageRateLimiter:
    """``limits``' moving window in a shared ``storage`` (Redis), so every replica sees the same hits."""

    def __init__(self, limit: str, storage: Storage, *, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._item = limits.parse(limit)
        self._limiter = MovingWindowRateLimiter(storage)
        self._clock = clock

    @store_boundary
    async def hit(self, key: str) -> RateDecision:
        """Record a hit for ``key`` if the limit allows it (:class:`StoreUnavailable` if Redis is down)."""
        if await self._limiter.hit(self._item, key):
            return RateDecision(allowed=True)
        stats = await self._limiter.get_window_stats(self._item, key)
        return RateDecision(allowed=False, retry_after=max(0.0, stats.reset_time - self._clock()))


def redis_rate_limiter(limit: str, url: str, *, prefix: str = "orch-limits") -> StorageRateLimiter:
    """The same moving window, counted in Redis so every replica sees the same hits."""
    uri = "async+" + url if not url.startswith("async+") else url
    return StorageRateLimiter(limit, RedisStorage(uri, implementation="redispy", key_prefix=prefix))


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

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Count one more running unit (a runbook step) against the process's cap while the block runs.

        It never waits or refuses (the run it belongs to was admitted); new tasks see the load and are refused.
        """
        self._total += 1
        try:
            yield
        finally:
            self._total -= 1

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
