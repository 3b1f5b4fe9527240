"""Keeping tool output small enough for the model, and honest about what was left out.

The runner cuts a tool result at a fixed number of characters, possibly mid-JSON. So tools bound themselves
first: by item count while paging (:func:`collect`), and by count and a character budget when rendering
(:func:`listing`). Whatever is left out is said in ``more_not_shown`` and a ``note``, so the model can narrow
its question instead of reasoning over a list that was silently cut.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence

__all__ = ["BUDGET_CHARS", "MAX_SHOWN", "Collected", "clip", "collect", "compact", "fit", "listing"]

#: Items shown per list.
MAX_SHOWN = 50
#: Characters of JSON one list may take (the runner's own cut is 12,000 for the whole result).
BUDGET_CHARS = 9_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Collected(Generic[T]):
    """Items gathered from pages; ``complete`` is False when gathering stopped at a bound with more left."""

    items: list[T]
    complete: bool


async def collect(
    pages: AsyncIterable[Mapping[str, Any]],
    extract: Callable[[Mapping[str, Any]], Iterable[T]],
    *,
    limit: int,
    max_pages: int | None = None,
) -> Collected[T]:
    """At most ``limit`` items from ``pages`` (and at most ``max_pages`` pages), in page order."""
    items: list[T] = []
    iterator = aiter(pages)
    try:
        page_count = 0
        async for page in iterator:
            page_count += 1
            for item in extract(page):
                if len(items) == limit:
                    return Collected(items, complete=False)
                items.append(item)
            if max_pages is not None and page_count >= max_pages:
                return Collected(items, complete=not _has_next_page(page))
        return Collected(items, complete=True)
    finally:
        # Close the paginator's generator now rather than at garbage collection.
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


def listing(
    key: str,
    items: Sequence[Any],
    *,
    complete: bool = True,
    show: int = MAX_SHOWN,
    budget: int = BUDGET_CHARS,
    narrow: str = "narrow the filter to see the rest",
) -> dict[str, Any]:
    """``{key: shown items, "total": n, "more_not_shown": m, "note": …}`` for a bounded list.

    ``total`` becomes ``total_at_least`` when reading stopped before the end (``complete`` is False).
    """
    shown = fit(items[:show], budget)
    hidden = len(items) - len(shown)
    result: dict[str, Any] = {key: shown}
    if complete:
        result["total"] = len(items)
    else:
        result["total_at_least"] = len(items)
    if hidden:
        result["more_not_shown"] = hidden
    if not complete:
        result["note"] = f"stopped reading after {len(items)}, more exist: {narrow}"
    elif hidden:
        result["note"] = f"{hidden} more not shown: {narrow}"
    return result


def fit(items: Sequence[T], budget: int) -> list[T]:
    """The longest prefix of ``items`` whose JSON fits in ``budget`` characters (always at least one item)."""
    used = 0
    for index, item in enumerate(items):
        used += len(json.dumps(item, default=str, ensure_ascii=False)) + 2
        if used > budget and index > 0:
            return list(items[:index])
    return list(items)


def clip(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def compact(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` without the keys whose value is None: absent data costs the model nothing."""
    return {key: value for key, value in fields.items() if value is not None}


def _has_next_page(page: Mapping[str, Any]) -> bool:
    return any(page.get(token) for token in ("NextToken", "nextToken", "Marker", "NextMarker"))
