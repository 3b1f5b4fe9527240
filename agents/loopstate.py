"""The agent loop's resumable state: what a task has said and done so far, stored with its journal record.

The loop writes it before a turn's tools run (``LoopCheckpoint``) and when it suspends (``TaskSuspended``).
From it, any process continues the task: the same tool calls (so write effects keep their idempotency
keys, :mod:`agents.effects`), the answer text so far, the tokens spent. A suspended state names the tool
call waiting for a decision; :meth:`LoopState.decided` puts the decision in as that call's result.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from agents.llm import ChatMessage, ToolCall, ToolResult, Usage
from agents.untrusted import untrusted_block

__all__ = ["LoopState"]


class LoopState(BaseModel):
    """One task's loop, between two steps. ``pending``: the current turn's tool calls, not all answered."""

    model_config = ConfigDict(frozen=True)

    agent: str
    routing_reason: str
    turn: int
    messages: tuple[ChatMessage, ...]
    text: str = ""
    usage: Usage = Usage()
    attempts: int = 0
    sources: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    trimmed: bool = False
    pending: tuple[ToolCall, ...] = ()
    results: tuple[ToolResult, ...] = ()
    suspended: str | None = None

    def to_json(self) -> str:
        """The stored form."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> LoopState:
        """Read the stored form back."""
        return cls.model_validate_json(text)

    def decided(self, result: str) -> LoopState:
        """The state with ``result`` (untrusted: a person's or a system's decision) as the suspended call's result."""
        call = next((c for c in self.pending if c.id == self.suspended), None)
        if call is None:
            raise ValueError("nothing in this state waits for a decision")
        text = untrusted_block("tool_output", result, tool=call.name)
        return self.model_copy(update={"results": (*self.results, ToolResult(call.id, text)), "suspended": None})
