"""Which Bedrock models take prompt-cache points, and where: the one list.

Bedrock's Converse API accepts ``{"cachePoint": {"type": "default"}}`` blocks for models that support
prompt caching; a model that does not support them refuses the whole request. The prefix up to a cache
point (tool definitions, then the system prompt, then the messages) is kept for a few minutes, and a
later request that starts with the same prefix reads it at a fraction of the price and latency.
Claude takes cache points in ``toolConfig.tools``, ``system`` and ``messages``; Nova in ``system`` and
``messages`` only. Ids are matched with or without a cross-region inference-profile prefix
(``us.``, ``eu.``, ``apac.``, ``global.``…).
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["CACHE_POINT", "MAX_CACHE_POINTS", "CacheField", "cache_fields"]

CacheField = Literal["tools", "system", "messages"]

#: The block Converse takes as a cache point.
CACHE_POINT: dict[str, dict[str, str]] = {"cachePoint": {"type": "default"}}

#: Bedrock refuses a request with more cache points than this.
MAX_CACHE_POINTS = 4

# The one list: model-id families (after any inference-profile prefix) and where they take cache points.
_FAMILIES: tuple[tuple[str, frozenset[CacheField]], ...] = (
    ("anthropic.claude-", frozenset({"tools", "system", "messages"})),
    ("amazon.nova-", frozenset({"system", "messages"})),
)
_PROFILE_PREFIX = re.compile(r"^(?:[a-z]{2,6}\.)(?=anthropic\.|amazon\.)")


def cache_fields(model_id: str) -> frozenset[CacheField]:
    """Where ``model_id`` accepts cache points; empty when it does not support prompt caching."""
    base = _PROFILE_PREFIX.sub("", model_id.rsplit("/", 1)[-1])
    for family, fields in _FAMILIES:
        if base.startswith(family):
            return fields
    return frozenset()
