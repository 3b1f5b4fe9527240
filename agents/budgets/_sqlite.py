"""Token counters in SQLite, in the journal's own file and connection (the embedded store, one process).

One row per (day, workspace, kind, name), incremented with an upsert and committed per model call. The table
is created here if missing (it does not take part in the journal's numbered migrations); days older than
:data:`KEEP_DAYS` are pruned when it opens.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agents.budgets._day import BudgetDay
from agents.budgets._port import Account, Spent, TopUsage
from agents.stores import store_boundary

if TYPE_CHECKING:
    from collections.abc import Callable

    import aiosqlite

__all__ = ["KEEP_DAYS", "SqliteTokenBudgets"]

#: Days of counters kept in the file (only today's are read; the rest is for people who look).
KEEP_DAYS = 35

_SCHEMA = """
CREATE TABLE IF NOT EXISTS token_usage (
    day TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    PRIMARY KEY (day, workspace_id, kind, name)
) WITHOUT ROWID
"""
_ADD = (
    "INSERT INTO token_usage (day, workspace_id, kind, name, tokens) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (day, workspace_id, kind, name) DO UPDATE SET tokens = tokens + excluded.tokens"
)


class SqliteTokenBudgets:
    """Today's counters in the ``token_usage`` table of the journal's SQLite file."""

    def __init__(self, connection: aiosqlite.Connection, *, clock: Callable[[], float] = time.time) -> None:
        self._db = connection
        self._clock = clock

    @classmethod
    @store_boundary
    async def open(
        cls, connection: aiosqlite.Connection, *, clock: Callable[[], float] = time.time
    ) -> SqliteTokenBudgets:
        """Create the table if it is missing, prune old days, and count on ``connection``."""
        await connection.execute(_SCHEMA)
        oldest = BudgetDay.at(clock() - KEEP_DAYS * 86_400).key
        await connection.execute("DELETE FROM token_usage WHERE day < ?", (oldest,))
        await connection.commit()
        return cls(connection, clock=clock)

    @store_boundary
    async def add(self, account: Account, tokens: int, *, agent: str) -> None:
        """Count ``tokens`` for the account's person, channel and workspace, and for ``agent``, today."""
        day, ws = BudgetDay.at(self._clock()).key, account.workspace_id
        rows = [
            (day, ws, "user", account.user_id, tokens),
            (day, ws, "channel", account.channel_id, tokens),
            (day, ws, "agent", agent, tokens),
            (day, ws, "workspace", "", tokens),
        ]
        await self._db.executemany(_ADD, rows)
        await self._db.commit()

    @store_boundary
    async def spent(self, account: Account) -> Spent:
        """What the account's person, channel and workspace have used today."""
        day = BudgetDay.at(self._clock())
        query = (
            "SELECT kind, tokens FROM token_usage WHERE day = ? AND workspace_id = ? AND "
            "((kind = 'user' AND name = ?) OR (kind = 'channel' AND name = ?) OR kind = 'workspace')"
        )
        params = (day.key, account.workspace_id, account.user_id, account.channel_id)
        async with self._db.execute(query, params) as cursor:
            found = {str(kind): int(tokens) for kind, tokens in await cursor.fetchall()}
        return Spent(found.get("user", 0), found.get("channel", 0), found.get("workspace", 0), day)

    @store_boundary
    async def top(self, workspace_id: str, *, limit: int) -> TopUsage:
        """The workspace's ``limit`` biggest users, channels and agents today."""
        day = BudgetDay.at(self._clock())
        ranked: dict[str, tuple[tuple[str, int], ...]] = {}
        for kind in ("user", "channel", "agent"):
            query = (
                "SELECT name, tokens FROM token_usage WHERE day = ? AND workspace_id = ? AND kind = ? "
                "ORDER BY tokens DESC, name LIMIT ?"
            )
            async with self._db.execute(query, (day.key, workspace_id, kind, limit)) as cursor:
                ranked[kind] = tuple((str(name), int(tokens)) for name, tokens in await cursor.fetchall())
        return TopUsage(users=ranked["user"], channels=ranked["channel"], agents=ranked["agent"], day=day)
