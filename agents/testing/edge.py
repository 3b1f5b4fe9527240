"""A fake of the lifecycle's :class:`~agents.lifecycle.Edge` port: it keeps every event a task emits.

Unit tests drive the real :class:`~agents.orchestrator.Orchestrator` with it instead of a chat surface, and
wait on :attr:`RecordingEdge.ended` for the run's last event.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from agents.events import TaskFailed, TaskSucceeded
from agents.lifecycle import Rendering

if TYPE_CHECKING:
    from agents.attempts import GiveUp
    from agents.events import TaskEvent
    from agents.journal import TaskRecord
    from agents.task import Task

__all__ = ["RecordingEdge"]


class RecordingEdge:
    """Keeps every event; ``ended`` is set by the run's last event (or a bug report, or a give-up)."""

    def __init__(self) -> None:
        self.events: list[TaskEvent] = []
        self.ended = asyncio.Event()

    async def open(self, task: Task, target: str, *, resumed: bool) -> Rendering:  # noqa: ARG002 - the port's shape
        """Render into this edge."""
        return Rendering(self)

    async def emit(self, event: TaskEvent) -> None:
        """Keep ``event``."""
        self.events.append(event)
        if isinstance(event, TaskSucceeded | TaskFailed):
            self.ended.set()

    async def report_bug(self, task: Task, target: str) -> None:  # noqa: ARG002 - the port's shape
        """The run crashed: it ended."""
        self.ended.set()

    async def report_given_up(self, record: TaskRecord, give_up: GiveUp) -> None:  # noqa: ARG002 - the port's shape
        """The run was given up: it ended."""
        self.ended.set()

    def last(self) -> TaskSucceeded | TaskFailed:
        """The event that ended the task."""
        ended = [e for e in self.events if isinstance(e, TaskSucceeded | TaskFailed)]
        return ended[-1]
