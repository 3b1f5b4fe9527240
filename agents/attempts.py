"""When a task is finished for good: its statuses, which of them hold a running slot, and when to give up.

A newcomer asking "when is a task failed for good?" reads this module only:

- ``queued`` → ``running`` → ``succeeded`` | ``failed``: the normal life of a task. Only a ``running`` task
  holds a running slot (admission's count, per person and in all): taken at admission and kept for the run
  in one process; given back at once with a shared queue and taken again by the replica that runs it.
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
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from agents.admission import Admission, Slot

__all__ = ["RESUMABLE", "Attempts", "GiveUp", "GiveUpReason", "Slots", "Status"]

Status = Literal["queued", "running", "waiting", "succeeded", "failed", "interrupted"]
GiveUpReason = Literal["interrupted", "dead_letter", "unrecoverable"]

#: Statuses a restart (or the shared queue) picks up and runs again; ``succeeded`` and ``failed`` are final.
RESUMABLE: frozenset[str] = frozenset({"queued", "running", "interrupted"})


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


class Slots:
    """Which tasks hold a running slot of this process (see the module docstring)."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._kept: dict[str, Slot] = {}

    def accepted(self, request_id: str, slot: Slot, *, runs_here: bool) -> None:
        """A task was queued with ``slot``: kept for its run here, or given back for whichever replica runs it."""
        if runs_here:
            self._kept[request_id] = slot
        else:
            slot.release()

    def for_run(self, request_id: str, user_key: str) -> Slot:
        """The slot to run a task with: the one kept since it was accepted here, else a new one (never refused)."""
        return self._kept.pop(request_id, None) or self._admission.resume(user_key)

    def not_run(self, request_id: str) -> None:
        """The task will not run (given up): give back the slot kept for it, if any."""
        slot = self._kept.pop(request_id, None)
        if slot is not None:
            slot.release()
