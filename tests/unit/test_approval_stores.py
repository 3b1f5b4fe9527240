"""Approval records and the single-use compare-and-set, on every store (memory, SQLite, Redis)."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import pytest

from agents.approvals import Approval, MemoryApprovals, RedisApprovals, SqliteApprovals, new_approval_id, params_hash
from agents.assembly import shared_redis
from agents.proposal import Proposal, ResourceState
from agents.stores import SqliteJournal
from agents.testing.redis_keys import delete_prefix

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from redis.asyncio import Redis

    from agents.approvals import ApprovalStore


def approval(**changes: object) -> Approval:
    """A pending approval of stopping one instance, created at t=1000 and expiring at t=1600."""
    arguments = {"instance_ids": ["i-0123456789abcdef0"]}
    fields: dict[str, object] = {
        "id": new_approval_id(),
        "request_id": "req-0123456789ab",
        "call_id": "tooluse_stop0001",
        "tool": "ec2_stop",
        "action": "ec2.stop",
        "params": '{"instance_ids":["i-0123456789abcdef0"]}',
        "params_hash": params_hash(arguments),
        "requester_id": "U0ANA",
        "workspace_id": "T0TEST",
        "channel_id": "C0OPS",
        "is_dm": False,
        "approvers": ("@sre",),
        "rule": "rules[1] (policy.yaml:9)",
        "created_at": 1000.0,
        "expires_at": 1600.0,
        "proposal": Proposal(
            action="ec2.stop",
            summary="Stop EC2 instance i-0123456789abcdef0 (web-1)",
            resources=(ResourceState(id="i-0123456789abcdef0", name="web-1", state="running"),),
            account="123456789012",
            region="eu-west-1",
            dry_run="would succeed (EC2 DryRun)",
        ).model_dump_json(),
    }
    fields.update(changes)
    return Approval(**fields)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ApprovalStore]:
    """Each store in turn (Redis under a unique prefix, deleted afterwards)."""
    if request.param == "memory":
        yield MemoryApprovals()
    elif request.param == "sqlite":
        journal = await SqliteJournal.open(str(tmp_path / "orch.db"))
        yield await SqliteApprovals.open(journal.connection)  # on the journal's connection, as in the bot
        await journal.close()
    else:
        url = request.getfixturevalue("redis_url")
        prefix = f"orch-test-{uuid.uuid4().hex[:8]}:"
        client = shared_redis(url)
        yield RedisApprovals(client, prefix=prefix)
        await delete_prefix(url, prefix)
        await client.aclose()


async def test_an_approval_is_stored_whole_and_found_by_its_tool_call(store: ApprovalStore) -> None:
    """Every field comes back as written; the (request, tool call) lookup and the card's place work."""
    made = approval()
    await store.create(made)
    assert await store.get(made.id) == made
    assert await store.for_call(made.request_id, made.call_id) == made
    assert await store.for_call(made.request_id, "tooluse_other") is None
    await store.attach_card(made.id, "C0OPS", "1700000000.000200")
    found = await store.get(made.id)
    assert found is not None
    assert (found.card_channel, found.card_ts) == ("C0OPS", "1700000000.000200")
    assert found.card.resources[0].name == "web-1"


async def test_of_many_concurrent_decisions_exactly_one_wins(store: ApprovalStore) -> None:
    """Twenty decisions at once (approve, reject, expire): one returns True, and the record is its decision."""
    made = approval()
    await store.create(made)
    states = ["approved", "rejected", "expired"] * 7
    won = await asyncio.gather(
        *(store.decide(made.id, state, f"U{i:04d}", 1100.0 + i) for i, state in enumerate(states[:20]))  # type: ignore[arg-type]
    )
    assert won.count(True) == 1
    winner = won.index(True)
    found = await store.get(made.id)
    assert found is not None
    assert (found.state, found.decided_by) == (states[winner], f"U{winner:04d}")


async def test_a_decided_approval_is_never_decided_again_nor_due(store: ApprovalStore) -> None:
    """After one decision every later one is refused, and the sweeper no longer sees it."""
    made, other = approval(), approval(call_id="tooluse_other", request_id="req-ba9876543210")
    await store.create(made)
    await store.create(other)
    assert [a.id for a in await store.due(1599.0)] == []
    assert sorted(a.id for a in await store.due(1600.0)) == sorted([made.id, other.id])
    assert await store.decide(made.id, "approved", "U0BOB", 1200.0)
    assert not await store.decide(made.id, "rejected", "U0EVE", 1201.0)
    assert not await store.decide(made.id, "expired", "", 1700.0)
    assert [a.id for a in await store.due(1700.0)] == [other.id]
    assert not await store.decide("apr-000000000000000000000000", "approved", "U0BOB", 1200.0)


async def test_results_and_history_are_kept(store: ApprovalStore) -> None:
    """The action's result is kept; a workspace's approvals are listed newest first."""
    older, newer = approval(created_at=1000.0), approval(call_id="tooluse_b", created_at=2000.0)
    await store.create(older)
    await store.create(newer)
    await store.record_result(older.id, "i-0123456789abcdef0: running → stopped; verified.")
    found = await store.get(older.id)
    assert found is not None
    assert found.result.endswith("verified.")
    assert [a.id for a in await store.recent("T0TEST", limit=5)] == [newer.id, older.id]


async def test_a_decisions_delivery_is_leased_to_one_claimant_at_a_time(store: ApprovalStore) -> None:
    """A decision is due for delivery at once; of many claims one wins, and the next only once the lease ran out."""
    made = approval()
    await store.create(made)
    assert await store.undelivered(2000.0) == []  # pending: nothing to deliver
    assert not await store.claim_delivery(made.id, 1100.0, lease=60)
    assert await store.decide(made.id, "approved", "U0BOB", 1100.0)
    assert [a.id for a in await store.undelivered(1100.0)] == [made.id]
    won = await asyncio.gather(*(store.claim_delivery(made.id, 1100.0, lease=60) for _ in range(20)))
    assert won.count(True) == 1
    assert await store.undelivered(1159.0) == []  # leased
    assert not await store.claim_delivery(made.id, 1159.0, lease=60)
    assert await store.claim_delivery(made.id, 1160.0, lease=60)  # the lease ran out: taken over
    await store.delivered(made.id)
    assert await store.undelivered(9999.0) == []
    assert not await store.claim_delivery(made.id, 9999.0, lease=60)


async def test_on_redis_an_expired_record_leaves_the_sweepers_indexes(redis: tuple[Redis, str]) -> None:
    """A record Redis expired (retention) is dropped from the pending and to-deliver sets when next read."""
    client, prefix = redis
    store = RedisApprovals(client, prefix=prefix)
    pending, decided = approval(), approval(call_id="tooluse_stop0002")
    for made in (pending, decided):
        await store.create(made)
    assert await store.decide(decided.id, "approved", "U0BOB", 1100.0)
    await client.delete(f"{prefix}approval:{pending.id}", f"{prefix}approval:{decided.id}")  # as retention would
    assert await store.due(9999.0) == []
    assert await store.undelivered(9999.0) == []
    assert await client.zcard(f"{prefix}approvals:pending") == 0
    assert await client.zcard(f"{prefix}approvals:to-deliver") == 0
