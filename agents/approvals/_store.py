"""Where approvals are kept: the port, and the in-memory store (the console, unit tests).

Deciding is a single-use compare-and-set: :meth:`ApprovalStore.decide` moves an approval out of
``pending`` only if it is still pending, atomically across every process sharing the store, and says
whether this caller won. A double click, two replicas clicked at once, and the expiry sweeper racing a
click all end with exactly one decision.

A decision must then reach its task (the task is queued again to hear it). The decision and "to deliver"
are written together; :meth:`ApprovalStore.claim_delivery` leases the delivery to one process (a
compare-and-set on when it may next be tried), and :meth:`ApprovalStore.delivered` ends it. A process that
dies between deciding and delivering leaves the delivery to the sweeper, once the lease has run out.

The durable stores are :mod:`agents.approvals._sqlite` and
:mod:`agents.approvals._redis`, kept beside the task journal of the same backend.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from agents.approvals._record import Approval, State

__all__ = ["ApprovalStore", "MemoryApprovals"]


class ApprovalStore(Protocol):
    """Approval records, with a compare-and-set decision."""

    async def create(self, approval: Approval) -> None:
        """Store a new (pending) approval."""
        ...

    async def get(self, approval_id: str) -> Approval | None:
        """The approval with ``approval_id``."""
        ...

    async def for_call(self, request_id: str, call_id: str) -> Approval | None:
        """The approval of one tool call of one task."""
        ...

    async def attach_card(self, approval_id: str, channel: str, ts: str) -> None:
        """Remember where the approval's card was posted."""
        ...

    async def decide(self, approval_id: str, state: State, by: str, at: float) -> bool:
        """Move a *pending* approval to ``state``; ``False`` if it was not pending (someone else decided)."""
        ...

    async def record_result(self, approval_id: str, result: str) -> None:
        """Keep the action's result, for the card and history."""
        ...

    async def claim_delivery(self, approval_id: str, now: float, *, lease: float) -> bool:
        """Take the delivery of a decision, if it is due by ``now``, for ``lease`` seconds; ``False``: not ours."""
        ...

    async def delivered(self, approval_id: str) -> None:
        """The decision reached its task: nothing more to deliver."""
        ...

    async def undelivered(self, due_by: float) -> list[Approval]:
        """Decided approvals whose delivery is due by ``due_by`` (never delivered, or a lease ran out)."""
        ...

    async def due(self, now: float) -> list[Approval]:
        """Pending approvals whose time ran out by ``now``."""
        ...

    async def recent(self, workspace_id: str, *, limit: int = 10) -> list[Approval]:
        """The newest approvals of a workspace, newest first."""
        ...

    async def close(self) -> None:
        """Release the store's connection."""
        ...


class MemoryApprovals:
    """Approvals in a dict: one process, nothing survives it."""

    def __init__(self) -> None:
        self._items: dict[str, Approval] = {}
        self._deliver_after: dict[str, float] = {}

    async def create(self, approval: Approval) -> None:
        """Store ``approval``."""
        self._items[approval.id] = approval

    async def get(self, approval_id: str) -> Approval | None:
        """The approval with ``approval_id``."""
        return self._items.get(approval_id)

    async def for_call(self, request_id: str, call_id: str) -> Approval | None:
        """The approval of one tool call of one task."""
        return next((a for a in self._items.values() if (a.request_id, a.call_id) == (request_id, call_id)), None)

    async def attach_card(self, approval_id: str, channel: str, ts: str) -> None:
        """Remember the card's place."""
        if found := self._items.get(approval_id):
            self._items[approval_id] = dataclasses.replace(found, card_channel=channel, card_ts=ts)

    async def decide(self, approval_id: str, state: State, by: str, at: float) -> bool:
        """Compare-and-set (one event loop: no await between the check and the set)."""
        found = self._items.get(approval_id)
        if found is None or found.state != "pending":
            return False
        self._items[approval_id] = found.decided(state, by, at)
        self._deliver_after[approval_id] = at
        return True

    async def claim_delivery(self, approval_id: str, now: float, *, lease: float) -> bool:
        """Compare-and-set on when the delivery may next be tried."""
        due = self._deliver_after.get(approval_id)
        if due is None or due > now:
            return False
        self._deliver_after[approval_id] = now + lease
        return True

    async def delivered(self, approval_id: str) -> None:
        """Nothing more to deliver."""
        self._deliver_after.pop(approval_id, None)

    async def undelivered(self, due_by: float) -> list[Approval]:
        """Decided, and their delivery due."""
        return [self._items[i] for i, due in self._deliver_after.items() if due <= due_by]

    async def record_result(self, approval_id: str, result: str) -> None:
        """Keep the result."""
        if found := self._items.get(approval_id):
            self._items[approval_id] = dataclasses.replace(found, result=result)

    async def due(self, now: float) -> list[Approval]:
        """Pending and out of time."""
        return [a for a in self._items.values() if a.state == "pending" and a.expires_at <= now]

    async def recent(self, workspace_id: str, *, limit: int = 10) -> list[Approval]:
        """Newest first."""
        mine = [a for a in self._items.values() if a.workspace_id == workspace_id]
        return sorted(mine, key=lambda a: a.created_at, reverse=True)[:limit]

    async def close(self) -> None:
        """Nothing to release."""
