"""Slack's rate limits as the fake enforces them: each method's tier, per workspace (or channel) and minute."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["METHOD_TIERS", "RateLimiter", "RateLimits"]

#: Each method's rate-limit tier, as Slack's method reference lists it (``chat.postMessage`` is special:
#: about one a second per channel, see :class:`RateLimits`). ``assistant.threads.setStatus`` and
#: ``auth.test`` are "special" with limits Slack does not publish; the fake does not limit them.
METHOD_TIERS: dict[str, int] = {
    "apps.connections.open": 1,
    "chat.startStream": 2,
    "chat.stopStream": 2,
    "chat.update": 3,
    "chat.delete": 3,
    "conversations.replies": 3,
    "conversations.info": 3,
    "chat.appendStream": 4,
    "chat.postEphemeral": 4,
    "assistant.threads.setSuggestedPrompts": 4,
    "assistant.threads.setTitle": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "files.info": 4,
    "users.info": 4,
    "views.publish": 4,
}


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The rate limits the fake enforces; the defaults are Slack's published numbers.

    Slack evaluates Web API calls per method and per workspace, in tiers of requests per minute (Tier 1:
    1+, Tier 2: 20+, Tier 3: 50+, Tier 4: 100+) "with occasional bursts": modelled as a token bucket per
    workspace and method that holds a minute's calls and refills at the tier's rate. ``chat.postMessage``
    allows about one message a second per channel with short bursts (the burst size is not published;
    ``post_message_burst`` is ours). Over a limit the answer is HTTP 429, ``ratelimited`` and a
    ``Retry-After`` in whole seconds, as Slack's.

    ``per="channel"`` counts each channel as its own workspace, for a test session that shares one fake
    between many tests that each use their own channels; the limits themselves stay Slack's.
    """

    per_minute: dict[int, float] = field(default_factory=lambda: {1: 1.0, 2: 20.0, 3: 50.0, 4: 100.0})
    post_message_per_second: float = 1.0
    post_message_burst: float = 4.0
    per: Literal["workspace", "channel"] = "workspace"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets by (workspace or channel, method); ``take`` answers the seconds to wait, or ``None``."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def take(self, method: str, args: dict[str, Any], team_id: str) -> int | None:
        """Take one call to ``method`` from its bucket; the whole seconds to wait when it is empty, else ``None``."""
        channel = str(args.get("channel") or args.get("channel_id") or "")
        if method == "chat.postMessage":
            key, rate, burst = channel or team_id, self.limits.post_message_per_second, self.limits.post_message_burst
        else:
            tier = METHOD_TIERS.get(method)
            if tier is None:
                return None
            per_minute = self.limits.per_minute[tier]
            key = channel if self.limits.per == "channel" and channel else team_id
            rate, burst = per_minute / 60.0, per_minute
        now = self._clock()
        bucket = self._buckets.get((key, method))
        if bucket is None:
            bucket = self._buckets[key, method] = _Bucket(burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / rate))
