"""Modals: ``views.open`` with a click's ``trigger_id``, as Slack checks them.

A trigger is issued with each interaction the fake builds (:meth:`SlackViews.new_trigger_id`) and can
open one view: a second use answers ``exchanged_trigger_id``, one never issued ``invalid_trigger_id``
(Slack's also expire after 3 s, which tests do not wait for). The view is checked as Slack checks a
modal (type, title, submit and close texts, callback_id, private_metadata, blocks) and kept in
:attr:`SlackViews.opened_views`, so a test can fill it in and submit it
(:func:`bot.testing.slack.interactions.view_submission`).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from bot.testing.slack.api import SlackApi, SlackError
from bot.testing.slack.blocks import MAX_VIEW_BLOCKS, check_blocks

if TYPE_CHECKING:
    from bot.testing.slack.api import Handler

__all__ = ["SlackViews"]

MAX_VIEW_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255
MAX_INPUT_LABEL = 2000
MAX_PLAIN_TEXT_INPUT = 3000


class SlackViews(SlackApi):
    """``views.open`` for modals, with single-use triggers."""

    def _setup(self) -> None:
        super()._setup()
        #: Every view opened, oldest first, as Slack stores it (with its ``id``).
        self.opened_views: list[dict[str, Any]] = []
        self._triggers: dict[str, bool] = {}  # trigger_id -> used

    def _methods(self) -> dict[str, Handler]:
        return {**super()._methods(), "views.open": self._views_open}

    def new_trigger_id(self) -> str:
        """A ``trigger_id`` as Slack puts in an interaction's payload: good for one ``views.open``."""
        trigger = f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"
        self._triggers[trigger] = False
        return trigger

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = str(args.get("trigger_id") or "")
        if trigger not in self._triggers:
            raise SlackError("invalid_trigger_id")
        if self._triggers[trigger]:
            raise SlackError("exchanged_trigger_id")
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments")
        errors = _modal_errors(view)
        if errors:
            raise SlackError("invalid_arguments", errors)
        check_blocks(view["blocks"][:MAX_VIEW_BLOCKS], feedback_buttons=self.feedback_buttons)
        self._triggers[trigger] = True
        opened = {
            "id": f"V{len(self.opened_views) + 1:08d}",
            "team_id": self.team_id,
            "app_id": "A0TEST",
            "bot_id": self.bot_id,
            "hash": uuid.uuid4().hex,
            "private_metadata": "",
            "callback_id": "",
            **view,
        }
        self.opened_views.append(opened)
        return {"ok": True, "view": opened}


def _plain_text_errors(obj: object, pointer: str, limit: int) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") != "plain_text" or not isinstance(obj.get("text"), str):
        return [f"[ERROR] must be a plain_text object [json-pointer:{pointer}]"]
    if len(obj["text"]) > limit:
        return [f"[ERROR] must be less than {limit + 1} characters [json-pointer:{pointer}/text]"]
    return []


def _modal_errors(view: dict[str, Any]) -> list[str]:
    if view.get("type") != "modal":
        return ["[ERROR] view type must be modal [json-pointer:/view/type]"]
    errors = _plain_text_errors(view.get("title"), "/view/title", MAX_VIEW_TITLE)
    for key in ("submit", "close"):
        if key in view:
            errors += _plain_text_errors(view[key], f"/view/{key}", MAX_VIEW_TITLE)
    if len(str(view.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
        errors.append(
            f"[ERROR] must be less than {MAX_PRIVATE_METADATA + 1} characters [json-pointer:/view/private_metadata]"
        )
    if len(str(view.get("callback_id") or "")) > MAX_CALLBACK_ID:
        errors.append(f"[ERROR] must be less than {MAX_CALLBACK_ID + 1} characters [json-pointer:/view/callback_id]")
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
        return [*errors, f"[ERROR] must hold at most {MAX_VIEW_BLOCKS} blocks [json-pointer:/view/blocks]"]
    return errors + _input_errors(view, blocks)


def _input_errors(view: dict[str, Any], blocks: list[Any]) -> list[str]:
    errors: list[str] = []
    has_input = False
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or block.get("type") != "input":
            continue
        has_input = True
        errors += _plain_text_errors(block.get("label"), f"/view/blocks/{i}/label", MAX_INPUT_LABEL)
        element = block.get("element")
        if not isinstance(element, dict) or not element.get("action_id"):
            errors.append(f"[ERROR] missing required field: element [json-pointer:/view/blocks/{i}]")
        elif int(element.get("max_length") or 0) > MAX_PLAIN_TEXT_INPUT:
            errors.append(f"[ERROR] max_length too large [json-pointer:/view/blocks/{i}/element/max_length]")
    if has_input and "submit" not in view:
        errors.append("[ERROR] a view with input blocks needs submit [json-pointer:/view/submit]")
    return errors
