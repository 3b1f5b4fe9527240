"""The Bedrock circuit breaker: when it opens, what callers are told, how it probes and closes, on a fake clock."""

from __future__ import annotations

import pytest

from agents.errors import (
    LLMAccessDenied,
    LLMCircuitOpen,
    LLMThrottled,
    LLMTransient,
    LLMUnavailable,
)
from agents.health import ModelHealth
from agents.llm import ChatMessage, CircuitBreaker, ModelRequest, RetryingChatModel, RetryPolicy
from agents.metrics import Metrics
from agents.testing import FakeChatModel

REQUEST = ModelRequest(model_id="m", system="s", messages=(ChatMessage("user", "hi"),))
THROTTLED = LLMThrottled("slow down", vendor_code="ThrottlingException")


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fail(breaker: CircuitBreaker, times: int, error: LLMTransient | LLMThrottled = THROTTLED) -> None:
    """Report ``times`` failed calls to ``breaker``."""
    for _ in range(times):
        breaker.attempt(model_id="m", seconds=0.1, error=error)


def test_opens_after_the_threshold_of_failures_in_a_row_and_says_when_it_retries() -> None:
    """Three throttles in a row with threshold 3: the next call is refused at once with the seconds to wait."""
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cool_down=30, clock=clock)
    fail(breaker, 2)
    breaker.admit()  # still closed
    fail(breaker, 1)
    clock.now += 10
    with pytest.raises(LLMCircuitOpen) as refused:
        breaker.admit()
    assert refused.value.retry_after == 20
    assert refused.value.failures == 3
    assert refused.value.last_code == "ThrottlingException"
    assert breaker.state.status == "open"
    assert breaker.state.describe() == (
        "circuit open after 3 failures in a row, last `ThrottlingException`; retrying in 20 s"
    )


def test_any_answer_from_bedrock_resets_the_streak() -> None:
    """A success, or even a refusal such as access denied, proves Bedrock is reachable: the count starts over."""
    breaker = CircuitBreaker(threshold=3, cool_down=30, clock=Clock())
    fail(breaker, 2)
    breaker.attempt(model_id="m", seconds=0.1, error=LLMAccessDenied(model_id="m"))
    fail(breaker, 2)
    breaker.admit()
    assert breaker.state.status == "closed"
    assert breaker.state.failures == 2


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes() -> None:
    """Half-open: the first caller probes, a concurrent one waits for the verdict, success closes the circuit."""
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cool_down=30, clock=clock)
    fail(breaker, 1)
    clock.now += 30
    assert breaker.state.status == "half_open"
    breaker.admit()  # the probe
    clock.now += 2
    with pytest.raises(LLMCircuitOpen) as waiting:
        breaker.admit()
    assert waiting.value.retry_after == 28  # until the probe is presumed lost
    breaker.attempt(model_id="m", seconds=2, error=None)
    breaker.admit()
    assert breaker.state.status == "closed"
    assert breaker.state.opened == 1


def test_a_failed_probe_opens_the_circuit_for_another_cool_down() -> None:
    """The probe fails: open again, with a full cool-down from now."""
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cool_down=30, clock=clock)
    fail(breaker, 1)
    clock.now += 31
    breaker.admit()
    fail(breaker, 1, LLMTransient("503", vendor_code="ServiceUnavailableException"))
    with pytest.raises(LLMCircuitOpen) as refused:
        breaker.admit()
    assert refused.value.retry_after == 30
    assert breaker.state.opened == 2


def test_a_lost_probe_is_replaced_after_a_cool_down() -> None:
    """A probe whose caller vanished (cancelled) does not keep the circuit half-open for ever."""
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cool_down=30, clock=clock)
    fail(breaker, 1)
    clock.now += 30
    breaker.admit()
    clock.now += 30
    breaker.admit()  # a new probe


async def test_the_retry_layer_stops_calling_bedrock_once_the_circuit_opens() -> None:
    """Through RetryingChatModel: a streak across two requests opens the circuit; the third never reaches the model."""
    clock = Clock()
    breaker = CircuitBreaker(threshold=4, cool_down=30, clock=clock)
    model = FakeChatModel()
    model.enqueue(*[THROTTLED] * 4)

    async def no_sleep(_: float) -> None:
        return

    retrying = RetryingChatModel(
        model, RetryPolicy(max_attempts=2, sleep=no_sleep, clock=clock, rand=lambda: 0.0, breaker=breaker)
    )
    for _ in range(2):
        with pytest.raises(LLMUnavailable):
            await retrying.converse(REQUEST)
    with pytest.raises(LLMCircuitOpen):
        await retrying.converse(REQUEST)
    with pytest.raises(LLMCircuitOpen):
        async for _ in retrying.stream(REQUEST):
            pass
    assert len(model.requests) == 4


async def test_health_reports_the_open_circuit_without_probing_and_metrics_export_it() -> None:
    """/orch-health and the App Home read the breaker: open is unhealthy, no probe is sent; the gauge says 2."""
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cool_down=30, clock=clock)
    model = FakeChatModel()
    health = ModelHealth(model, model_id="m", breaker=breaker, clock=clock)
    metrics = Metrics()
    metrics.track_breaker(lambda: breaker.state)
    fail(breaker, 1)
    check = await health.check()
    assert check.status == "unhealthy"
    assert "circuit open after 1 failure in a row" in check.detail
    assert health.snapshot() == check
    assert model.requests == []
    assert b"orch_bedrock_breaker_state 2.0" in metrics.render()
    clock.now += 30
    assert (await health.check()).status == "degraded"
    assert b"orch_bedrock_breaker_state 1.0" in metrics.render()
