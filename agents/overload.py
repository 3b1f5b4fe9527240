"""Noticing that this process is overloaded, so it can turn work away while it can still answer in time.

One event loop serves Slack's acks and runs every task. When tasks arrive faster than the loop can run them,
everything waits behind them, acks included, and Slack gives up on an ack after 3 seconds. The loop's lag
(how late a short timer fires) measures that directly; admission refuses new tasks while it is high.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["LoopLag"]


class LoopLag:
    """Measures how late the event loop runs a timer, a few times a second."""

    def __init__(self, *, interval: float = 0.1) -> None:
        self._interval = interval
        self.lag = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin measuring on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._measure(), name="loop-lag")

    async def stop(self) -> None:
        """Stop measuring."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self._interval)
            late = loop.time() - started - self._interval
            # Rise at once, fall gradually: one quick timer amid a backlog does not mean the backlog is gone.
            self.lag = late if late > self.lag else 0.7 * self.lag + 0.3 * late
