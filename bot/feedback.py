"""Rating an answer in Slack: the feedback buttons' clicks, and the "what was wrong?" modal after a 👎.

A click (``block_actions``) is acknowledged at once; its button's value names only the rating and the
answer's request ID (:mod:`bot.delivery.feedback`), and who clicked, in which workspace and channel,
comes from Slack's signed payload. The core keeps the rating if the request ID is an answered task of
that workspace and channel, the latest click of each person winning; anything else is refused and
logged, and the clicker is told nothing (a forged value deserves no answer). A 👎 opens a modal with the
click's ``trigger_id`` (valid for 3 s, so it is opened right after the rating is kept); what is typed
there is redacted by the core and kept with the rating, for ``orch-bot eval export``. The fallback's
plain buttons show no state of their own, so their clicks get a private "noted".
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import structlog
from slack_sdk.errors import SlackApiError

from agents.errors import StoreUnavailable
from agents.feedback import MAX_FEEDBACK_TEXT, FeedbackRefused
from bot.delivery.feedback import FEEDBACK_ACTION, FEEDBACK_ACTIONS, parse_value
from bot.interactions import Clicker, clicked_action, tell_clicker
from bot.slack_client import slack_error

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.feedback import Rating
    from agents.orchestrator import Orchestrator

__all__ = ["EXPLAIN_CALLBACK", "explain_modal", "register_feedback"]

log = structlog.get_logger(__name__)

#: The ``callback_id`` of the "what was wrong?" modal.
EXPLAIN_CALLBACK = "orch_feedback_text"
_INPUT_BLOCK = "what_was_wrong"
_INPUT_ACTION = "text"


def explain_modal(request_id: str) -> dict[str, Any]:
    """The modal a 👎 opens: one optional question, its answer kept with the rating of ``request_id``."""
    return {
        "type": "modal",
        "callback_id": EXPLAIN_CALLBACK,
        "private_metadata": json.dumps({"request_id": request_id}),
        "title": {"type": "plain_text", "text": "What was wrong?"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Thanks, your :thumbsdown: on `{request_id}` is noted. If you like, say what was "
                    "wrong: the team can turn this answer into a test. Secrets are removed before it is kept.",
                },
            },
            {
                "type": "input",
                "block_id": _INPUT_BLOCK,
                "label": {"type": "plain_text", "text": "What was wrong with the answer?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": _INPUT_ACTION,
                    "multiline": True,
                    "max_length": MAX_FEEDBACK_TEXT,
                    "placeholder": {"type": "plain_text", "text": "e.g. it blamed the database; the alarm was the ALB"},
                },
            },
        ],
    }


def _action_time(action: dict[str, Any]) -> float | None:
    """When the person clicked (Slack's ``action_ts``), which orders their clicks; ``None`` if unreadable."""
    try:
        at = float(action.get("action_ts") or "")
    except (TypeError, ValueError):
        return None
    return at if math.isfinite(at) else None  # "inf" would make a rating impossible to replace


def register_feedback(app: AsyncApp, orchestrator: Orchestrator) -> None:
    """Listen for feedback clicks (both kinds of button) and the modal's submissions."""

    @app.action(FEEDBACK_ACTIONS)
    async def on_feedback(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        action = clicked_action(body)
        parsed = parse_value(action.get("value"))
        clicker = Clicker.of(body)
        user_id, team_id, channel_id = clicker.user_id, clicker.team_id, clicker.channel_id
        if parsed is None or not (user_id and team_id and channel_id):
            log.warning("feedback.refused", reason="malformed_value")
            return
        rating, request_id = parsed
        try:
            outcome = await orchestrator.record_feedback(
                request_id,
                user_id=user_id,
                rating=rating,
                workspace_id=team_id,
                channel_id=channel_id,
                at=_action_time(action),
            )
        except StoreUnavailable as error:
            log.warning("feedback.not_recorded", store=error.store, reason=error.reason)
            text = (
                ":warning: I couldn't record your feedback: the task store is unreachable. Please click again in "
                f"a minute. Request ID: `{context.get('request_id') or request_id}`"
            )
            await tell_clicker(client, clicker, text)
            return
        if isinstance(outcome, FeedbackRefused):
            return
        if rating == "down":
            await _open_modal(client, body, request_id)
        elif action.get("action_id") != FEEDBACK_ACTION:
            await tell_clicker(client, clicker, _noted(rating, request_id))

    @app.view(EXPLAIN_CALLBACK)
    async def on_explain(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        view = body.get("view") or {}
        clicker = Clicker.of(body)
        user_id, team_id = clicker.user_id, clicker.team_id
        request_id, text = _submitted(view)
        try:
            kept = await orchestrator.explain_feedback(request_id, user_id=user_id, workspace_id=team_id, text=text)
        except StoreUnavailable as error:
            log.warning("feedback.text_not_recorded", store=error.store, reason=error.reason)
            problem = (
                "I couldn't save this: the task store is unreachable. Try again in a minute "
                f"(request ID {context.get('request_id') or request_id})."
            )
            await ack(response_action="errors", errors={_INPUT_BLOCK: problem})
            return
        await ack()
        if not kept:
            log.info("feedback.text_dropped", rated=request_id)


def _submitted(view: dict[str, Any]) -> tuple[str, str]:
    """The request ID the modal was opened for, and the text typed into it."""
    try:
        metadata = json.loads(str(view.get("private_metadata") or "{}"))
    except ValueError:
        metadata = {}
    request_id = str(metadata.get("request_id") or "") if isinstance(metadata, dict) else ""
    values = ((view.get("state") or {}).get("values") or {}).get(_INPUT_BLOCK) or {}
    typed = (values.get(_INPUT_ACTION) or {}).get("value")
    return request_id, typed if isinstance(typed, str) else ""


def _noted(rating: Rating, request_id: str) -> str:
    mark = ":thumbsup:" if rating == "up" else ":thumbsdown:"
    return f"Thanks, your {mark} on `{request_id}` is noted. Click the other button if you change your mind."


async def _open_modal(client: AsyncWebClient, body: dict[str, Any], request_id: str) -> None:
    trigger_id = body.get("trigger_id")
    if not isinstance(trigger_id, str) or not trigger_id:
        return
    try:
        await client.views_open(trigger_id=trigger_id, view=explain_modal(request_id))
    except SlackApiError as exc:
        # An expired trigger (the click waited too long) loses only the optional question: the rating is kept.
        log.info("slack.feedback_modal_failed", error=slack_error(exc))
