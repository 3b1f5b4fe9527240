"""Token counters per UTC day, on every backend, with an injected wall clock (no sleeping across midnight)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiosqlite
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from agents.budgets import (
    Account,
    BudgetDay,
    MemoryTokenBudgets,
    RedisTokenBudgets,
    SqliteTokenBudgets,
    TokenBudgets,
)
from agents.budgets._redis import TTL_SECONDS
from agents.stores import SqliteJournal
from agents.testing.redis_keys import delete_prefix

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

ANA = Account("T1", "U0ANA", "C0OPS")
BEN = Account("T1", "U0BEN", "C0OPS")
BEN_ELSEWHERE = Account("T1", "U0BEN", "C0DEV")
OTHER_WORKSPACE = Account("T2", "U0ANA", "C0OPS")


def utc(text: str) -> float:
    """``2026-11-03 23:59:59`` as seconds since the epoch."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


class Clock:
    """A wall clock the test sets."""

    def __init__(self, now: str) -> None:
        self.now = utc(now)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """Late on 3 November 2026, UTC."""
    return Clock("2026-11-03 23:59:00")


@pytest_asyncio.fixture(params=["memory", "sqlite", "redis"])
async def counters(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> AsyncIterator[TokenBudgets]:
    """Each backend in turn, on ``clock``; SQLite in a journal's file, Redis under a unique prefix."""
    if request.param == "memory":
        yield MemoryTokenBudgets(clock=clock)
    elif request.param == "sqlite":
        journal = await SqliteJournal.open(str(tmp_path / "orch.db"))
        yield await SqliteTokenBudgets.open(journal.connection, clock=clock)
        await journal.close()
    else:
        url = request.getfixturevalue("redis_url")
        prefix = f"orch-test-{uuid.uuid4().hex[:8]}:"
        redis = Redis.from_url(url, decode_responses=True)
        yield RedisTokenBudgets(redis, prefix=prefix, clock=clock)
        await delete_prefix(url, prefix)
        await redis.aclose()


def test_the_budget_day_is_the_utc_day_and_resets_at_the_next_utc_midnight() -> None:
    """Just before and at midnight UTC fall in different days; the first resets exactly at that midnight."""
    before, after = BudgetDay.at(utc("2026-11-03 23:59:59")), BudgetDay.at(utc("2026-11-04 00:00:00"))
    assert before.key == "2026-11-03"
    assert after.key == "2026-11-04"
    assert before.resets_at == utc("2026-11-04 00:00:00")
    assert after.resets_at == utc("2026-11-05 00:00:00")


async def test_tokens_are_counted_per_user_channel_and_workspace(counters: TokenBudgets) -> None:
    """Ana and Ben share a channel and a workspace; each has their own count; another workspace is apart."""
    await counters.add(ANA, 100, agent="monitor")
    await counters.add(BEN, 40, agent="logs")
    await counters.add(BEN_ELSEWHERE, 7, agent="logs")
    await counters.add(OTHER_WORKSPACE, 1000, agent="general")
    ana = await counters.spent(ANA)
    assert (ana.user, ana.channel, ana.workspace) == (100, 140, 147)
    ben = await counters.spent(BEN_ELSEWHERE)
    assert (ben.user, ben.channel, ben.workspace) == (47, 7, 147)
    other = await counters.spent(OTHER_WORKSPACE)
    assert (other.user, other.channel, other.workspace) == (1000, 1000, 1000)
    assert ana.day.key == "2026-11-03"


async def test_counters_start_again_at_utc_midnight(counters: TokenBudgets, clock: Clock) -> None:
    """Tokens used at 23:59 count for that day only: at 00:00 UTC everyone starts from zero."""
    await counters.add(ANA, 500, agent="monitor")
    clock.now = utc("2026-11-04 00:00:00")
    fresh = await counters.spent(ANA)
    assert (fresh.user, fresh.channel, fresh.workspace) == (0, 0, 0)
    assert fresh.day.key == "2026-11-04"
    await counters.add(ANA, 3, agent="monitor")
    assert (await counters.spent(ANA)).user == 3
    assert (await counters.top("T1", limit=5)).agents == (("monitor", 3),)


async def test_top_ranks_todays_users_channels_and_agents(counters: TokenBudgets) -> None:
    """The biggest first, cut at the limit; the router's tokens rank beside the agents'."""
    await counters.add(ANA, 100, agent="monitor")
    await counters.add(BEN, 300, agent="logs")
    await counters.add(BEN_ELSEWHERE, 50, agent="router")
    await counters.add(ANA, 20, agent="router")
    top = await counters.top("T1", limit=2)
    assert top.users == (("U0BEN", 350), ("U0ANA", 120))
    assert top.channels == (("C0OPS", 420), ("C0DEV", 50))
    assert top.agents == (("logs", 300), ("monitor", 100))
    empty = await counters.top("T9", limit=5)
    assert (empty.users, empty.channels, empty.agents) == ((), (), ())


async def test_two_replicas_share_their_counts_through_redis(redis_url: str, clock: Clock) -> None:
    """Two TokenBudgets on separate connections (two replicas) add to, and read, the same counters."""
    prefix = f"orch-test-{uuid.uuid4().hex[:8]}:"
    first, second = Redis.from_url(redis_url, decode_responses=True), Redis.from_url(redis_url, decode_responses=True)
    try:
        one = RedisTokenBudgets(first, prefix=prefix, clock=clock)
        two = RedisTokenBudgets(second, prefix=prefix, clock=clock)
        await one.add(ANA, 60, agent="monitor")
        await two.add(ANA, 40, agent="logs")
        assert (await one.spent(ANA)).user == 100
        assert (await two.spent(ANA)).workspace == 100
        assert (await one.top("T1", limit=5)).agents == (("monitor", 60), ("logs", 40))
        keys = sorted([key async for key in first.scan_iter(f"{prefix}*")])
        assert keys == [f"{prefix}tokens:2026-11-03:T1:{kind}" for kind in ("agents", "channels", "total", "users")]
        for key in keys:  # a day's counters outlive its midnight by about a day, then go by themselves
            assert TTL_SECONDS - 5 < await first.ttl(key) <= TTL_SECONDS
    finally:
        await delete_prefix(redis_url, prefix)
        await first.aclose()
        await second.aclose()


async def test_sqlite_counts_live_in_the_journals_file_and_survive_a_restart(tmp_path: Path, clock: Clock) -> None:
    """Counted through the journal's connection, read again after the file is reopened; old days are pruned."""
    path = str(tmp_path / "orch.db")
    journal = await SqliteJournal.open(path)
    counters = await SqliteTokenBudgets.open(journal.connection, clock=clock)
    await counters.add(ANA, 250, agent="infra")
    clock.now = utc("2026-09-01 12:00:00")  # a day long gone (over 35 days), written as if by an old process
    await counters.add(ANA, 9, agent="infra")
    await journal.close()
    clock.now = utc("2026-11-03 23:59:30")
    reopened = await SqliteJournal.open(path)
    again = await SqliteTokenBudgets.open(reopened.connection, clock=clock)
    assert (await again.spent(ANA)).user == 250
    async with aiosqlite.connect(path) as db, db.execute("SELECT DISTINCT day FROM token_usage") as cursor:
        days = [row[0] for row in await cursor.fetchall()]
    assert days == ["2026-11-03"]
    await reopened.close()
