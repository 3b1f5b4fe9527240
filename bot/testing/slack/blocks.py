"""Block Kit's limits, enforced as Slack enforces them: an over-long or over-full block answers ``invalid_blocks``.

A renderer that overflows a limit then fails in a test rather than in a customer's workspace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.testing.slack.api import SlackError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MAX_BLOCKS", "MAX_VIEW_BLOCKS", "block_errors", "check_blocks"]

# Block Kit limits, as Slack documents and enforces them.
MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_SECTION_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_MARKDOWN_BLOCKS_TEXT = 12000


def _text_of(obj: object) -> str:
    if isinstance(obj, dict):
        text = obj.get("text")
        if isinstance(text, str):
            return text
    return ""


def _section_errors(block: dict[str, Any], pointer: str) -> list[str]:
    errors = []
    if len(_text_of(block.get("text"))) > MAX_SECTION_TEXT:
        errors.append(f"[ERROR] must be less than {MAX_SECTION_TEXT + 1} characters [json-pointer:{pointer}/text/text]")
    fields = block.get("fields") or []
    if len(fields) > MAX_SECTION_FIELDS:
        errors.append(f"[ERROR] no more than {MAX_SECTION_FIELDS} items allowed [json-pointer:{pointer}/fields]")
    errors.extend(
        f"[ERROR] must be less than {MAX_SECTION_FIELD_TEXT + 1} characters [json-pointer:{pointer}/fields/{i}/text]"
        for i, item in enumerate(fields)
        if len(_text_of(item)) > MAX_SECTION_FIELD_TEXT
    )
    return errors


def _header_errors(block: dict[str, Any], pointer: str) -> list[str]:
    if len(_text_of(block.get("text"))) > MAX_HEADER_TEXT:
        return [f"[ERROR] must be less than {MAX_HEADER_TEXT + 1} characters [json-pointer:{pointer}/text/text]"]
    return []


def _context_errors(block: dict[str, Any], pointer: str) -> list[str]:
    if len(block.get("elements") or []) > MAX_CONTEXT_ELEMENTS:
        return [f"[ERROR] no more than {MAX_CONTEXT_ELEMENTS} items allowed [json-pointer:{pointer}/elements]"]
    return []


def _actions_errors(block: dict[str, Any], pointer: str) -> list[str]:
    if len(block.get("elements") or []) > MAX_ACTIONS_ELEMENTS:
        return [f"[ERROR] no more than {MAX_ACTIONS_ELEMENTS} items allowed [json-pointer:{pointer}/elements]"]
    return []


_BLOCK_CHECKS: dict[str, Callable[[dict[str, Any], str], list[str]]] = {
    "section": _section_errors,
    "header": _header_errors,
    "context": _context_errors,
    "actions": _actions_errors,
}


def block_errors(blocks: object) -> list[str]:
    """Slack's ``invalid_blocks`` reasons for ``blocks`` (empty when valid or absent)."""
    if blocks is None:
        return []
    if not isinstance(blocks, list):
        return ["[ERROR] must be an array [json-pointer:/blocks]"]
    errors = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"[ERROR] no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    markdown_total = 0
    for i, block in enumerate(blocks):
        pointer = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"[ERROR] missing required field: type [json-pointer:{pointer}]")
            continue
        if block["type"] == "markdown":
            markdown_total += len(str(block.get("text") or ""))
        check = _BLOCK_CHECKS.get(block["type"])
        if check is not None:
            errors.extend(check(block, pointer))
    if markdown_total > MAX_MARKDOWN_BLOCKS_TEXT:
        errors.append(
            "[ERROR] the cumulative length of markdown block text must be at most "
            f"{MAX_MARKDOWN_BLOCKS_TEXT} characters [json-pointer:/blocks]"
        )
    return errors


def check_blocks(blocks: object) -> None:
    """Answer ``invalid_blocks`` with every reason ``blocks`` break a limit."""
    errors = block_errors(blocks)
    if errors:
        raise SlackError("invalid_blocks", errors)
