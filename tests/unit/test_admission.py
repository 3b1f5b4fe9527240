"""Admission: per-user rate limits, concurrency caps, and draining."""

from __future__ import annotations

import asyncio
import time

import pytest
import time_machine

from agents.admission import Admission, MemoryRateLimiter
from agents.errors import RateLimited, ShuttingDown, TooManyTasks
from agents.overload import LoopLag


def admission(limit: str = "5/minute", *, per_user: int = 10, total: int = 100) -> Admission:
    """An in-memory admission gate."""
    return Admission(MemoryRateLimiter(limit), max_per_user=per_user, max_total=total)


async def test_user_over_the_rate_is_told_when_to_retry() -> None:
    """The sixth task in a minute is refused, with the limit and the seconds until the oldest hit expires."""
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        gate = admission("5/minute")
        for _ in range(5):
            (await gate.admit("T1:U1")).release()
            clock.shift(2)
        with pytest.raises(RateLimited) as caught:
            await gate.admit("T1:U1")
        assert caught.value.limit == "5/minute"
        assert caught.value.retry_after == 50  # first hit at t=0, now t=10, window 60 s


async def test_rate_limit_resets_after_the_window() -> None:
    """Once the window has passed the user may run tasks again."""
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        gate = admission("2/minute")
        for _ in range(2):
            (await gate.admit("T1:U1")).release()
        with pytest.raises(RateLimited):
            await gate.admit("T1:U1")
        clock.shift(61)
        (await gate.admit("T1:U1")).release()


async def test_one_users_limit_does_not_affect_another() -> None:
    """Limits are keyed by workspace and user: U2, and U1 in another workspace, are unaffected."""
    with time_machine.travel(1_800_000_000, tick=False):
        gate = admission("1/minute")
        (await gate.admit("T1:U1")).release()
        with pytest.raises(RateLimited):
            await gate.admit("T1:U1")
        (await gate.admit("T1:U2")).release()
        (await gate.admit("T2:U1")).release()


async def test_concurrent_tasks_per_user_are_capped() -> None:
    """A user with max_per_user tasks running is refused another until one finishes."""
    gate = admission("100/minute", per_user=2)
    first = await gate.admit("T1:U1")
    await gate.admit("T1:U1")
    with pytest.raises(TooManyTasks) as caught:
        await gate.admit("T1:U1")
    assert caught.value.scope == "user"
    first.release()
    await gate.admit("T1:U1")


async def test_global_cap_applies_across_users_and_refusal_costs_no_rate() -> None:
    """At the global cap everyone is refused; a refused attempt does not count against the rate limit."""
    gate = admission("2/minute", per_user=5, total=2)
    slot = await gate.admit("T1:A")
    await gate.admit("T1:B")
    with pytest.raises(TooManyTasks) as caught:
        await gate.admit("T1:A")
    assert caught.value.scope == "global"
    slot.release()
    slot.release()  # releasing twice is harmless
    assert gate.in_flight == 1
    await gate.admit("T1:A")  # the refused attempt above did not use A's second hit


async def test_rate_limited_attempt_frees_its_reserved_slot() -> None:
    """A rate-limited attempt leaves in_flight as it was."""
    gate = admission("1/minute")
    (await gate.admit("T1:U1")).release()
    with pytest.raises(RateLimited):
        await gate.admit("T1:U1")
    assert gate.in_flight == 0


async def test_draining_refuses_new_work() -> None:
    """After close(), admission refuses with ShuttingDown and a retry hint."""
    gate = admission()
    gate.close()
    with pytest.raises(ShuttingDown) as caught:
        await gate.admit("T1:U1")
    assert caught.value.retry_after >= 1


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    """A wait of 0.2 s is reported as 1 second, 10.1 s as 11: users are never told to retry too early."""
    assert RateLimited(limit="5/minute", retry_after=0.2).retry_after == 1
    assert RateLimited(limit="5/minute", retry_after=10.1).retry_after == 11
    assert time.time() > 0


async def test_an_overloaded_process_turns_new_tasks_away() -> None:
    """While the event loop runs later than max_lag, admission refuses with "busy" and a retry time."""
    lag = [0.0]
    gate = Admission(MemoryRateLimiter("100/minute"), max_per_user=5, max_total=100, lag=lambda: lag[0], max_lag=1.0)
    (await gate.admit("T1:U1")).release()
    lag[0] = 2.5
    with pytest.raises(TooManyTasks) as caught:
        await gate.admit("T1:U1")
    assert caught.value.scope == "busy"
    assert caught.value.retry_after == 10
    lag[0] = 0.2
    (await gate.admit("T1:U1")).release()


async def test_loop_lag_sees_a_blocked_loop() -> None:
    """A coroutine that blocks the loop for 300 ms shows up as lag; once the loop is free, the lag decays."""
    monitor = LoopLag(interval=0.02)
    monitor.start()
    await asyncio.sleep(0.1)
    time.sleep(0.3)  # noqa: ASYNC251 - blocking the loop is the point
    await asyncio.sleep(0.005)  # the monitor's overdue timer runs first
    assert monitor.lag >= 0.2
    await asyncio.sleep(0.6)
    assert monitor.lag < 0.1
    await monitor.stop()


async def test_the_memory_limiter_forgets_people_whose_window_has_passed() -> None:
    """Keys whose hits have all expired are swept, so a year of distinct users does not grow memory."""
    now = [1_000.0]
    limiter = MemoryRateLimiter("2/minute", clock=lambda: now[0], sweep_every=10)
    for user in range(9):
        assert (await limiter.hit(f"T1:U{user}")).allowed
    assert len(limiter) == 9
    now[0] += 61
    assert (await limiter.hit("T1:U-late")).allowed  # the tenth hit sweeps the nine expired keys
    assert len(limiter) == 1
    assert (await limiter.hit("T1:U-late")).allowed
    refused = await limiter.hit("T1:U-late")
    assert not refused.allowed
    assert refused.retry_after == 60


async def test_a_running_runbook_step_counts_against_the_process_cap() -> None:
    """While a step holds its place, new tasks are refused at the cap; when it ends, they are taken again."""
    gate = admission(total=2)
    slot = await gate.admit("T:U1")  # the run itself
    with gate.holding():  # one of its steps
        assert gate.in_flight == 2
        with pytest.raises(TooManyTasks):
            await gate.admit("T:U2")
    assert gate.in_flight == 1
    (await gate.admit("T:U2")).release()
    slot.release()
