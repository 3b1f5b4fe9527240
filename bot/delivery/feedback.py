"""The feedback buttons under an answer, and what a click's value says.

Every answer ends with Slack's ``feedback_buttons`` (👍/👎, in a ``context_actions`` block). Where Slack
refuses that element (``invalid_blocks``: an older Slack, a surface without it), the same choice is two
plain buttons in an ``actions`` block instead. Either way a button's value is ``up:<request ID>`` or
``down:<request ID>``: which button, and which answer, and nothing else. The click itself says who
clicked and where (Slack's signed payload), and the core checks the request ID against its journal
(:meth:`agents.orchestrator.Orchestrator.record_feedback`), so a forged value rates nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.feedback import Rating

__all__ = [
    "FEEDBACK_ACTION",
    "FEEDBACK_ACTIONS",
    "FEEDBACK_REFUSED",
    "feedback_block",
    "parse_value",
    "plain_feedback_block",
    "with_plain_buttons",
]

#: The ``action_id`` of the ``feedback_buttons`` element.
FEEDBACK_ACTION = "orch_feedback"
#: Every action_id a feedback click can carry: the element's, and the two plain buttons' of the fallback.
FEEDBACK_ACTIONS = re.compile(r"^orch_feedback(?:_up|_down)?$")
#: What Slack answers when it does not take the feedback element in a message.
FEEDBACK_REFUSED = frozenset({"invalid_blocks"})
_BLOCK_ID = "orch_feedback"
_VALUE = re.compile(r"^(up|down):(\S{1,64})$")
_LABELS = {"up": "This answer was helpful", "down": "This answer was wrong or not helpful"}


def _value(rating: Rating, request_id: str) -> str:
    return f"{rating}:{request_id}"


def feedback_block(request_id: str) -> dict[str, Any]:
    """A ``context_actions`` block with Slack's feedback buttons for the answer ``request_id``."""
    return {
        "type": "context_actions",
        "block_id": f"{_BLOCK_ID}:{request_id}",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": FEEDBACK_ACTION,
                "positive_button": {
                    "text": {"type": "plain_text", "text": "👍"},
                    "accessibility_label": _LABELS["up"],
                    "value": _value("up", request_id),
                },
                "negative_button": {
                    "text": {"type": "plain_text", "text": "👎"},
                    "accessibility_label": _LABELS["down"],
                    "value": _value("down", request_id),
                },
            }
        ],
    }


def plain_feedback_block(request_id: str) -> dict[str, Any]:
    """The fallback: 👍 and 👎 as two plain buttons in an ``actions`` block."""
    return {
        "type": "actions",
        "block_id": f"{_BLOCK_ID}:{request_id}",
        "elements": [
            {
                "type": "button",
                "action_id": f"{FEEDBACK_ACTION}_{rating}",
                "text": {"type": "plain_text", "text": "👍" if rating == "up" else "👎", "emoji": True},
                "accessibility_label": _LABELS[rating],
                "value": _value(rating, request_id),
            }
            for rating in ("up", "down")
        ],
    }


def with_plain_buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """``blocks`` with the feedback element swapped for plain buttons; ``None`` when there is none to swap."""
    swapped, found = [], False
    for block in blocks:
        block_id = str(block.get("block_id") or "")
        if block.get("type") == "context_actions" and block_id.startswith(f"{_BLOCK_ID}:"):
            swapped.append(plain_feedback_block(block_id.removeprefix(f"{_BLOCK_ID}:")))
            found = True
        else:
            swapped.append(block)
    return swapped if found else None


def parse_value(value: object) -> tuple[Rating, str] | None:
    """The rating and request ID a button's value names; ``None`` for anything else (a forged value)."""
    match = _VALUE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    return ("up" if match.group(1) == "up" else "down"), match.group(2)
