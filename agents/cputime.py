"""The CPU time one coroutine spends on the event loop's thread, counted step by step.

An event loop runs many tasks on one thread, so the process's CPU clock cannot say which of them used it.
A coroutine does run in steps, though: from one resumption to its next suspension nothing else runs on
the thread. :class:`CpuClock` wraps an awaitable, reads the thread's CPU clock around each step, and adds
the difference up. What the loop does outside the coroutine's steps (socket callbacks, other tasks) is not
counted, so the figure is a lower bound of the work done on its behalf.

orch uses it to measure what the Bedrock client costs (signing, serialising, event-stream decoding), so the
bot's CPU per task can be told apart from the model client's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

if TYPE_CHECKING:
    from collections.abc import Awaitable, Generator

__all__ = ["CpuClock"]

T = TypeVar("T")


class CpuClock:
    """Adds up the thread CPU seconds of the awaitables passed to :meth:`run`."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds = 0.0

    async def run(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable``, counting the CPU of its steps into :attr:`seconds`."""
        return await _Stepped(awaitable, self)


class _Stepped(Generic[T]):
    __slots__ = ("_awaitable", "_clock")

    def __init__(self, awaitable: Awaitable[T], clock: CpuClock) -> None:
        self._awaitable = awaitable
        self._clock = clock

    def __await__(self) -> Generator[Any, Any, T]:
        inner = self._awaitable.__await__()
        now = time.thread_time
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                started = now()
                try:
                    yielded = inner.send(sent) if thrown is None else inner.throw(thrown)
                except StopIteration as done:
                    return cast("T", done.value)
                finally:
                    self._clock.seconds += now() - started
                sent, thrown = None, None
                try:
                    sent = yield yielded
                except GeneratorExit:
                    raise
                except BaseException as exc:  # noqa: BLE001 - cancellation and the like go to the inner awaitable
                    thrown = exc
        finally:
            inner.close()
