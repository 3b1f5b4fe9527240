"""The one retry layer for model calls: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest

from agents.errors import (
    LLMAccessDenied,
    LLMModelNotFound,
    LLMRequestRejected,
    LLMThrottled,
    LLMTransient,
    LLMUnavailable,
)
from agents.llm import (
    ChatMessage,
    ModelReply,
    ModelRequest,
    ReplyComplete,
    RetryingChatModel,
    RetryPolicy,
    TextDelta,
)
from agents.testing import FakeChatModel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agents.llm import StreamEvent

REQUEST = ModelRequest(model_id="m", system="s", messages=(ChatMessage("user", "hi"),))


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(time: FakeTime, **overrides: object) -> RetryPolicy:
    """A policy on ``time``'s clock with a jitter draw of 1.0 unless overridden."""
    options: dict[str, object] = {
        "max_attempts": 4,
        "base_delay": 0.5,
        "max_delay": 8.0,
        "deadline": 90.0,
        "sleep": time.sleep,
        "clock": time.clock,
        "rand": lambda: 1.0,
    }
    options.update(overrides)
    return RetryPolicy(**options)  # type: ignore[arg-type]


async def test_throttling_is_retried_with_exponential_waits_then_answered() -> None:
    """Two throttles, then an answer: waits are base * 2**n scaled by the jitter draw (here the maximum)."""
    time = FakeTime()
    model = FakeChatModel()
    model.enqueue(LLMThrottled("slow down"), LLMTransient("503"), "fine")
    reply = await RetryingChatModel(model, policy(time)).converse(REQUEST)
    assert reply.text == "fine"
    assert reply.attempts == 3
    assert time.sleeps == [0.5, 1.0]


async def test_full_jitter_scales_each_wait_by_a_uniform_draw() -> None:
    """Full jitter: each wait is draw * min(cap, base * 2**(attempt-1)), so a draw of 0.25 quarters it."""
    time = FakeTime()
    model = FakeChatModel()
    model.enqueue(LLMThrottled("t"), LLMThrottled("t"), LLMThrottled("t"), "ok")
    await RetryingChatModel(model, policy(time, rand=lambda: 0.25)).converse(REQUEST)
    assert time.sleeps == [0.125, 0.25, 0.5]


async def test_waits_are_capped() -> None:
    """No single wait exceeds max_delay, however many attempts."""
    time = FakeTime()
    model = FakeChatModel()
    model.enqueue(*[LLMThrottled("t")] * 5, "ok")
    await RetryingChatModel(model, policy(time, max_attempts=6, base_delay=1.0, max_delay=3.0)).converse(REQUEST)
    assert time.sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]


async def test_gives_up_after_max_attempts_with_the_count() -> None:
    """Retryable failures that never stop end in LLMUnavailable saying how many attempts were made."""
    time = FakeTime()
    model = FakeChatModel()
    model.enqueue(*[LLMThrottled("t")] * 10)
    with pytest.raises(LLMUnavailable) as caught:
        await RetryingChatModel(model, policy(time, max_attempts=3)).converse(REQUEST)
    assert caught.value.attempts == 3
    assert caught.value.throttled
    assert len(model.requests) == 3
    assert time.sleeps == [0.5, 1.0]


async def test_stops_before_a_wait_that_would_overrun_the_deadline() -> None:
    """With 2 s left, a 4 s wait is not taken: the call fails now instead of sleeping past its deadline."""
    time = FakeTime()
    model = FakeChatModel()
    model.enqueue(*[LLMTransient("503")] * 10)
    with pytest.raises(LLMUnavailable) as caught:
        await RetryingChatModel(model, policy(time, base_delay=2.0, deadline=5.0, max_attempts=10)).converse(REQUEST)
    assert time.sleeps == [2.0]
    assert caught.value.attempts == 2


@pytest.mark.parametrize(
    "error",
    [LLMAccessDenied(model_id="m"), LLMModelNotFound(model_id="m"), LLMRequestRejected("bad")],
    ids=["access-denied", "unknown-model", "validation"],
)
async def test_permanent_failures_are_not_retried(error: Exception) -> None:
    """Access denied, unknown model and validation errors surface at once, after one call and no wait."""
    time = FakeTime()
    model = FakeChatModel()
    model.enqueue(error)  # type: ignore[arg-type]
    with pytest.raises(type(error)):
        await RetryingChatModel(model, policy(time)).converse(REQUEST)
    assert len(model.requests) == 1
    assert time.sleeps == []


class SlowStream:
    """A model that streams ``first`` at once, then waits ``gap`` seconds before each further delta."""

    def __init__(self, *, gap: float, deltas: int = 3) -> None:
        self.gap = gap
        self.deltas = deltas
        self.closed = False

    async def converse(self, request: ModelRequest) -> ModelReply:
        raise NotImplementedError

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        try:
            yield TextDelta("first ")
            for _ in range(self.deltas - 1):
                await asyncio.sleep(self.gap)
                yield TextDelta("more ")
            yield ReplyComplete(ModelReply(text="done", model_id=request.model_id))
        finally:
            self.closed = True


def stream_policy(deadline: float) -> RetryPolicy:
    """One attempt, real clock, ``deadline`` seconds for the whole stream."""
    return RetryPolicy(max_attempts=1, deadline=deadline)


async def test_a_stream_stalled_past_its_deadline_ends_unavailable() -> None:
    """A model that stops sending is cut off at the deadline, not left waiting forever."""
    model = SlowStream(gap=30)
    seen: list[StreamEvent] = []

    async def consume() -> None:
        async for event in RetryingChatModel(model, stream_policy(0.2)).stream(REQUEST):
            seen.append(event)  # noqa: PERF401 - each as it arrives: the stream fails before its end

    started = time.monotonic()
    with pytest.raises(LLMUnavailable) as failure:
        await consume()
    assert 0.15 < time.monotonic() - started < 2
    assert [type(e) for e in seen] == [TextDelta]
    assert failure.value.last is not None
    assert failure.value.last.vendor_code == "Deadline"
    assert model.closed


async def test_the_deadline_never_interrupts_the_consumer_between_events() -> None:
    """Time spent by the consumer is not cut short; once past the deadline, the next wait fails at once."""
    model = SlowStream(gap=0)
    consumer_slept = False

    async def consume() -> None:
        nonlocal consumer_slept
        async for event in RetryingChatModel(model, stream_policy(0.1)).stream(REQUEST):
            if isinstance(event, TextDelta) and not consumer_slept:
                await asyncio.sleep(0.3)  # the deadline passes here: this sleep must finish
                consumer_slept = True

    with pytest.raises(LLMUnavailable):
        await consume()
    assert consumer_slept


async def test_a_stream_within_its_deadline_is_passed_on_whole() -> None:
    """Many quick events under the deadline all arrive, then the complete reply."""
    model = SlowStream(gap=0.001, deltas=50)
    events = [e async for e in RetryingChatModel(model, stream_policy(5)).stream(REQUEST)]
    assert len(events) == 51
    assert isinstance(events[-1], ReplyComplete)


async def test_cancelling_the_consumer_while_it_waits_on_the_model_is_a_cancellation() -> None:
    """Someone else's cancel during a wait is passed on as CancelledError, not mistaken for the deadline."""
    model = SlowStream(gap=30)
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in RetryingChatModel(model, stream_policy(10)).stream(REQUEST):
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert model.closed
