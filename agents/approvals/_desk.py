"""Deciding approvals: every check of a click on the server, the expiry sweeper, and the action's result.

:meth:`ApprovalDesk.decide` trusts nothing from the click but the approval id. In order, it checks that
the id is one of ours, that the approval is still pending and not out of time, that the clicker may
approve it under the policy *as it is now* (and is not the requester, unless the rule allows
self-approval; the requester may always *reject*, which withdraws the request), and that the task still
waits on a tool call whose parameters hash to what the card showed. Then the single-use compare-and-set
in the store decides; only its winner goes on: the task is queued again so the gate is asked once more
(:meth:`~agents.lifecycle.TaskLifecycle.requeue_waiting`), and the card is updated
(:class:`ApprovalCards`, the edge's, which never raises). A refusal comes back as :class:`Refused`, for
the edge to tell the clicker privately.

The sweeper (:meth:`ApprovalDesk.sweep`, in every process that runs tasks) expires pending approvals
whose time ran out, through the same compare-and-set, so replicas and clicks cannot both win. It also
delivers decisions a process took but did not hand to their task (it died in between): a delivery is
leased to one process at a time (:meth:`~agents.approvals.ApprovalStore.claim_delivery`), so a task is
queued again once per decision, never by two replicas at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import structlog

from agents.approvals._record import APPROVAL_ID, params_hash
from agents.audit import audit
from agents.effects import INTERRUPTED_RESULT
from agents.errors import StoreUnavailable
from agents.loopstate import LoopState
from agents.policy import Place

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agents.approvals._record import Approval
    from agents.approvals._store import ApprovalStore
    from agents.journal import TaskJournal
    from agents.llm import ToolCall, ToolResult
    from agents.policy import Policy
    from agents.task import Task

__all__ = ["ApprovalCards", "ApprovalDesk", "Choice", "Decided", "Refused"]

log = structlog.get_logger(__name__)

#: Seconds one process has to hand a decision to its task before another may try.
DELIVERY_LEASE = 60.0
#: Seconds a decision may wait for its first delivery before the sweeper takes it over.
DELIVERY_GRACE = 30.0

Choice = Literal["approve", "reject"]


@dataclass(frozen=True, slots=True)
class Decided:
    """The click decided the approval (now ``approved`` or ``rejected``)."""

    approval: Approval


@dataclass(frozen=True, slots=True)
class Refused:
    """The click changed nothing; ``reason`` is for the clicker only. ``request_id``: the task's, when known."""

    reason: str
    request_id: str | None = None


@runtime_checkable
class ApprovalCards(Protocol):
    """The edge's side: show an approval's card as it now stands (decided, expired, with its result)."""

    async def show_approval(self, approval: Approval) -> None:
        """Update the approval's card in place; failures are the edge's to log."""
        ...


