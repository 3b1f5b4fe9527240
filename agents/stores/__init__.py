"""Durable backends for the task journal (and, for Redis, the shared queue, limits and dedupe).

``open_journal(url)`` picks the backend from ``ORCH_STORE_URL``: ``sqlite:///path`` (one process, the
default) or ``redis://host:port/db`` (several replicas).
"""

from agents.stores._open import open_journal
from agents.stores._queue import RedisTaskQueue
from agents.stores._redis import RedisJournal
from agents.stores._sqlite import SqliteJournal

__all__ = ["RedisJournal", "RedisTaskQueue", "SqliteJournal", "open_journal"]
