"""Approvals in the task journal's SQLite file: the decision is ``UPDATE … WHERE state = 'pending'``.

Its own table on the journal's connection (one file, one connection, as the token counters); the table
is created if missing, so the journal's migrations stay the journal's. The rowcount of the conditional
update says whether this caller decided: SQLite serialises writers, so two clicks cannot both see
``pending``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.approvals._record import FIELDS, Approval, State
from agents.stores import store_boundary

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["SqliteApprovals"]

_TABLE = """
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    action TEXT NOT NULL,
    params TEXT NOT NULL,
    params_hash TEXT NOT NULL,
    requester_id TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    is_dm INTEGER NOT NULL,
    approvers TEXT NOT NULL,
    rule TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    proposal TEXT NOT NULL,
    card_channel TEXT NOT NULL DEFAULT '',
    card_ts TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    decided_by TEXT NOT NULL DEFAULT '',
    decided_at REAL NOT NULL DEFAULT 0,
    result TEXT NOT NULL DEFAULT '',
    deliver_after REAL,
    UNIQUE (request_id, call_id)
);
CREATE INDEX IF NOT EXISTS approvals_undelivered ON approvals (deliver_after);
CREATE INDEX IF NOT EXISTS approvals_pending ON approvals (state, expires_at);
CREATE INDEX IF NOT EXISTS approvals_by_workspace ON approvals (workspace_id, created_at);
"""
_COLUMNS = ", ".join(FIELDS)


class SqliteApprovals:
    """Approval records in a SQLite file."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    @classmethod
    async def open(cls, connection: aiosqlite.Connection) -> SqliteApprovals:
        """Count on ``connection`` (the journal's), creating the table if it is missing."""
        await connection.executescript(_TABLE)
        await connection.commit()
        return cls(connection)

    async def close(self) -> None:
        """The connection is the journal's: it closes it."""

    @store_boundary
    async def create(self, approval: Approval) -> None:
        """Insert ``approval``, durably."""
        row = approval.to_row()
        marks = ", ".join("?" for _ in FIELDS)
        await self._db.execute(f"INSERT INTO approvals ({_COLUMNS}) VALUES ({marks})", [row[f] for f in FIELDS])  # noqa: S608 - column names are ours
        await self._db.commit()

    async def get(self, approval_id: str) -> Approval | None:
        """The approval with ``approval_id``."""
        found = await self._select("WHERE id = ?", (approval_id,))
        return found[0] if found else None

    async def for_call(self, request_id: str, call_id: str) -> Approval | None:
        """The approval of one tool call of one task."""
        found = await self._select("WHERE request_id = ? AND call_id = ?", (request_id, call_id))
        return found[0] if found else None

    @store_boundary
    async def attach_card(self, approval_id: str, channel: str, ts: str) -> None:
        """Remember the card's place."""
        await self._db.execute(
            "UPDATE approvals SET card_channel = ?, card_ts = ? WHERE id = ?", (channel, ts, approval_id)
        )
        await self._db.commit()

    @store_boundary
    async def decide(self, approval_id: str, state: State, by: str, at: float) -> bool:
        """The compare-and-set: one row changes only while it is pending."""
        cursor = await self._db.execute(
            "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ?, deliver_after = ? "
            "WHERE id = ? AND state = 'pending'",
            (state, by, at, at, approval_id),
        )
        await self._db.commit()
        return cursor.rowcount == 1

    @store_boundary
    async def record_result(self, approval_id: str, result: str) -> None:
        """Keep the result."""
        await self._db.execute("UPDATE approvals SET result = ? WHERE id = ?", (result, approval_id))
        await self._db.commit()

    @store_boundary
    async def claim_delivery(self, approval_id: str, now: float, *, lease: float) -> bool:
        """Compare-and-set on ``deliver_after``: one process's lease on the delivery."""
        cursor = await self._db.execute(
            "UPDATE approvals SET deliver_after = ? WHERE id = ? AND deliver_after IS NOT NULL AND deliver_after <= ?",
            (now + lease, approval_id, now),
        )
        await self._db.commit()
        return cursor.rowcount == 1

    @store_boundary
    async def delivered(self, approval_id: str) -> None:
        """Nothing more to deliver."""
        await self._db.execute("UPDATE approvals SET deliver_after = NULL WHERE id = ?", (approval_id,))
        await self._db.commit()

    async def undelivered(self, due_by: float) -> list[Approval]:
        """Decided, and their delivery due."""
        return await self._select("WHERE deliver_after IS NOT NULL AND deliver_after <= ?", (due_by,))

    async def due(self, now: float) -> list[Approval]:
        """Pending and out of time."""
        return await self._select("WHERE state = 'pending' AND expires_at <= ?", (now,))

    async def recent(self, workspace_id: str, *, limit: int = 10) -> list[Approval]:
        """Newest first."""
        return await self._select("WHERE workspace_id = ? ORDER BY created_at DESC LIMIT ?", (workspace_id, limit))

    @store_boundary
    async def _select(self, where: str, params: tuple[object, ...]) -> list[Approval]:
        async with self._db.execute(f"SELECT {_COLUMNS} FROM approvals {where}", params) as cursor:  # noqa: S608
            rows = await cursor.fetchall()
        return [Approval.from_row(dict(zip(FIELDS, row, strict=True))) for row in rows]
