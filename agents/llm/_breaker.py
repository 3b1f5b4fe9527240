"""A circuit breaker for Bedrock, shared by every task of this process.

Why it exists: one retry layer per call is right for a blip, wrong for an outage. When Bedrock throttles
or is down for minutes, each new task would retry for up to the deadline (90 s by default) while hundreds
pile up behind it and keep the quota exhausted. After ``threshold`` retryable failures in a row (any
task, any model), the breaker opens: calls fail at once with :class:`LLMCircuitOpen`, saying when the
next try is. After ``cool_down`` seconds it is half-open: one call goes through as a probe; its success
closes the breaker, its failure opens it again for another cool-down. Any answer from Bedrock, even a
refusal (access denied, invalid request), proves it is reachable and resets the streak.

The state is per process (each replica learns on its own, from its own calls); see the README.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from agents.errors import LLMCircuitOpen, LLMRetryable

if TYPE_CHECKING:
    from collections.abc import Callable

    from agents.errors import LLMError

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerStatus = Literal["closed", "open", "half_open"]
_LEVEL: dict[BreakerStatus, int] = {"closed": 0, "half_open": 1, "open": 2}


@dataclass(frozen=True, slots=True)
class BreakerState:
    """What the breaker is doing: ``retry_in`` seconds until the next probe (0 unless open)."""

    status: BreakerStatus
    failures: int
    retry_in: float
    last_code: str
    opened: int

    @property
    def level(self) -> int:
        """0 closed, 1 half-open, 2 open (for a gauge)."""
        return _LEVEL[self.status]

    def describe(self) -> str:
        """One line for people: ``/orch-health``, the App Home, ``/readyz``."""
        streak = f"{self.failures} failure{'s' if self.failures != 1 else ''} in a row"
        if self.status == "closed":
            return "circuit closed" + (f" ({streak})" if self.failures else "")
        if self.status == "half_open":
            return f"circuit half-open: probing Bedrock after {streak}"
        last = f", last `{self.last_code}`" if self.last_code else ""
        return f"circuit open after {streak}{last}; retrying in {self.retry_in:.0f} s"


class CircuitBreaker:
    """Closed → open after ``threshold`` retryable failures in a row → half-open after ``cool_down`` seconds.

    :meth:`admit` is called before every model call and raises :class:`LLMCircuitOpen` while calls are
    paused; :meth:`attempt` (the retry layer's observer hook) hears how each call ended. ``clock`` is
    injected so tests can step through the states exactly.
    """

    def __init__(
        self, *, threshold: int = 8, cool_down: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if threshold < 1 or cool_down <= 0:
            raise ValueError("threshold must be at least 1 and cool_down positive")
        self._threshold = threshold
        self._cool_down = cool_down
        self._clock = clock
        self._failures = 0
        self._last_code = ""
        self._opened_at: float | None = None
        self._probe_since: float | None = None
        self._opened = 0

    @property
    def state(self) -> BreakerState:
        """The current state (half-open once the cool-down has passed)."""
        retry_in = 0.0
        status: BreakerStatus = "closed"
        if self._opened_at is not None:
            retry_in = max(0.0, self._opened_at + self._cool_down - self._clock())
            status = "open" if retry_in > 0 else "half_open"
        return BreakerState(status, self._failures, retry_in, self._last_code, self._opened)

    def admit(self) -> None:
        """Let a call through, or raise :class:`LLMCircuitOpen` with the seconds until the next try."""
        if self._opened_at is None:
            return
        now = self._clock()
        remaining = self._opened_at + self._cool_down - now
        if remaining <= 0 and (self._probe_since is None or now - self._probe_since >= self._cool_down):
            self._probe_since = now  # this call is the probe (a lost probe is replaced after a cool-down)
            return
        if remaining <= 0 and self._probe_since is not None:
            remaining = self._probe_since + self._cool_down - now  # a probe is out: wait for its verdict
        raise LLMCircuitOpen(retry_after=remaining, failures=self._failures, last_code=self._last_code)

    def attempt(self, *, model_id: str, seconds: float, error: LLMError | None) -> None:  # noqa: ARG002
        """Hear how one call ended: retryable failures count, anything Bedrock answered resets."""
        if not isinstance(error, LLMRetryable):
            self._failures = 0
            self._opened_at = None
            self._probe_since = None
            return
        self._failures += 1
        self._last_code = error.vendor_code or error.code
        probing = self._opened_at is not None and self._probe_since is not None
        if probing or (self._opened_at is None and self._failures >= self._threshold):
            self._opened_at = self._clock()
            self._probe_since = None
            self._opened += 1

    def retry(self, *, model_id: str) -> None:
        """Retries say nothing the attempts did not already."""
