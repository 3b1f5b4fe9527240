"""Durable backends for the task journal (and, for Redis, the shared queue, limits and dedupe).

``ORCH_STORE_URL`` picks the backend: ``sqlite:///path`` (one process, the default; ``open_journal``) or
``redis://host:port/db`` (several replicas: journal, queue, limits and dedupe, opened together by
``agents.assembly``).
"""

from agents.stores._errors import store_boundary
from agents.stores._open import open_journal
from agents.stores._queue import RedisTaskQueue
from agents.stores._redis import RedisJournal
from agents.stores._sqlite import SqliteJournal

__all__ = ["RedisJournal", "RedisTaskQueue", "SqliteJournal", "open_journal", "store_boundary"]
