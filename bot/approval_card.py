"""The action card: what a proposed action will do, for a person to approve or reject, as Block Kit.

Everything on it comes from the approval record the core keeps: the summary and resources as AWS
described them, the account and region, the dry-run answer, who may approve, when it expires (Slack's
``<!date^…>`` so each reader sees their own time zone) and a short hash of the exact parameters. Text that
came from AWS (a Name tag, a dry-run message) can be written by anyone who can tag a resource: it passes
the output filter. The mentions of the requester and approvers are the bot's own and are added after it.
The buttons carry the approval id and nothing else; Approve asks for confirmation first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.approvals import Approval
    from bot.outfilter import OutputFilter

__all__ = ["APPROVE_ACTION", "REJECT_ACTION", "actions_history", "card_blocks", "card_text"]

APPROVE_ACTION = "orch_approval_approve"
REJECT_ACTION = "orch_approval_reject"

_STATES = {
    "approved": ":white_check_mark: Approved",
    "rejected": ":no_entry_sign: Rejected",
    "expired": ":hourglass: Expired, nobody decided in time",
}


def _date(at: float) -> str:
    fallback = datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at)}^{{date_short_pretty}} {{time}}|{fallback}>"


def _who(entry: str) -> str:
    """An approvers entry as the card shows it: a person mentioned, a group named, ``*`` as anyone."""
    if entry == "*":
        return "anyone"
    if entry.startswith("@"):
        return f"`{entry}`"
    if entry.startswith("S"):
        return f"user group `{entry}`"
    return f"<@{entry}>"


def card_text(approval: Approval, clean: OutputFilter) -> str:
    """The plain-text fallback (notifications, screen readers)."""
    state = _STATES.get(approval.state, "Approval needed")
    return f"{state}: {clean(approval.card.summary)} (request {approval.request_id})"


def card_blocks(approval: Approval, clean: OutputFilter) -> list[dict[str, Any]]:
    """The card's blocks as the approval now stands: buttons while pending, the decision after."""
    card = approval.card
    resources = "\n".join(
        f"• `{clean(r.id)}`" + (f" ({clean(r.name)})" if r.name else "") + (f": {clean(r.state)}" if r.state else "")
        for r in card.resources
    )
    fields = [
        f"*Account*\n`{clean(card.account) or 'unknown'}`",
        f"*Region*\n`{clean(card.region)}`",
        f"*Dry run*\n{clean(card.dry_run) or 'not run'}",
        f"*Parameters hash*\n`{approval.short_hash}`",
        f"*Requested by*\n<@{approval.requester_id}>",
        f"*Who may approve*\n{', '.join(_who(a) for a in approval.approvers) or 'nobody'}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Action proposed: {approval.action}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{clean(card.summary)[:2800]}*"}},
    ]
    if resources:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": resources[:2900]}})
    blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f[:1900]} for f in fields]})
    if approval.state == "pending":
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Expires {_date(approval.expires_at)} if nobody decides."}],
            }
        )
        blocks.append(_buttons(approval))
    else:
        decided = _STATES[approval.state]
        if approval.decided_by:
            decided += f" by <@{approval.decided_by}>"
        decided += f" {_date(approval.decided_at)}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": decided}})
        if approval.result:
            result = clean(approval.result)[:2800]
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Result*: {result}"}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Request ID: `{approval.request_id}`"}]})
    return blocks


def _buttons(approval: Approval) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": "orch_approval",
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE_ACTION,
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": approval.id,
                "confirm": {
                    "title": {"type": "plain_text", "text": "Run this action?"},
                    "text": {"type": "plain_text", "text": f"{approval.action}, parameters {approval.short_hash}"},
                    "confirm": {"type": "plain_text", "text": "Approve"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            },
            {
                "type": "button",
                "action_id": REJECT_ACTION,
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": approval.id,
            },
        ],
    }


def actions_history(approvals: list[Approval], clean: OutputFilter) -> str:
    """Recent actions for ``/orchestrate history``: what, who asked, the decision and by whom, the result."""
    lines = ["*Recent actions*"]
    for approval in approvals:
        decided = approval.state if not approval.decided_by else f"{approval.state} by <@{approval.decided_by}>"
        result = f": {clean(approval.result)[:200]}" if approval.result else ""
        lines.append(
            f"• {_date(approval.created_at)} `{approval.action}` {clean(approval.card.summary)[:200]} "
            f"(asked by <@{approval.requester_id}>) {decided}{result} `{approval.request_id}`"
        )
    return "\n".join(lines)
