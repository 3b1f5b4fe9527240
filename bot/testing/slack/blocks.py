"""Block Kit's limits, enforced as Slack enforces them: an over-long or over-full block answers ``invalid_blocks``.

A renderer that overflows a limit then fails in a test rather than in a customer's workspace. The
``context_actions`` block (feedback buttons) is checked too, and refused outright where the fake plays a
Slack that does not take it (``feedback_buttons=False``), as a surface without it answers.
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
MAX_CONTEXT_ACTIONS_ELEMENTS = 5
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACCESSIBILITY_LABEL = 75
MAX_ACTION_ID = 255


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


def _button_errors(button: object, pointer: str) -> list[str]:
    """A button's (or a feedback button's) text, value, label and action_id, as Slack limits them."""
    if not isinstance(button, dict):
        return [f"[ERROR] must be an object [json-pointer:{pointer}]"]
    errors = []
    text = button.get("text")
    if not isinstance(text, dict) or text.get("type") != "plain_text" or not _text_of(text):
        errors.append(f"[ERROR] must be a plain_text object [json-pointer:{pointer}/text]")
    elif len(_text_of(text)) > MAX_BUTTON_TEXT:
        errors.append(f"[ERROR] must be less than {MAX_BUTTON_TEXT + 1} characters [json-pointer:{pointer}/text/text]")
    limits = (
        ("value", MAX_BUTTON_VALUE),
        ("accessibility_label", MAX_ACCESSIBILITY_LABEL),
        ("action_id", MAX_ACTION_ID),
    )
    errors.extend(
        f"[ERROR] must be less than {limit + 1} characters [json-pointer:{pointer}/{key}]"
        for key, limit in limits
        if len(str(button.get(key) or "")) > limit
    )
    return errors


def _action_ids_errors(elements: list[Any], pointer: str) -> list[str]:
    ids = [e.get("action_id") for e in elements if isinstance(e, dict) and e.get("action_id")]
    if len(ids) != len(set(ids)):
        return [f"[ERROR] action_id values must be unique within a block [json-pointer:{pointer}/elements]"]
    return []


def _actions_errors(block: dict[str, Any], pointer: str) -> list[str]:
    elements = block.get("elements") or []
    if len(elements) > MAX_ACTIONS_ELEMENTS:
        return [f"[ERROR] no more than {MAX_ACTIONS_ELEMENTS} items allowed [json-pointer:{pointer}/elements]"]
    errors = _action_ids_errors(elements, pointer)
    for i, element in enumerate(elements):
        if isinstance(element, dict) and element.get("type") == "button":
            errors.extend(_button_errors(element, f"{pointer}/elements/{i}"))
    return errors


def _context_actions_errors(block: dict[str, Any], pointer: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements or len(elements) > MAX_CONTEXT_ACTIONS_ELEMENTS:
        return [f"[ERROR] must hold 1 to {MAX_CONTEXT_ACTIONS_ELEMENTS} items [json-pointer:{pointer}/elements]"]
    errors = _action_ids_errors(elements, pointer)
    for i, element in enumerate(elements):
        where = f"{pointer}/elements/{i}"
        kind = element.get("type") if isinstance(element, dict) else None
        if kind == "feedback_buttons" and isinstance(element, dict):
            for side in ("positive_button", "negative_button"):
                if side not in element:
                    errors.append(f"[ERROR] missing required field: {side} [json-pointer:{where}]")
                else:
                    errors.extend(_button_errors(element[side], f"{where}/{side}"))
        elif kind != "icon_button":
            errors.append(f"[ERROR] unsupported element type [json-pointer:{where}/type]")
    return errors


_BLOCK_CHECKS: dict[str, Callable[[dict[str, Any], str], list[str]]] = {
    "section": _section_errors,
    "header": _header_errors,
    "context": _context_errors,
    "actions": _actions_errors,
    "context_actions": _context_actions_errors,
}


def block_errors(blocks: object, *, feedback_buttons: bool = True) -> list[str]:
    """Slack's ``invalid_blocks`` reasons for ``blocks`` (empty when valid or absent).

    Without ``feedback_buttons`` a ``context_actions`` block is refused, as a Slack without it does.
    """
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
        if block["type"] == "context_actions" and not feedback_buttons:
            errors.append(f"[ERROR] unsupported block type: context_actions [json-pointer:{pointer}/type]")
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


def check_blocks(blocks: object, *, feedback_buttons: bool = True) -> None:
    """Answer ``invalid_blocks`` with every reason ``blocks`` break a limit."""
    errors = block_errors(blocks, feedback_buttons=feedback_buttons)
    if errors:
        raise SlackError("invalid_blocks", errors)
