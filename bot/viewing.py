"""What each person is looking at in Slack while the agent pane is open.

Slack tells AI apps which channel a person is viewing: ``app_context_changed`` (the agent messaging
experience, ``agent_view``) or ``assistant_thread_context_changed`` (the older ``assistant_view``). A
question asked in the pane then comes with that channel as context ("why is this channel's alarm
firing?"). Kept per process for an hour; with several replicas, a replica that did not see the event
answers without it.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache

from agents.task import CHANNEL_ID_PATTERN

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ViewingContext", "channel_in_context"]

_CHANNEL_ID = re.compile(CHANNEL_ID_PATTERN)  # the core's rule, so a remembered channel is always one it accepts


def channel_in_context(context: object) -> str | None:
    """The most relevant channel id in an event's ``context`` (either experience's shape), if any."""
    if not isinstance(context, dict):
        return None
    candidates: list[Any] = [context.get("channel_id")]
    entities = context.get("entities")
    if isinstance(entities, list):  # ordered by relevance
        candidates += [
            e.get("value") for e in entities if isinstance(e, dict) and e.get("type") == "slack#/types/channel_id"
        ]
    for candidate in candidates:
        if isinstance(candidate, str) and _CHANNEL_ID.fullmatch(candidate):
            return candidate
    return None


class ViewingContext:
    """The channel each ``(workspace, user)`` was last seen viewing."""

    def __init__(
        self, *, ttl: float = 3600, max_users: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seen: TTLCache[tuple[str, str], str] = TTLCache(maxsize=max_users, ttl=ttl, timer=clock)

    def saw(self, workspace_id: str, user_id: str, context: object) -> None:
        """Remember the channel in ``context`` (an empty context forgets it: the person left the channel)."""
        channel = channel_in_context(context)
        if channel is None:
            self._seen.pop((workspace_id, user_id), None)
        else:
            self._seen[(workspace_id, user_id)] = channel

    def channel(self, workspace_id: str, user_id: str) -> str | None:
        """The channel the person is looking at, if known."""
        return self._seen.get((workspace_id, user_id))
