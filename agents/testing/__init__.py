"""Fakes of the core's ports, for tests and offline demos.

:class:`FakeChatModel` implements :class:`agents.llm.ChatModel`: script replies and failures with
:meth:`FakeChatModel.enqueue`, read what was asked from ``requests``.
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING

from agents.errors import LLMError
from agents.llm import ModelReply, ModelRequest, ReplyComplete, TextDelta, Usage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agents.llm import StreamEvent

__all__ = ["FakeChatModel"]


class FakeChatModel:
    """A scripted model: replies (or raises) from a queue, then echoes the last user turn."""

    def __init__(self) -> None:
        self.requests: list[ModelRequest] = []
        self._script: deque[str | ModelReply | LLMError] = deque()

    def enqueue(self, *items: str | ModelReply | LLMError) -> None:
        """Answer the next requests with these texts or replies (tool calls), or fail with these errors."""
        self._script.extend(items)

    async def converse(self, request: ModelRequest) -> ModelReply:
        """Record ``request`` and play the next scripted item."""
        self.requests.append(request)
        item = self._script.popleft() if self._script else f"echo: {request.messages[-1].text}"
        if isinstance(item, LLMError):
            raise item
        if isinstance(item, ModelReply):
            return item
        return ModelReply(
            text=item,
            model_id=request.model_id,
            usage=Usage(sum(len(m.text) for m in request.messages) // 4, len(item) // 4 + 1),
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Play the next scripted item as a stream: its text in words, then the complete reply."""
        reply = await self.converse(request)
        for word in re.findall(r"\S+\s*", reply.text):
            yield TextDelta(word)
        yield ReplyComplete(reply)
