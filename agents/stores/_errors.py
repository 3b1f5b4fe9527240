"""The store boundary: Redis and SQLite connection failures become :class:`StoreUnavailable`, once, here.

Above ``agents.stores`` (and the Redis-backed limiter and dedupe) nothing knows which store failed or how:
the core and the edge deal in ``StoreUnavailable`` only, and the edge tells the user the task could not be
recorded. Anything else a store raises (a bug, a bad command) is left as it is.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agents.errors import StoreUnavailable

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine
    from typing import Any

__all__ = ["store_boundary"]

P = ParamSpec("P")
T = TypeVar("T")

# Refused or dropped connections, timeouts, a Redis still loading its data (BusyLoadingError is a
# ConnectionError), a failover that left us on a read-only replica; SQLite locked, unreadable or gone.
_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)
_SQLITE_DOWN = (sqlite3.OperationalError,)


def store_boundary(call: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Wrap a store method so its connection failures raise :class:`StoreUnavailable` (``from`` the original)."""

    @functools.wraps(call)
    async def translated(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await call(*args, **kwargs)
        except _REDIS_DOWN as exc:
            raise StoreUnavailable(store="Redis", reason=type(exc).__name__) from exc
        except _SQLITE_DOWN as exc:
            raise StoreUnavailable(store="SQLite", reason=type(exc).__name__) from exc

    return translated
