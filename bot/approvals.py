"""Action cards in Slack: posting them, updating them, and the Approve/Reject clicks (``block_actions``).

The click listener acks at once and hands the core nothing but the approval id from the button's value
and the clicker's user id (both from a verified request): :meth:`agents.approvals.ApprovalDesk.decide`
does every check. A refusal is told to the clicker only (``chat.postEphemeral``) with the request ID; a
decision updates the card through :class:`SlackApprovalCards`, which the desk calls for every change
(decided, expired, the action's result).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog
from slack_sdk.errors import SlackClientError

from agents.approvals import Refused
from agents.errors import StoreUnavailable
from bot.approval_card import APPROVE_ACTION, REJECT_ACTION, card_blocks, card_text
from bot.delivery.slack import WebClientSlack
from bot.interactions import Clicker, clicked_action, tell_clicker

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.approvals import Approval, ApprovalDesk, Choice
    from agents.orchestrator import Orchestrator
    from bot.outfilter import OutputFilter

__all__ = ["SlackApprovalCards", "register_approvals"]

log = structlog.get_logger(__name__)

#: What a Slack call raises when Slack cannot be reached at all (API errors come back as outcomes).
_NETWORK_ERRORS = (SlackClientError, aiohttp.ClientError, TimeoutError)

_CLICKS = re.compile(f"^({APPROVE_ACTION}|{REJECT_ACTION})$")


class SlackApprovalCards:
    """Posts an approval's card in the task's thread and keeps it up to date."""

    def __init__(self, client: AsyncWebClient, desk: ApprovalDesk, *, clean: OutputFilter) -> None:
        self._slack = WebClientSlack(client)
        self._desk = desk
        self._clean = clean

    async def post(self, approval: Approval, *, channel: str, thread_ts: str) -> None:
        """Post the card under the task, and tell the core where it is (to update it later)."""
        try:
            outcome = await self._slack.post_message(
                channel=channel,
                thread_ts=thread_ts,
                text=card_text(approval, self._clean),
                blocks=card_blocks(approval, self._clean),
            )
        except _NETWORK_ERRORS as error:
            log.warning("approval.card_not_posted", approval_id=approval.id, error=type(error).__name__)
            return
        if not outcome.ok or outcome.ts is None:
            log.warning("approval.card_not_posted", approval_id=approval.id, error=outcome.error)
            return
        try:
            await self._desk.card_posted(approval.id, channel, outcome.ts)
        except StoreUnavailable as error:  # the card stands; it just cannot be updated later
            log.warning("approval.card_not_remembered", approval_id=approval.id, store=error.store)
            return
        log.info("approval.card_posted", approval_id=approval.id)

    async def show_approval(self, approval: Approval) -> None:
        """Replace the card with the approval as it now stands (best effort: it never raises into the core)."""
        try:
            outcome = await self._slack.update_message(
                channel=approval.card_channel,
                ts=approval.card_ts,
                text=card_text(approval, self._clean),
                blocks=card_blocks(approval, self._clean),
            )
        except _NETWORK_ERRORS as error:
            log.warning("approval.card_not_updated", approval_id=approval.id, error=type(error).__name__)
            return
        if not outcome.ok:
            log.warning("approval.card_not_updated", approval_id=approval.id, error=outcome.error)


def register_approvals(app: AsyncApp, orchestrator: Orchestrator) -> None:
    """Listen for clicks on action cards (only where the core decides approvals)."""
    desk = orchestrator.approvals
    if desk is None:
        return

    @app.action(_CLICKS)
    async def on_click(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        await ack()
        who = Clicker.of(body)
        clicker = who.user_id
        clicked = clicked_action(body)
        value = clicked.get("value")
        choice: Choice = "approve" if clicked.get("action_id") == APPROVE_ACTION else "reject"
        try:
            outcome = await desk.decide(value if isinstance(value, str) else "", clicker, choice)
        except StoreUnavailable as error:
            log.warning("approval.store_unavailable", store=error.store, reason=error.reason)
            request_id = context.get("request_id") or "req-unassigned"
            text = (
                f":warning: Your {choice} could not be recorded: orch's task store is unreachable, so nothing was "
                f"decided. Please click again in a minute. Request ID: `{request_id}`"
            )
            await tell_clicker(client, who, text)
            return
        if isinstance(outcome, Refused):
            request_id = outcome.request_id or context.get("request_id") or "req-unassigned"
            await tell_clicker(client, who, f":no_entry: {outcome.reason} Request ID: `{request_id}`")
