"""The task journal in SQLite: one file, created and migrated on start, safe against a killed process.

WAL mode with ``synchronous=NORMAL``: a committed record survives the process being killed (``kill -9``),
which is what resuming interrupted tasks needs; only a power loss can take the last transactions.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite

from agents.effects import Effect
from agents.feedback import Feedback
from agents.journal import UNFINISHED, TaskRecord, Usage
from agents.stores._errors import store_boundary

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["SqliteJournal"]

_FIELDS = tuple(f.name for f in dataclasses.fields(TaskRecord))
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE tasks (
        request_id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        text TEXT NOT NULL,
        started_at REAL NOT NULL,
        status TEXT NOT NULL,
        agent TEXT,
        seconds REAL,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        error_code TEXT,
        channel_id TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL DEFAULT 0,
        task_json TEXT NOT NULL DEFAULT '',
        target TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX tasks_by_workspace ON tasks (workspace_id, started_at);
    CREATE INDEX tasks_by_user ON tasks (workspace_id, user_id, started_at);
    CREATE INDEX tasks_by_status ON tasks (status);
    """,
    """
    ALTER TABLE tasks ADD COLUMN checkpoint TEXT NOT NULL DEFAULT '';
    CREATE TABLE effects (
        key TEXT PRIMARY KEY,
        request_id TEXT NOT NULL,
        state TEXT NOT NULL,
        ok INTEGER NOT NULL,
        result TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE tasks ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN tool_calls TEXT NOT NULL DEFAULT '';
    """,
    """
    ALTER TABLE tasks ADD COLUMN model_id TEXT NOT NULL DEFAULT '';
    CREATE TABLE feedback (
        request_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        rating TEXT NOT NULL,
        at REAL NOT NULL,
        workspace_id TEXT NOT NULL,
        agent TEXT NOT NULL DEFAULT '',
        model_id TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (request_id, user_id)
    );
    CREATE INDEX feedback_by_workspace ON feedback (workspace_id, at);
    """,
)
_FEEDBACK_FIELDS = tuple(f.name for f in dataclasses.fields(Feedback))


