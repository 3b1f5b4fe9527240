"""When a task is finished for good: its statuses, which of them hold a running slot, and when to give up.

A newcomer asking "when is a task failed for good?" reads this module only:

- ``queued`` → ``running`` → ``succeeded`` | ``failed``: the normal life of a task.
- ``interrupted``: a shutdown cut it short; the next process (or replica) resumes it.
- ``waiting``: the agent loop suspended it before a tool call (e.g. for a person's approval). It holds no
  running slot, is not resumed by a restart, and runs again only when :meth:`Orchestrator.continue_task`
  is called, by any process.
- A task is given up (``failed``, with the reason as its error code) when it has been started
  ``max_attempts`` times without finishing (restarts or crashes kept interrupting it), when the shared
  queue dead-letters it, or when its stored form cannot be read back. Its person is told why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["RESUMABLE", "TERMINAL", "Attempts", "GiveUp", "GiveUpReason", "Status", "holds_slot"]

Status = Literal["queued", "running", "waiting", "succeeded", "failed", "interrupted"]
GiveUpReason = Literal["interrupted", "dead_letter", "unrecoverable"]

#: Statuses a restart (or the shared queue) picks up and runs again.
RESUMABLE: frozenset[str] = frozenset({"queued", "running", "interrupted"})
#: Statuses nothing changes any more.
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed"})


def holds_slot(status: Status) -> bool:
    """Whether a task in ``status`` counts among this process's running tasks (``waiting`` does not)."""
    return status == "running"


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Why a task was failed for good, for the person who asked: the reason and how often it was started."""

    request_id: str
    reason: GiveUpReason
    attempts: int


@dataclass(frozen=True, slots=True)
class Attempts:
    """How many times a task may be started before it is given up (``ORCH_TASK_MAX_ATTEMPTS``)."""

    max_attempts: int

    def exhausted(self, started: int) -> bool:
        """Whether a task started ``started`` times already must not be started again."""
        return started >= self.max_attempts
