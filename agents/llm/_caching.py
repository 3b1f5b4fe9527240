"""Which Bedrock models take prompt-cache points, where, and where the adapter puts them: the one list.

Bedrock's Converse API accepts ``{"cachePoint": {"type": "default"}}`` blocks for models that support
prompt caching; a model that does not support them refuses the whole request. The prefix up to a cache
point (tool definitions, then the system prompt, then the messages) is kept for a few minutes, and a
later request that starts with the same prefix reads it at a fraction of the price and latency.
Claude takes cache points in ``toolConfig.tools``, ``system`` and ``messages``; Nova in ``system`` and
``messages`` only. Ids are matched with or without a cross-region inference-profile prefix
(``us.``, ``eu.``, ``apac.``, ``global.``…).

A prefix shorter than the model's minimum is not cached at all (the request still succeeds): 1,024 tokens
for Claude Sonnet and Opus 4/4.1, 2,048 for Claude 3 and 3.5 Haiku, 4,096 for Claude Haiku 4.5 and
Opus 4.5, 1,000 for Nova (Bedrock's and Anthropic's prompt-caching documentation, late 2026).

Bedrock takes at most four cache points per request, so :func:`message_cache_points` ranks them: the end
of the conversation (written for the next turn of the tool loop), the end of the previous turn's request
(read by this one, exactly, however many blocks the last turn added), then the thread context (read by the
next follow-up in the same thread). The system prompt's point comes before all of them, and the tool
definitions' point only while there is room: for Claude the system prompt's prefix already includes the
tools, and an agent's system prompt never changes without its tools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CACHE_POINT",
    "MAX_CACHE_POINTS",
    "CacheField",
    "CacheRules",
    "cache_fields",
    "cache_rules",
    "message_cache_points",
]

CacheField = Literal["tools", "system", "messages"]

#: The block Converse takes as a cache point.
CACHE_POINT: dict[str, dict[str, str]] = {"cachePoint": {"type": "default"}}

#: Bedrock refuses a request with more cache points than this.
MAX_CACHE_POINTS = 4


@dataclass(frozen=True, slots=True)
class CacheRules:
    """Where a model takes cache points, and the shortest prefix (in tokens) it caches."""

    fields: frozenset[CacheField]
    min_tokens: int


_CLAUDE = frozenset[CacheField]({"tools", "system", "messages"})
_NOVA = frozenset[CacheField]({"system", "messages"})
_NONE = CacheRules(frozenset(), 0)

# The one list: model-id prefixes (after any inference-profile prefix), most specific first.
_FAMILIES: tuple[tuple[str, CacheRules], ...] = (
    ("anthropic.claude-haiku-4-5", CacheRules(_CLAUDE, 4_096)),
    ("anthropic.claude-opus-4-5", CacheRules(_CLAUDE, 4_096)),
    ("anthropic.claude-3-5-haiku", CacheRules(_CLAUDE, 2_048)),
    ("anthropic.claude-3-haiku", CacheRules(_CLAUDE, 2_048)),
    ("anthropic.claude-", CacheRules(_CLAUDE, 1_024)),
    ("amazon.nova-", CacheRules(_NOVA, 1_000)),
)
_PROFILE_PREFIX = re.compile(r"^(?:[a-z]{2,6}\.)(?=anthropic\.|amazon\.)")


def cache_rules(model_id: str) -> CacheRules:
    """Where ``model_id`` accepts cache points and its minimum prefix; no fields when it does not cache."""
    base = _PROFILE_PREFIX.sub("", model_id.rsplit("/", 1)[-1])
    for family, rules in _FAMILIES:
        if base.startswith(family):
            return rules
    return _NONE


def cache_fields(model_id: str) -> frozenset[CacheField]:
    """Where ``model_id`` accepts cache points; empty when it does not support prompt caching."""
    return cache_rules(model_id).fields


def message_cache_points(
    *, turns: int, context_turn: bool, budget: int = MAX_CACHE_POINTS - 1
) -> tuple[tuple[int, str], ...]:
    """Where the messages' cache points go: ``(turn index, "end" | "context")``, at most ``budget``.

    ``turns`` is the number of messages; the conversation alternates user and assistant and ends with the
    user's turn, so the previous request of the tool loop ended two turns before this one (its assistant
    reply and the tool results are new). ``context_turn`` says the first turn carries thread context of
    its own (a cache point can go after it, before the question).
    """
    wanted: list[tuple[int, str]] = [(turns - 1, "end")]
    if turns >= 3:  # noqa: PLR2004 - the previous request's end, two turns back
        wanted.append((turns - 3, "end"))
    if context_turn:
        wanted.append((0, "context"))
    return tuple(dict.fromkeys(wanted))[: max(0, budget)]
