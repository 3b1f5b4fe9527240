"""Where approvals are kept: the port, and the in-memory store (the console, unit tests).

Deciding is a single-use compare-and-set: :meth:`ApprovalStore.decide` moves an approval out of
``pending`` only if it is still pending, atomically across every process sharing the store, and says
whether this caller won. A double click, two replicas clicked at once, and the expiry sweeper racing a
click all end with exactly one decision. The durable stores are :mod:`agents.approvals._sqlite` and
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
        return True

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
