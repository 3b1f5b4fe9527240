"""One approval request: a proposed action bound to its task, its tool call and a hash of its exact parameters.

The Slack button carries only :attr:`Approval.id` (``apr-`` + random); everything a click is checked
against lives here, on the server. ``state`` moves once, from ``pending`` to ``approved``, ``rejected`` or
``expired``, by a compare-and-set in the store (:mod:`agents.approvals._store`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from agents.effects import canonical, params_hash
from agents.proposal import Proposal

__all__ = ["APPROVAL_ID", "FIELDS", "Approval", "State", "canonical", "new_approval_id", "params_hash"]

State = Literal["pending", "approved", "rejected", "expired"]
#: What an approval id looks like; anything else in a button's value is refused before any lookup.
APPROVAL_ID = re.compile(r"apr-[0-9a-f]{24}")


def new_approval_id() -> str:
    """A fresh, unguessable approval id."""
    return f"apr-{secrets.token_hex(12)}"


@dataclass(frozen=True, slots=True)
class Approval:
    """An approval request and, once decided, its decision and the action's result."""

    id: str
    request_id: str
    call_id: str
    tool: str
    action: str
    params: str  # canonical JSON
    params_hash: str
    requester_id: str
    workspace_id: str
    channel_id: str
    is_dm: bool
    approvers: tuple[str, ...]  # as the card shows them (user ids, @groups, S… user groups, *)
    rule: str
    created_at: float
    expires_at: float
    proposal: str  # Proposal as JSON
    card_channel: str = ""
    card_ts: str = ""
    state: State = "pending"
    decided_by: str = ""
    decided_at: float = 0.0
    result: str = ""

    @property
    def card(self) -> Proposal:
        """The proposal the card shows."""
        return Proposal.model_validate_json(self.proposal)

    @property
    def short_hash(self) -> str:
        """The first 12 hex digits of the parameters' hash, as the card shows it."""
        return self.params_hash[:12]

    def decided(self, state: State, by: str, at: float) -> Approval:
        """This approval with its decision."""
        return dataclasses.replace(self, state=state, decided_by=by, decided_at=at)

    def to_row(self) -> dict[str, Any]:
        """Field name → value, for the stores (approvers as JSON)."""
        row = dataclasses.asdict(self)
        row["approvers"] = json.dumps(list(self.approvers))
        row["is_dm"] = int(self.is_dm)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Approval:
        """The inverse of :meth:`to_row` (values may arrive as strings, from Redis)."""
        values = dict(row)
        values["approvers"] = tuple(json.loads(values["approvers"] or "[]"))
        values["is_dm"] = str(values["is_dm"]) in {"1", "True", "true"}
        for name in ("created_at", "expires_at", "decided_at"):
            values[name] = float(values[name] or 0)
        return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls)})


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Approval))
