"""The shape of a model call, independent of any vendor: turns, tool calls, tool results, stream events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks for a tool to be run with ``input``."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool returned (or why it failed), for the model's next turn."""

    tool_call_id: str
    text: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn: text, plus the assistant's tool calls or the user's tool results.

    ``context`` is earlier conversation the turn carries as data (the thread so far, one delimited message
    each), sent before ``text`` as blocks of their own: the next follow-up in the thread repeats them
    byte for byte, so a prompt cache can serve them apart from the new question.
    """

    role: Literal["user", "assistant"]
    text: str = ""
    context: tuple[str, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A tool as the model sees it: name, description and JSON schema of its input."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """What to ask the model: a system prompt and alternating turns, the last one the user's.

    ``tool_choice`` is ``"auto"`` (the model decides) or the name of a tool the model must call.
    """

    model_id: str
    system: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int = 2048
    temperature: float = 0.2
    tools: tuple[ToolDefinition, ...] = ()
    tool_choice: str = "auto"
    #: Ask for prompt-cache points (the system prompt and tools, the thread context, the previous request's
    #: end and this one's); the adapter adds them only where the model takes them (:mod:`agents.llm._caching`).
    cache: bool = False


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a call consumed.

    ``input_tokens`` counts every prompt token, cached or not; ``cache_read_tokens`` (served from the
    prompt cache) and ``cache_write_tokens`` (written to it) are the parts of it the cache touched.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    @classmethod
    def from_bedrock(cls, usage: Mapping[str, Any]) -> Usage:
        """Converse's ``usage`` (or ConverseStream's ``metadata.usage``), where ``inputTokens`` leaves out the cache."""
        read = int(usage.get("cacheReadInputTokens") or 0)
        write = int(usage.get("cacheWriteInputTokens") or 0)
        return cls(int(usage.get("inputTokens") or 0) + read + write, int(usage.get("outputTokens") or 0), read, write)


@dataclass(frozen=True, slots=True)
class ModelReply:
    """The model's answer. ``attempts`` counts calls made, retries included."""

    text: str
    model_id: str
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = "end_turn"
    attempts: int = 1
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer, as the model writes it."""

    text: str


@dataclass(frozen=True, slots=True)
class ReplyComplete:
    """The end of a streamed reply, with everything a non-streamed reply would carry."""

    reply: ModelReply


@dataclass(frozen=True, slots=True)
class StreamRestart:
    """The reply broke off after some of its text was passed on and is being asked for again from the start.

    Everything streamed since the request began is void: the consumer drops it, and the retried reply's
    text follows. ``vendor_code`` names the failure (``ModelStreamErrorException``, for example).
    """

    vendor_code: str


StreamEvent = TextDelta | ReplyComplete | StreamRestart


class ChatModel(Protocol):
    """The port every model adapter implements. Failures raise :class:`agents.errors.LLMError`."""

    async def converse(self, request: ModelRequest) -> ModelReply:
        """Send one request and return the complete reply."""
        ...

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Send one request and yield text as it is written, then :class:`ReplyComplete`."""
        ...