class ApprovalDesk:
    """Decisions on approvals, from clicks and from the clock."""

    def __init__(
        self,
        *,
        store: ApprovalStore,
        policy: Callable[[], Policy],
        journal: TaskJournal,
        clock: Callable[[], float] = time.time,
        sweep_every: float = 5.0,
    ) -> None:
        self.store = store
        self._policy = policy
        self._journal = journal
        self._clock = clock
        self._sweep_every = sweep_every
        self._resume: Callable[[str], Awaitable[bool]] | None = None
        self._cards: ApprovalCards | None = None
        self._sweeper: asyncio.Task[None] | None = None

    def bind(self, resume: Callable[[str], Awaitable[bool]]) -> None:
        """How a decided approval's task is run again (the lifecycle's ``requeue_waiting``)."""
        self._resume = resume

    def start(self, cards: ApprovalCards | None, *, sweep: bool) -> None:
        """Update cards through ``cards``; with ``sweep``, expire approvals in the background."""
        self._cards = cards
        if sweep and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="approval-sweeper")

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None

    async def card_posted(self, approval_id: str, channel: str, ts: str) -> None:
        """The edge posted the approval's card at ``channel``/``ts``: remember it, to update it later."""
        await self.store.attach_card(approval_id, channel, ts)

    async def decide(
        self, approval_id: str, clicker_id: str, choice: Choice, now: float | None = None
    ) -> Decided | Refused:
        """A person clicked Approve or Reject on the card of ``approval_id`` (the button's value)."""
        now = self._clock() if now is None else now
        if not APPROVAL_ID.fullmatch(approval_id):
            log.warning("approval.unknown_value", clicker=clicker_id)
            return Refused("That button does not belong to an approval request of this bot; nothing was done.")
        approval = await self.store.get(approval_id)
        if approval is None:
            log.warning("approval.unknown_id", clicker=clicker_id)
            return Refused("This approval request is unknown (or too old); nothing was done.")
        refusal = await self._check(approval, clicker_id, choice, now)
        if refusal is not None:
            self._audit(approval, clicker_id, "refused", refusal, choice=choice)
            return Refused(refusal, approval.request_id)
        state: Literal["approved", "rejected"] = "approved" if choice == "approve" else "rejected"
        if not await self.store.decide(approval.id, state, clicker_id, now):
            latest = await self.store.get(approval.id) or approval
            reason = _already(latest)
            self._audit(approval, clicker_id, "refused", reason, choice=choice)
            return Refused(reason, approval.request_id)
        decided = approval.decided(state, clicker_id, now)
        self._audit(decided, clicker_id, state, self._rule(decided, clicker_id))
        await self._after_decision(decided, now)
        return Decided(decided)

    async def _check(self, approval: Approval, clicker_id: str, choice: Choice, now: float) -> str | None:
        """Why this click may not decide ``approval`` (``None``: it may)."""
        if approval.state != "pending":
            return _already(approval)
        if now >= approval.expires_at:
            await self._expire(approval, now)
            return "This request expired before you clicked; nothing was done. Ask the requester to propose it again."
        if choice == "reject" and clicker_id == approval.requester_id:
            return await self._unchanged(approval)  # withdrawing one's own request needs no approver
        place = Place(approval.channel_id, is_dm=approval.is_dm)
        verdict = self._policy().approval(
            clicker_id, requester_id=approval.requester_id, place=place, action=approval.action
        )
        if not verdict.allowed:
            who = ", ".join(approval.approvers) or "nobody"
            if verdict.rule == "self-approval is not allowed":
                return (
                    f"You asked for this action, and the policy does not let you {choice} your own request. "
                    f"Ask one of the approvers: {who}."
                )
            return f"You may not {choice} {approval.action} here under the current policy. Approvers: {who}."
        return await self._unchanged(approval)

    async def _unchanged(self, approval: Approval) -> str | None:
        """The task must still wait on this very call, with parameters that hash to the card's."""
        record = await self._journal.get(approval.request_id)
        if record is None or record.status != "waiting" or not record.checkpoint:
            return "The task no longer waits for this decision; nothing was done."
        state = LoopState.from_json(record.checkpoint)
        call = next((c for c in state.pending if c.id == approval.call_id), None)
        if state.suspended != approval.call_id or call is None:
            return "The task no longer waits for this decision; nothing was done."
        if params_hash(call.input) != approval.params_hash:
            log.warning("approval.params_mismatch", approval_id=approval.id)
            return "The action's parameters no longer match what the card showed; nothing was done."
        return None

    async def sweep(self, now: float | None = None) -> int:
        """Expire every pending approval whose time ran out, and deliver decisions left undelivered.

        Returns how many approvals this call expired.
        """
        now = self._clock() if now is None else now
        expired = 0
        for approval in await self.store.due(now):
            if await self._expire(approval, now):
                expired += 1
        for approval in await self.store.undelivered(now - DELIVERY_GRACE):
            log.warning("approval.delivery_taken_over", approval_id=approval.id, request_id=approval.request_id)
            await self._deliver(approval, now)
        return expired

    async def _expire(self, approval: Approval, now: float) -> bool:
        if not await self.store.decide(approval.id, "expired", "", now):
            return False
        expired = approval.decided("expired", "", now)
        self._audit(expired, "", "expired", "nobody approved it in time")
        await self._after_decision(expired, now)
        return True

    async def _after_decision(self, approval: Approval, now: float) -> None:
        """Run the task again (the gate reads the decision), then show the decision on the card.

        The decision is made by now: a store that fails here leaves the delivery to a sweeper (the lease
        runs out) instead of telling the clicker that nothing was decided.
        """
        try:
            await self._deliver(approval, now)
        except StoreUnavailable as error:
            log.warning("approval.delivery_deferred", approval_id=approval.id, store=error.store, reason=error.reason)
        await self._show(approval)

    async def _deliver(self, approval: Approval, now: float) -> None:
        """Queue the task again to hear the decision, under this process's lease on the delivery."""
        if self._resume is None or not await self.store.claim_delivery(approval.id, now, lease=DELIVERY_LEASE):
            return
        if not await self._resume(approval.request_id):
            log.warning("approval.task_not_waiting", approval_id=approval.id, request_id=approval.request_id)
        await self.store.delivered(approval.id)

    async def effect_done(self, task: Task, call: ToolCall, result: ToolResult) -> None:
        """What became of an approved action (it ran, or a restart cut it short): keep it, show it on the card."""
        try:
            approval = await self.store.for_call(task.request_id, call.id)
            if approval is None:
                return
            if INTERRUPTED_RESULT in result.text:
                text = (
                    "interrupted by a restart while it ran; it was not run again, and whether it took effect "
                    "is unknown: check the resource"
                )
            else:
                text = ("failed: " if result.is_error else "") + _result_of(result.text)
            await self.store.record_result(approval.id, text)
        except StoreUnavailable:
            log.warning("approval.result_not_recorded", call_id=call.id)
            return
        await self._show(dataclasses.replace(approval, result=text))

    async def _show(self, approval: Approval) -> None:
        """Update the card; the edge's port never raises (a card that cannot be updated is the edge's to log)."""
        if self._cards is not None and approval.card_ts:
            await self._cards.show_approval(approval)

    def _rule(self, approval: Approval, clicker_id: str) -> str:
        if approval.state == "rejected" and clicker_id == approval.requester_id:
            return "withdrawn by the requester"
        place = Place(approval.channel_id, is_dm=approval.is_dm)
        return (
            self._policy()
            .approval(clicker_id, requester_id=approval.requester_id, place=place, action=approval.action)
            .rule
        )

    def _audit(
        self,
        approval: Approval,
        clicker_id: str,
        decision: Literal["approved", "rejected", "expired", "refused"],
        rule: str,
        *,
        choice: str | None = None,
    ) -> None:
        audit(
            "approval",
            user_id=clicker_id or "system",
            channel_id=approval.channel_id,
            asked=f"{approval.action} {approval.params}",
            decision=decision,
            rule=rule,
            request_id=approval.request_id,
            approval_id=approval.id,
            requester_id=approval.requester_id,
            clicked=choice,
        )

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_every)
            try:
                await self.sweep()
            except StoreUnavailable:
                pass  # the store is down: the next round tries again
            except Exception as exc:  # noqa: BLE001 - the sweeper's outermost handler: it must outlive any one round
                log.error("approval.sweep_failed", error_type=type(exc).__name__)  # noqa: TRY400 - no tracebacks


def _already(approval: Approval) -> str:
    if approval.state == "expired":
        return "This request has expired; nothing was done."
    return f"This request was already {approval.state} by <@{approval.decided_by}>; nothing more was done."


def _result_of(text: str) -> str:
    """The action's one-line result from its tool result (the tool's ``result`` field), else the text, cut."""
    body = text.split("\n", 1)[-1].rsplit("\n", 1)[0] if text.startswith("<") else text
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        found = json.loads(body).get("result")
        if isinstance(found, str):
            return found[:500]
    return body[:500]
