"""What Slack sends when someone clicks a button or submits a modal: ``block_actions`` and ``view_submission``.

Built from what the bot actually posted (the message's blocks, the view it opened), field for field as
Slack sends them, so a test clicks the button the bot rendered rather than one it imagines. Both go to
the request URL as a form with one field, ``payload`` (JSON), signed like any request
(:func:`interaction_body`).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from bot.testing.slack.api import APP_ID

__all__ = ["block_actions", "find_element", "interaction_body", "view_submission"]


def interaction_body(payload: dict[str, Any]) -> bytes:
    """The ``application/x-www-form-urlencoded`` body Slack posts an interaction payload in."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def find_element(message: dict[str, Any], action_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The block and the element with ``action_id`` in a posted ``message`` (AssertionError if absent)."""
    for block in message.get("blocks") or ():
        for element in block.get("elements") or ():
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block, element
    raise AssertionError(f"no element with action_id {action_id!r} in the message's blocks")


def _user(user_id: str, team_id: str) -> dict[str, Any]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def block_actions(
    *,
    message: dict[str, Any],
    channel: str,
    action_id: str,
    user: str,
    trigger_id: str,
    response_url: str,
    positive: bool | None = None,
    team_id: str = "T0TEST",
    action_ts: float | None = None,
) -> dict[str, Any]:
    """A click on the element ``action_id`` of ``message`` in ``channel`` by ``user``.

    A ``feedback_buttons`` element needs ``positive`` (which of its two buttons); its action carries that
    button's ``value`` and ``text``, as Slack's does. A plain button's action carries its own.
    """
    block, element = find_element(message, action_id)
    action: dict[str, Any] = {
        "type": element["type"],
        "action_id": action_id,
        "block_id": block.get("block_id", ""),
        "action_ts": f"{time.time() if action_ts is None else action_ts:.6f}",
    }
    if element["type"] == "feedback_buttons":
        if positive is None:
            raise ValueError("a feedback_buttons click needs positive=True or False")
        button = element["positive_button" if positive else "negative_button"]
        action |= {"value": button["value"], "text": button["text"]}
    else:
        action |= {"value": element.get("value", ""), "text": element.get("text")}
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": channel,
        "is_ephemeral": False,
    }
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    return {
        "type": "block_actions",
        "user": _user(user, team_id),
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": container,
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": "test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel.lower()},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }


def view_submission(
    *, view: dict[str, Any], user: str, values: dict[str, str], trigger_id: str, team_id: str = "T0TEST"
) -> dict[str, Any]:
    """``user`` submitting the modal ``view`` (as ``views.open`` stored it) with text typed per action_id."""
    state: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or ():
        element = block.get("element") if block.get("type") == "input" else None
        if isinstance(element, dict):
            typed = values.get(str(element.get("action_id")))
            state[str(block.get("block_id"))] = {
                str(element["action_id"]): {"type": element.get("type"), "value": typed}
            }
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "test"},
        "user": _user(user, team_id),
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "trigger_id": trigger_id,
        "view": {**view, "state": {"values": state}},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