class SqliteJournal:
    """Task records in a SQLite file."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    @classmethod
    async def open(cls, path: str) -> SqliteJournal:
        """Open (creating the file and its folder) and migrate to the current schema."""
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA busy_timeout=5000")
        async with connection.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            await connection.executescript(script)
            await connection.execute(f"PRAGMA user_version={number}")
        await connection.commit()
        return cls(connection)

    @property
    def connection(self) -> aiosqlite.Connection:
        """The file's connection, for what else lives in the same file (the token counters)."""
        return self._db

    async def close(self) -> None:
        """Close the file."""
        await self._db.close()

    @store_boundary
    async def ping(self) -> None:
        """Read from the file (the health probe)."""
        async with self._db.execute("SELECT 1") as cursor:
            await cursor.fetchone()

    @store_boundary
    async def put(self, record: TaskRecord, *, previous: TaskRecord | None = None) -> None:  # noqa: ARG002 - one row either way
        """Insert or replace the record with ``record.request_id``, durably."""
        values = dataclasses.astuple(record)
        placeholders = ", ".join("?" for _ in _FIELDS)
        await self._db.execute(f"INSERT OR REPLACE INTO tasks ({', '.join(_FIELDS)}) VALUES ({placeholders})", values)  # noqa: S608 - column names are ours
        await self._db.commit()

    @store_boundary
    async def put_effect(self, effect: Effect) -> None:
        """Record ``effect``, durably (committed before this returns)."""
        await self._db.execute(
            "INSERT OR REPLACE INTO effects (key, request_id, state, ok, result) VALUES (?, ?, ?, ?, ?)",
            (effect.key, effect.request_id, effect.state, int(effect.ok), effect.result),
        )
        await self._db.commit()

    @store_boundary
    async def effect(self, key: str) -> Effect | None:
        """The ledger entry recorded under ``key``."""
        query = "SELECT key, request_id, state, ok, result FROM effects WHERE key = ?"
        async with self._db.execute(query, (key,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return Effect(key=row[0], request_id=row[1], state=row[2], ok=bool(row[3]), result=row[4])

    async def get(self, request_id: str) -> TaskRecord | None:
        """The record with ``request_id``."""
        rows = await self._select("WHERE request_id = ?", (request_id,))
        return rows[0] if rows else None

    async def unfinished(self) -> list[TaskRecord]:
        """Records queued, running or interrupted, oldest first."""
        marks = ", ".join("?" for _ in UNFINISHED)
        return await self._select(f"WHERE status IN ({marks}) ORDER BY started_at", tuple(sorted(UNFINISHED)))

    async def recent(self, workspace_id: str, *, user_id: str | None = None, limit: int = 10) -> list[TaskRecord]:
        """The newest records of a workspace (of one user when given), newest first."""
        if user_id is None:
            return await self._select("WHERE workspace_id = ? ORDER BY started_at DESC LIMIT ?", (workspace_id, limit))
        return await self._select(
            "WHERE workspace_id = ? AND user_id = ? ORDER BY started_at DESC LIMIT ?", (workspace_id, user_id, limit)
        )

    @store_boundary
    async def usage(self, workspace_id: str, *, user_id: str | None, since: float) -> Usage:
        """Totals since ``since``."""
        query = (
            "SELECT COUNT(*), COALESCE(SUM(status = 'failed'), 0), COALESCE(SUM(input_tokens), 0), "
            "COALESCE(SUM(output_tokens), 0) FROM tasks WHERE workspace_id = ? AND started_at >= ?"
        )
        params: tuple[Any, ...] = (workspace_id, since)
        if user_id is not None:
            query += " AND user_id = ?"
            params = (*params, user_id)
        async with self._db.execute(query, params) as cursor:
            row = await cursor.fetchone()
        tasks, failed, tokens_in, tokens_out = row or (0, 0, 0, 0)
        return Usage(tasks=int(tasks), failed=int(failed), input_tokens=int(tokens_in), output_tokens=int(tokens_out))

    @store_boundary
    async def put_feedback(self, feedback: Feedback) -> bool:
        """Keep ``feedback`` unless a later rating by the same person is kept (one statement: no race)."""
        names = ", ".join(_FEEDBACK_FIELDS)
        marks = ", ".join("?" for _ in _FEEDBACK_FIELDS)
        cursor = await self._db.execute(
            f"INSERT INTO feedback ({names}) VALUES ({marks}) "  # noqa: S608 - column names are ours
            "ON CONFLICT (request_id, user_id) DO UPDATE SET rating = excluded.rating, at = excluded.at, "
            "agent = excluded.agent, model_id = excluded.model_id, "
            "text = CASE WHEN excluded.text = '' THEN feedback.text ELSE excluded.text END "
            "WHERE excluded.at >= feedback.at",
            dataclasses.astuple(feedback),
        )
        kept = cursor.rowcount > 0
        await cursor.close()
        await self._db.commit()
        return kept

    @store_boundary
    async def explain_feedback(self, request_id: str, user_id: str, text: str) -> bool:
        """Attach ``text`` to the person's kept rating of the task."""
        cursor = await self._db.execute(
            "UPDATE feedback SET text = ? WHERE request_id = ? AND user_id = ?", (text, request_id, user_id)
        )
        kept = cursor.rowcount > 0
        await cursor.close()
        await self._db.commit()
        return kept

    @store_boundary
    async def feedback(self, request_id: str) -> list[Feedback]:
        """Each person's latest rating of a task, oldest first."""
        query = f"SELECT {', '.join(_FEEDBACK_FIELDS)} FROM feedback WHERE request_id = ? ORDER BY at"  # noqa: S608
        async with self._db.execute(query, (request_id,)) as cursor:
            rows = await cursor.fetchall()
        return [Feedback(*row) for row in rows]

    @store_boundary
    async def feedback_since(self, workspace_id: str, *, since: float) -> list[Feedback]:
        """The latest ratings in a workspace since ``since``."""
        query = f"SELECT {', '.join(_FEEDBACK_FIELDS)} FROM feedback WHERE workspace_id = ? AND at >= ?"  # noqa: S608
        async with self._db.execute(query, (workspace_id, since)) as cursor:
            rows = await cursor.fetchall()
        return [Feedback(*row) for row in rows]

    @store_boundary
    async def _select(self, where: str, params: Iterable[Any]) -> list[TaskRecord]:
        async with self._db.execute(f"SELECT {', '.join(_FIELDS)} FROM tasks {where}", tuple(params)) as cursor:  # noqa: S608
            rows = await cursor.fetchall()
        return [TaskRecord(*row) for row in rows]
