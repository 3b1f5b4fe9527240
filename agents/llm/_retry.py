"""The one retry layer for model calls: exponential backoff with full jitter, bounded and with a deadline.

Only :class:`agents.errors.LLMRetryable` failures are retried; access, validation and unknown-model errors
pass straight through. A stream is retried even after some of its text was passed on (Bedrock's
``modelStreamErrorException`` says "Retry your request"): the retry is announced with
:class:`StreamRestart` so the consumer replaces the partial text. With a :class:`CircuitBreaker` in the
policy, every attempt asks it first. Sleep, randomness and the clock are parameters so tests can assert
exact waits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, Self, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base

from agents.errors import LLMError, LLMRetryable, LLMTransient, LLMUnavailable
from agents.llm._base import ReplyComplete, StreamRestart

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from agents.llm._base import ChatModel, ModelReply, ModelRequest, StreamEvent
    from agents.llm._breaker import CircuitBreaker

T = TypeVar("T")


class AttemptObserver(Protocol):
    """Told about every attempt and retry (for health and metrics)."""

    def attempt(self, *, model_id: str, seconds: float, error: LLMError | None) -> None:
        """Record one call to the model: how long it took and how it failed, if it did."""

    def retry(self, *, model_id: str) -> None:
        """Record that a failed call will be tried again after a backoff."""


@dataclass(frozen=True, slots=True)
class FullJitter:
    """AWS's "full jitter": sleep uniform(0, min(cap, base * 2**(attempt-1))) seconds."""

    base: float
    cap: float
    rand: Callable[[], float] = random.random

    def __call__(self, state: RetryCallState) -> float:
        return self.after(state.attempt_number)

    def after(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return float(self.rand() * ceiling)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: at most ``max_attempts`` calls, all within ``deadline`` seconds.

    ``breaker``, when set, is asked before every attempt and told how each one ended.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    deadline: float = 90.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rand: Callable[[], float] = random.random
    clock: Callable[[], float] = time.monotonic
    observers: tuple[AttemptObserver, ...] = field(default=())
    breaker: CircuitBreaker | None = None


def _deadline_passed(attempts: int, deadline: float) -> LLMUnavailable:
    last = LLMTransient(f"no answer within {deadline:.0f}s", vendor_code="Deadline")
    return LLMUnavailable(attempts=attempts, last=last)


def _counted(event: StreamEvent, attempts: int) -> StreamEvent:
    if isinstance(event, ReplyComplete):
        return ReplyComplete(dataclasses.replace(event.reply, attempts=attempts))
    return event


class _BeforeDeadline(stop_base):
    """Stop when the next sleep would end past the deadline: no point waking up to be out of time."""

    def __init__(self, started: float, policy: RetryPolicy) -> None:
        self._started = started
        self._policy = policy

    def __call__(self, retry_state: RetryCallState) -> bool:
        upcoming = retry_state.upcoming_sleep or 0.0
        return self._policy.clock() - self._started + upcoming >= self._policy.deadline


class _WaitDeadline:
    """A deadline that only interrupts waits on the model, never the consumer's code between them.

    Like an ``asyncio.timeout_at`` around each wait, with one timer for the whole stream instead of one per
    event. When the deadline passes during a wait, the wait is cancelled and :meth:`next` raises
    ``TimeoutError``; when it passes while the consumer has the event, the next :meth:`next` raises it at once.
    A cancellation from anyone else passes through as it is.
    """

    def __init__(self, when: float) -> None:
        self._when = when
        self._task: asyncio.Task[object] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._waiting = False
        self._expired = False
        self._cancelled_by_us = False

    def __enter__(self) -> Self:
        self._task = asyncio.current_task()
        self._timer = asyncio.get_running_loop().call_at(self._when, self._expire)
        return self

    def __exit__(self, *_: object) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _expire(self) -> None:
        self._expired = True
        if self._waiting and self._task is not None:
            self._cancelled_by_us = self._task.cancel()

    async def next(self, events: AsyncIterator[T]) -> T | None:
        """The next event (``None`` at the end) unless the deadline passes first: then ``TimeoutError``."""
        if self._expired:
            raise TimeoutError
        self._waiting = True
        try:
            return await anext(events, None)
        except asyncio.CancelledError:
            if self._cancelled_by_us and self._task is not None and self._task.uncancel() == 0:
                self._cancelled_by_us = False
                raise TimeoutError from None
            raise
        finally:
            self._waiting = False


class RetryingChatModel:
    """Wraps a :class:`ChatModel` with :class:`RetryPolicy`. Raises LLMUnavailable when retries run out."""

    def __init__(self, inner: ChatModel, policy: RetryPolicy) -> None:
        self._inner = inner
        self._policy = policy

    def _retrying(self, model_id: str) -> AsyncRetrying:
        policy = self._policy

        def before_sleep(_: RetryCallState) -> None:
            for observer in policy.observers:
                observer.retry(model_id=model_id)

        return AsyncRetrying(
            retry=retry_if_exception_type(LLMRetryable),
            stop=stop_after_attempt(policy.max_attempts) | _BeforeDeadline(policy.clock(), policy),
            wait=FullJitter(policy.base_delay, policy.max_delay, policy.rand),
            sleep=policy.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

    async def converse(self, request: ModelRequest) -> ModelReply:
        """Call the inner model, retrying retryable failures with backoff until the budget is spent."""
        policy = self._policy
        attempts = 0
        try:
            async with asyncio.timeout(policy.deadline):
                async for attempt in self._retrying(request.model_id):
                    with attempt:
                        attempts += 1
                        reply = await self._attempt(request)
        except LLMRetryable as exc:
            raise LLMUnavailable(attempts=attempts, last=exc) from exc
        except TimeoutError as exc:
            raise _deadline_passed(attempts, policy.deadline) from exc
        return dataclasses.replace(reply, attempts=attempts)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Stream the inner model's reply, retrying retryable failures until the budget is spent.

        A failure before anything was passed on is retried unseen. After text has been passed on, a retry
        would repeat it, so it is announced first with :class:`StreamRestart`: the consumer drops what it
        got and the retried reply follows. The deadline covers the whole stream, waits included.
        """
        policy = self._policy
        started = policy.clock()
        deadline = asyncio.get_running_loop().time() + policy.deadline
        jitter = FullJitter(policy.base_delay, policy.max_delay, policy.rand)
        attempts = 0
        while True:
            attempts += 1
            passed_on = False
            try:
                self._admit()
                with _WaitDeadline(deadline) as wait:
                    events = self._observed(request)
                    while (event := await wait.next(events)) is not None:
                        passed_on = True
                        yield _counted(event, attempts)
            except LLMRetryable as exc:
                pause = jitter.after(attempts)
                if attempts >= policy.max_attempts or policy.clock() - started + pause >= policy.deadline:
                    raise LLMUnavailable(attempts=attempts, last=exc) from exc
                for observer in policy.observers:
                    observer.retry(model_id=request.model_id)
                if passed_on:
                    yield StreamRestart(exc.vendor_code)
                try:
                    async with asyncio.timeout_at(deadline):
                        await policy.sleep(pause)
                except TimeoutError as late:
                    raise _deadline_passed(attempts, policy.deadline) from late
            except TimeoutError as exc:
                raise _deadline_passed(attempts, policy.deadline) from exc
            else:
                return

    def _admit(self) -> None:
        if self._policy.breaker is not None:
            self._policy.breaker.admit()

    async def _observed(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        t0 = time.perf_counter()
        try:
            async for event in self._inner.stream(request):
                yield event
        except LLMError as exc:
            self._notify(request.model_id, time.perf_counter() - t0, exc)
            raise
        self._notify(request.model_id, time.perf_counter() - t0, None)

    def _notify(self, model_id: str, seconds: float, error: LLMError | None) -> None:
        if self._policy.breaker is not None:
            self._policy.breaker.attempt(model_id=model_id, seconds=seconds, error=error)
        for observer in self._policy.observers:
            observer.attempt(model_id=model_id, seconds=seconds, error=error)

    async def _attempt(self, request: ModelRequest) -> ModelReply:
        self._admit()
        t0 = time.perf_counter()
        try:
            reply = await self._inner.converse(request)
        except LLMError as exc:
            self._notify(request.model_id, time.perf_counter() - t0, exc)
            raise
        self._notify(request.model_id, time.perf_counter() - t0, None)
        return reply
