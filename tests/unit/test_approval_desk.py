"""Each check a click goes through on the server, and the sweeper (the desk, with in-memory stores)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from agents.approvals import Approval, ApprovalDesk, Decided, MemoryApprovals, Refused
from agents.approvals._desk import DELIVERY_GRACE, DELIVERY_LEASE
from agents.journal import MemoryJournal, TaskRecord
from agents.llm import ChatMessage, ToolCall
from agents.loopstate import LoopState
from agents.policy import Policy, Rule
from agents.task import Task
from tests.unit.conftest import ORIGIN
from tests.unit.test_approval_stores import approval

CALL = ToolCall("tooluse_stop0001", "ec2_stop", {"instance_ids": ["i-0123456789abcdef0"]})
POLICY = Policy(
    groups={"sre": frozenset({"U0BOB", "U0ANA"})},
    rules=(
        Rule(
            where="policy.yaml:9",
            users=frozenset({"U0ANA"}),
            channels=frozenset({"C0OPS"}),
            actions=frozenset({"ec2.stop"}),
            approvers=frozenset({"@sre"}),
        ),
    ),
)


async def desk_with(call: ToolCall = CALL, *, policy: Policy = POLICY) -> tuple[ApprovalDesk, list[str], str]:
    """A desk over a waiting task suspended on ``call``, one pending approval of CALL; (desk, resumed, id)."""
    journal = MemoryJournal()
    task = Task(request_id="req-0123456789ab", origin=ORIGIN, text="stop web-1", agent="infra")
    state = LoopState(
        agent="infra",
        routing_reason="explicit",
        turn=1,
        messages=(ChatMessage("user", "stop web-1"), ChatMessage("assistant", "", tool_calls=(call,))),
        pending=(call,),
        suspended=call.id,
    )
    record = dataclasses.replace(TaskRecord.queued(task, now=1000.0), status="waiting", checkpoint=state.to_json())
    await journal.put(record)
    store = MemoryApprovals()
    made = approval()
    await store.create(made)
    desk = ApprovalDesk(store=store, policy=lambda: policy, journal=journal)
    resumed: list[str] = []

    async def resume(request_id: str) -> bool:
        resumed.append(request_id)
        return True

    desk.bind(resume)
    return desk, resumed, made.id


async def test_an_approver_decides_once_and_the_task_is_run_again() -> None:
    """An approver's click decides; the task is queued again once; a second click is refused."""
    desk, resumed, approval_id = await desk_with()
    outcome = await desk.decide(approval_id, "U0BOB", "approve", now=1100.0)
    assert isinstance(outcome, Decided)
    assert (outcome.approval.state, outcome.approval.decided_by) == ("approved", "U0BOB")
    assert resumed == ["req-0123456789ab"]
    again = await desk.decide(approval_id, "U0BOB", "reject", now=1101.0)
    assert isinstance(again, Refused)
    assert "already approved by <@U0BOB>" in again.reason
    assert resumed == ["req-0123456789ab"]


async def test_a_click_by_someone_the_policy_does_not_name_is_refused() -> None:
    """Not an approver under the policy as it is now: refused, with who may approve."""
    desk, resumed, approval_id = await desk_with()
    outcome = await desk.decide(approval_id, "U0EVE", "approve", now=1100.0)
    assert isinstance(outcome, Refused)
    assert "may not approve" in outcome.reason
    assert outcome.request_id == "req-0123456789ab"
    assert resumed == []


async def test_the_policy_is_read_at_click_time() -> None:
    """An approver removed from the policy after the card was posted can no longer approve."""
    current = [POLICY]
    desk, _, approval_id = await desk_with()
    desk._policy = lambda: current[0]
    current[0] = dataclasses.replace(POLICY, groups={"sre": frozenset({"U0ANA"})})
    assert isinstance(await desk.decide(approval_id, "U0BOB", "approve", now=1100.0), Refused)


async def test_the_requester_may_not_approve_their_own_action_unless_the_rule_allows_it() -> None:
    """Self-approval is refused by default, and allowed where the rule says ``allow_self_approval``."""
    desk, _, approval_id = await desk_with()
    outcome = await desk.decide(approval_id, "U0ANA", "approve", now=1100.0)
    assert isinstance(outcome, Refused)
    assert "your own request" in outcome.reason
    allowing = dataclasses.replace(POLICY, rules=(dataclasses.replace(POLICY.rules[0], allow_self_approval=True),))
    desk, _, approval_id = await desk_with(policy=allowing)
    assert isinstance(await desk.decide(approval_id, "U0ANA", "approve", now=1100.0), Decided)


async def test_the_requester_may_withdraw_their_own_request_by_rejecting_it() -> None:
    """Rejecting changes nothing in AWS: the requester may withdraw, even where they may not approve."""
    desk, resumed, approval_id = await desk_with()
    outcome = await desk.decide(approval_id, "U0ANA", "reject", now=1100.0)
    assert isinstance(outcome, Decided)
    assert (outcome.approval.state, outcome.approval.decided_by) == ("rejected", "U0ANA")
    assert resumed == ["req-0123456789ab"]


