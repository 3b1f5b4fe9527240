"""Choosing the journal backend from ``ORCH_STORE_URL``."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from redis.asyncio import Redis

from agents.errors import ConfigError
from agents.stores._redis import RedisJournal
from agents.stores._sqlite import SqliteJournal

if TYPE_CHECKING:
    from agents.journal import TaskJournal

__all__ = ["open_journal", "sqlite_path"]


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""


async def open_journal(url: str, *, retention_seconds: int) -> TaskJournal:
    """Open the journal ``url`` names; raise :class:`ConfigError` for a scheme we do not know."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return await SqliteJournal.open(sqlite_path(url) or "data/orch-bot.db")
    if scheme in {"redis", "rediss"}:
        redis = Redis.from_url(url, decode_responses=True)
        await redis.ping()
        return RedisJournal(redis, retention_seconds=retention_seconds)
    raise ConfigError([("ORCH_STORE_URL", "use sqlite:///path/to/file.db or redis://host:6379/0")])
