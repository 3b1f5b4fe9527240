"""The one message a task's delivery edits in place in its thread, shared by the progress view and the answer.

It starts as the progress view's placeholder ("Working on it…"); the answer takes it over when it cannot
stream (the answer so far is edited into it) and for the final message (which replaces it). A streamed
answer is its own message: once a stream starts, the placeholder is deleted. Both pieces read and write
this one record, so a message is never edited as two different things, nor too often: ``edited`` is
when either last called ``chat.update`` on it, and both keep to the same spacing.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ThreadMessage"]


@dataclass(slots=True)
class ThreadMessage:
    """Where the delivery's working message is (``ts``, ``None`` before one is posted) and when it was edited."""

    channel: str
    thread_ts: str
    ts: str | None = None
    edited: float = float("-inf")
