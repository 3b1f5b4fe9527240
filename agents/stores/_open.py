"""Opening the single-process journal named by ``ORCH_STORE_URL`` (Redis is opened with the shared state)."""

from __future__ import annotations

from agents.errors import ConfigError
from agents.stores._sqlite import SqliteJournal

__all__ = ["open_journal", "sqlite_path"]


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""


async def open_journal(url: str) -> SqliteJournal:
    """Open the SQLite journal ``url`` names; raise :class:`ConfigError` for any other scheme."""
    path = sqlite_path(url)
    if not path:
        raise ConfigError([("ORCH_STORE_URL", "use sqlite:///path/to/file.db or redis://host:6379/0")])
    return await SqliteJournal.open(path)
