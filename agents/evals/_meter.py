"""Counting what a model port is asked: calls and tokens, for the eval table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents.llm import ReplyComplete, Usage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agents.llm import ChatModel, ModelReply, ModelRequest, StreamEvent

__all__ = ["MeteredModel", "ModelMeter", "Reading"]


@dataclass(frozen=True, slots=True)
class Reading:
    """Calls made and tokens used so far (subtract two readings for what happened between them)."""

    calls: int = 0
    usage: Usage = field(default_factory=Usage)

    def __sub__(self, other: Reading) -> Reading:
        return Reading(
            self.calls - other.calls,
            Usage(
                self.usage.input_tokens - other.usage.input_tokens,
                self.usage.output_tokens - other.usage.output_tokens,
                self.usage.cache_read_tokens - other.usage.cache_read_tokens,
                self.usage.cache_write_tokens - other.usage.cache_write_tokens,
            ),
        )


class ModelMeter:
    """Counts every call through the models it wraps (each attempt a retry layer above makes is a call)."""

    def __init__(self) -> None:
        self._reading = Reading()

    def wrap(self, model: ChatModel) -> ChatModel:
        """``model``, counted by this meter."""
        return MeteredModel(model, self)

    def read(self) -> Reading:
        """The counts so far."""
        return self._reading

    def called(self) -> None:
        """One more call (counted when it is made: a failed call counts too)."""
        self._reading = Reading(self._reading.calls + 1, self._reading.usage)

    def used(self, usage: Usage) -> None:
        """The tokens a call used, when it answered."""
        self._reading = Reading(self._reading.calls, self._reading.usage + usage)


class MeteredModel:
    """A :class:`~agents.llm.ChatModel` that tells a :class:`ModelMeter` about each call and its usage."""

    def __init__(self, inner: ChatModel, meter: ModelMeter) -> None:
        self._inner = inner
        self._meter = meter

    async def converse(self, request: ModelRequest) -> ModelReply:
        """Call the inner model, counted."""
        self._meter.called()
        reply = await self._inner.converse(request)
        self._meter.used(reply.usage)
        return reply

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Stream from the inner model, counted."""
        self._meter.called()
        async for event in self._inner.stream(request):
            if isinstance(event, ReplyComplete):
                self._meter.used(event.reply.usage)
            yield event
