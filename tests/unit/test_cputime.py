"""CpuClock counts the CPU of one coroutine's own steps, not of what runs while it waits."""

from __future__ import annotations

import asyncio
import time

import pytest

from agents.cputime import CpuClock


def spin(seconds: float) -> None:
    """Burn ``seconds`` of this thread's CPU."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def busy_then_idle(spin_seconds: float, steps: int) -> str:
    """Spin in each of ``steps`` steps, yielding to the loop between them."""
    for _ in range(steps):
        spin(spin_seconds)
        await asyncio.sleep(0)
    return "done"


async def test_counts_the_cpu_of_every_step_and_returns_the_result() -> None:
    """Three busy steps of 10 ms each are all counted; the result comes back."""
    clock = CpuClock()
    assert await clock.run(busy_then_idle(0.01, 3)) == "done"
    assert 0.03 <= clock.seconds < 0.2


async def test_does_not_count_what_other_tasks_burn_while_it_waits() -> None:
    """A neighbour spinning 100 ms while the clocked coroutine sleeps is not counted."""
    clock = CpuClock()

    async def neighbour() -> None:
        await asyncio.sleep(0.01)
        spin(0.1)

    other = asyncio.create_task(neighbour())
    await clock.run(asyncio.sleep(0.2))
    await other
    assert clock.seconds < 0.02


async def test_exceptions_and_cancellation_reach_the_inner_coroutine() -> None:
    """A raised error comes out as it is; a cancellation reaches the inner coroutine's cleanup."""
    clock = CpuClock()

    async def fails() -> None:
        await asyncio.sleep(0)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await clock.run(fails())

    cleaned = asyncio.Event()

    async def waits() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.set()

    task = asyncio.create_task(clock.run(waits()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned.is_set()


async def test_a_caught_cancellation_lets_the_inner_coroutine_finish() -> None:
    """An inner coroutine that absorbs a cancellation still returns its value through the clock."""
    clock = CpuClock()

    async def shrugs() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0)
            return "finished anyway"
        return "slept"

    task = asyncio.create_task(clock.run(shrugs()))
    await asyncio.sleep(0.01)
    task.cancel()
    assert await task == "finished anyway"
