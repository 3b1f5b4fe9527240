"""The hook before every tool call: allow it, deny it, or suspend the task until someone decides.

The agent loop asks its :class:`ToolGate` about each call the model makes, before the tool runs:

- :class:`Allow`: the tool runs.
- :class:`Deny`: it does not; the model gets an error result with the reason, and can work around it.
- :class:`Suspend`: the task stops before the tool runs and is journalled as ``waiting`` (holding no
  running slot); ``Orchestrator.continue_task(request_id, result)`` continues it later, from any process,
  with ``result`` as the call's result. This is where approvals of actions will plug in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from agents.approvals import Approval
    from agents.llm import ToolCall
    from agents.task import Task
    from agents.tools import Tool

__all__ = ["Allow", "AllowAll", "Decision", "Deny", "Suspend", "ToolGate"]


@dataclass(frozen=True, slots=True)
class Allow:
    """Run the tool."""


@dataclass(frozen=True, slots=True)
class Deny:
    """Do not run the tool; ``reason`` goes to the model as the call's error result."""

    reason: str


@dataclass(frozen=True, slots=True)
class Suspend:
    """Stop the task before the tool runs, until a decision arrives; ``reason`` says what it waits for.

    ``approval``: the approval request the decision is about, for the edge's action card (``None`` when the
    card was shown already, e.g. the task was resumed while the approval is still pending).
    """

    reason: str
    approval: Approval | None = None


Decision = Allow | Deny | Suspend


class ToolGate(Protocol):
    """Decides about one tool call before it runs."""

    async def decide(self, task: Task, tool: Tool[Any], call: ToolCall) -> Decision:
        """Allow, deny or suspend ``call`` of ``tool`` in ``task``."""
        ...


class AllowAll:
    """Every call runs (the gate of today's read-only tools)."""

    async def decide(self, task: Task, tool: Tool[Any], call: ToolCall) -> Decision:  # noqa: ARG002 - the port's shape
        """Allow."""
        return Allow()
