"""The shape of a model call, independent of any vendor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of a conversation."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """What to ask the model: a system prompt and alternating turns, the last one the user's."""

    model_id: str
    system: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int = 2048
    temperature: float = 0.2


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a call consumed."""

    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)


@dataclass(frozen=True, slots=True)
class ModelReply:
    """The model's answer. ``attempts`` counts calls made, retries included."""

    text: str
    model_id: str
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = "end_turn"
    attempts: int = 1


class ChatModel(Protocol):
    """The port every model adapter implements. Failures raise :class:`agents.errors.LLMError`."""

    async def converse(self, request: ModelRequest) -> ModelReply:
        """Send one request and return the complete reply."""
        ...