async def test_a_click_after_expiry_is_refused_and_expires_the_request() -> None:
    """Out of time: refused, the approval is expired and the task runs again to hear so."""
    desk, resumed, approval_id = await desk_with()
    outcome = await desk.decide(approval_id, "U0BOB", "approve", now=1600.0)
    assert isinstance(outcome, Refused)
    assert "expired" in outcome.reason
    found = await desk.store.get(approval_id)
    assert found is not None
    assert found.state == "expired"
    assert resumed == ["req-0123456789ab"]


async def test_parameters_that_no_longer_hash_to_the_card_are_refused() -> None:
    """The waiting call's input differs from what the card showed: nothing is decided."""
    changed = ToolCall(CALL.id, CALL.name, {"instance_ids": ["i-0fedcba9876543210"]})
    desk, resumed, approval_id = await desk_with(changed)
    outcome = await desk.decide(approval_id, "U0BOB", "approve", now=1100.0)
    assert isinstance(outcome, Refused)
    assert "no longer match" in outcome.reason
    assert resumed == []


async def test_values_that_are_not_our_approval_ids_are_refused_before_any_lookup() -> None:
    """Garbage, a JSON value carrying parameters, and an unknown well-formed id are all refused."""
    desk, resumed, approval_id = await desk_with()
    for value in ("", "garbage", f'{{"id": "{approval_id}"}}', "apr-000000000000000000000000"):
        assert isinstance(await desk.decide(value, "U0BOB", "approve", now=1100.0), Refused)
    assert resumed == []


async def test_the_sweeper_expires_what_nobody_decided_once() -> None:
    """Due approvals expire once (the compare-and-set), and the task runs again to hear "expired"."""
    desk, resumed, _ = await desk_with()
    assert await desk.sweep(now=1599.0) == 0
    assert await desk.sweep(now=1600.0) == 1
    assert await desk.sweep(now=1700.0) == 0
    assert resumed == ["req-0123456789ab"]


async def test_a_decision_whose_process_died_before_delivering_it_is_delivered_once_by_the_sweeper() -> None:
    """Decided, then the process died before queueing the task: after the grace, one sweep delivers it, once."""
    desk, resumed, approval_id = await desk_with()

    async def dies(_request_id: str) -> bool:
        raise ConnectionError  # the process is gone before the task is queued again

    async def resume(request_id: str) -> bool:
        resumed.append(request_id)
        return True

    desk.bind(dies)
    with pytest.raises(ConnectionError):
        await desk.decide(approval_id, "U0BOB", "approve", now=1100.0)
    desk.bind(resume)  # another process's desk, on the same store and journal
    assert resumed == []
    assert await desk.sweep(now=1100.0 + DELIVERY_GRACE - 1) == 0
    assert resumed == []  # the deciding process still holds the delivery
    await desk.sweep(now=1100.0 + DELIVERY_LEASE + DELIVERY_GRACE)
    await desk.sweep(now=1100.0 + DELIVERY_LEASE + DELIVERY_GRACE + 1)
    assert resumed == ["req-0123456789ab"]


async def test_a_delivered_decision_is_not_delivered_again() -> None:
    """The clicking process queued the task again: no later sweep queues it a second time."""
    desk, resumed, approval_id = await desk_with()
    assert isinstance(await desk.decide(approval_id, "U0BOB", "approve", now=1100.0), Decided)
    await desk.sweep(now=5000.0)
    assert resumed == ["req-0123456789ab"]


async def test_the_sweeper_outlives_a_card_that_cannot_be_updated() -> None:
    """A card update that blows up does not stop the sweeper: the next round expires the next request."""
    desk, _, first = await desk_with()
    second = approval(call_id="tooluse_stop0002")
    await desk.store.create(second)
    for approval_id in (first, second.id):
        await desk.store.attach_card(approval_id, "C0OPS", "1700000000.000100")
    shown: list[str] = []
    both = asyncio.Event()

    class BrokenCards:
        async def show_approval(self, approval: Approval) -> None:
            shown.append(approval.id)
            if len(shown) == 2:
                both.set()
            raise RuntimeError

    sweeping = ApprovalDesk(
        store=desk.store, policy=lambda: POLICY, journal=MemoryJournal(), clock=lambda: 2000.0, sweep_every=0.01
    )
    sweeping.start(BrokenCards(), sweep=True)
    try:
        await asyncio.wait_for(both.wait(), 5)
    finally:
        await sweeping.stop()
    assert sorted(shown) == sorted([first, second.id])
    for approval_id in (first, second.id):
        found = await desk.store.get(approval_id)
        assert found is not None
        assert found.state == "expired"
