"""The fake's prompt cache: where Bedrock takes cache points, and what a request reads from or writes to it.

Bedrock reads a request's prompt in one order: tool definitions, then the system prompt, then the
messages. A ``cachePoint`` block marks the end of a prefix worth keeping. Per model, a prefix seen
before (same bytes up to the same cache point, within the TTL, five minutes by default, refreshed by each
hit) is read from the cache: ``cacheReadInputTokens``. The rest of the prompt up to the last cache point
is written to it: ``cacheWriteInputTokens``. A hit may end up to :data:`LOOKBACK_BLOCKS` content blocks
before a cache point, so a tool loop that moves its last cache point on each turn still reads the turn
before's prefix. Whatever follows the last cache point is plain
``inputTokens``. Prefixes shorter than ``min_tokens`` are not cached; ``min_tokens=None`` applies each
model's documented rules (:func:`agents.llm._caching.cache_rules`: a minimum of 1,024 tokens for Claude
Sonnet, up to 4,096 for Claude Haiku 4.5; and, for Claude offered tools, the tool-use system prompt Anthropic
adds before the tool definitions, 346 tokens (313 when a tool is forced) for Claude 4 models, which is billed
as input and is part of every cached prefix), and the default of 0 lets tests use small prompts. The minimum
is counted on the whole prefix up to a cache point, as Anthropic documents it.

Tokens are about four characters each, counted on the prompt's text: messages' and the system prompt's
strings, and a tool definition's whole JSON (its name, description and input schema, keys included, as
the model reads it).

Placement rules (Bedrock answers a ValidationException otherwise): only models that support prompt
caching take cache points, and only in the fields they support (:mod:`agents.llm._caching`: Nova takes
none in ``toolConfig.tools``); at most four per request; a cache point follows content, never starts a
list or a message.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.llm._caching import MAX_CACHE_POINTS, cache_fields, cache_rules
from agents.testing.bedrock.wire import text_length

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "LOOKBACK_BLOCKS",
    "CachedUsage",
    "PromptCache",
    "cache_point_problem",
    "prompt_chars",
    "tool_use_prompt_tokens",
]

_DEFAULT_TTL = 300.0
#: How many content blocks before a cache point Bedrock checks for a cached prefix (Anthropic documents ~20).
LOOKBACK_BLOCKS = 20


@dataclass(frozen=True, slots=True)
class CachedUsage:
    """One request's prompt tokens, as Bedrock splits them."""

    input_tokens: int
    cache_read: int = 0
    cache_write: int = 0


def _blocks(body: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    """Each list that may hold cache points, with its field, in the order Bedrock reads the prompt."""
    tools = (body.get("toolConfig") or {}).get("tools")
    if isinstance(tools, list):
        yield "tools", tools
    if isinstance(body.get("system"), list):
        yield "system", body["system"]
    for message in body.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            yield "messages", message["content"]


def prompt_chars(field: str, block: object) -> int:
    """The characters of prompt text ``block`` puts before the model (a tool definition: all of its JSON)."""
    if field == "tools" and isinstance(block, dict) and "toolSpec" in block:
        return len(json.dumps(block["toolSpec"], separators=(",", ":"), ensure_ascii=False))
    return text_length(block)


def tool_use_prompt_tokens(model_id: str, body: dict[str, Any]) -> int:
    """The hidden system prompt Claude gets when it is offered tools (Anthropic's documented token counts).

    346 tokens with ``auto`` tool choice, 313 when a tool (or any tool) is forced, for Claude 4 models;
    Claude 3 and 3.5 Haiku: 264 and 340. Other models, or no tools: none.
    """
    tools = (body.get("toolConfig") or {}).get("tools")
    if "anthropic.claude" not in model_id or not tools:
        return 0
    forced = bool(((body.get("toolConfig") or {}).get("toolChoice") or {}).keys() & {"any", "tool"})
    if "claude-3-haiku" in model_id or "claude-3-5-haiku" in model_id:
        return 340 if forced else 264
    return 313 if forced else 346


def _is_cache_point(block: object) -> bool:
    return isinstance(block, dict) and "cachePoint" in block


def cache_point_problem(model_id: str, body: dict[str, Any]) -> str | None:
    """Why Bedrock would refuse this request's cache points, or ``None``."""
    allowed = cache_fields(model_id)
    count = 0
    for field, blocks in _blocks(body):
        for position, block in enumerate(blocks):
            if not _is_cache_point(block):
                continue
            count += 1
            if not allowed:
                return f"The model {model_id} does not support prompt caching (cachePoint)."
            if field not in allowed:
                return f"The model {model_id} does not support cachePoint in {field}."
            if position == 0:
                return f"A cachePoint in {field} must follow content; it cannot come first."
    if count > MAX_CACHE_POINTS:
        return f"The request has {count} cachePoint blocks; the maximum is {MAX_CACHE_POINTS}."
    return None


class PromptCache:
    """Prefixes by model and hash, with their expiry; :meth:`account` splits a request's prompt tokens."""

    def __init__(
        self, *, ttl: float = _DEFAULT_TTL, min_tokens: int | None = 0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.min_tokens = min_tokens
        self._clock = clock
        self._expiry: dict[str, float] = {}

    def clear(self) -> None:
        """Forget every prefix."""
        self._expiry.clear()

    def account(self, model_id: str, body: dict[str, Any]) -> CachedUsage:
        """The request's prompt tokens (about four characters each), read from and written to the cache.

        A cache point reads the longest cached prefix ending at it or at one of the :data:`LOOKBACK_BLOCKS`
        content blocks before it (as Bedrock looks back for a hit), and writes the prefix ending at it.
        """
        digest = hashlib.sha256(model_id.encode())
        faithful = self.min_tokens is None
        chars = 4 * tool_use_prompt_tokens(model_id, body) if faithful else 0
        boundaries: list[tuple[str, int]] = []  # (prefix key, tokens) after each content block
        points: list[int] = []  # for each cache point, the boundary it follows
        for field, blocks in _blocks(body):
            digest.update(field.encode())
            for block in blocks:
                if _is_cache_point(block):
                    if boundaries:
                        points.append(len(boundaries) - 1)
                    continue
                digest.update(json.dumps(block, sort_keys=True).encode())
                chars += prompt_chars(field, block)
                boundaries.append((digest.copy().hexdigest(), chars // 4))
        total = max(1, chars // 4)
        now = self._clock()
        minimum = cache_rules(model_id).min_tokens if self.min_tokens is None else self.min_tokens
        kept = [b for b in points if boundaries[b][1] >= max(minimum, 1)]
        read = 0
        for end in kept:
            for key, tokens in boundaries[max(0, end - LOOKBACK_BLOCKS) : end + 1]:
                if tokens > read and self._expiry.get(key, 0.0) > now:
                    read = tokens
                    self._expiry[key] = now + self.ttl  # a hit refreshes the prefix
        written = max((boundaries[b][1] for b in kept), default=0)
        for end in kept:
            key = boundaries[end][0]
            if self._expiry.get(key, 0.0) <= now or boundaries[end][1] > read:
                self._expiry[key] = now + self.ttl
        write = max(0, written - read)
        return CachedUsage(input_tokens=total - read - write, cache_read=read, cache_write=write)
