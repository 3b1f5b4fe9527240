"""The agent loop's resumable state: what a task has said and done so far, stored with its journal record.

The loop writes it before a turn's tools run (``LoopCheckpoint``) and when it suspends (``TaskSuspended``).
From it, any process continues the task: the same tool calls (so write effects keep their idempotency
keys, :mod:`agents.effects`), the answer text so far, the tokens spent. A suspended state names the tool
call waiting for a decision; :meth:`LoopState.decided` puts the decision in as that call's result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from agents.llm import ChatMessage, ToolCall, ToolResult, Usage
from agents.untrusted import untrusted_block

if TYPE_CHECKING:
    from agents.router import Routing

__all__ = ["LoopState", "Progress"]


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


@dataclass(slots=True)
class Progress:
    """The loop's state while it runs (mutable); :meth:`state` freezes it into a :class:`LoopState`."""

    usage: Usage
    attempts: int
    text: list[str]
    sources: list[str]
    failed: list[str]
    trimmed: bool = False
    turn_start: int = 0  # where the current turn's text begins in ``text``
    last_turn: bool = False

    @classmethod
    def of(cls, state: LoopState) -> Progress:
        """The running form of a stored state."""
        return cls(
            state.usage,
            state.attempts,
            [state.text] if state.text else [],
            list(state.sources),
            list(state.failed),
            trimmed=state.trimmed,
        )

    def state(self, routing: Routing, turn: int, messages: list[ChatMessage], **pending: Any) -> LoopState:
        """The stored form, after ``turn`` turns, with ``pending`` calls (and their results so far, if any)."""
        return LoopState(
            agent=routing.agent.name,
            routing_reason=routing.reason,
            turn=turn,
            messages=tuple(messages),
            text="".join(self.text),
            usage=self.usage,
            attempts=self.attempts,
            sources=tuple(self.sources),
            failed=tuple(self.failed),
            trimmed=self.trimmed,
            **pending,
        )
