"""How the bot itself is doing, cheaply.

The model's health is mostly learned passively from real calls (:class:`ModelHealth` observes every
attempt). When nothing has been asked recently it is confirmed with one tiny probe, cached, so
``/orch-health`` is fast, costs nearly nothing, and works when Bedrock is down. While the circuit
breaker has paused calls to Bedrock, the report says so and no probe is sent. The task store is
pinged (:class:`StoreHealth`, short timeout, cached for a second): it is cheap, and while it is down no
task can be accepted, so ``/readyz`` turns 503.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from agents.errors import LLMError, LLMThrottled, StoreUnavailable
from agents.llm import ChatMessage, ModelRequest

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agents.llm import ChatModel, CircuitBreaker

__all__ = ["Check", "ModelHealth", "Status", "StoreHealth", "overall"]

Status = Literal["healthy", "degraded", "unhealthy"]
_RANK: dict[Status, int] = {"healthy": 0, "degraded": 1, "unhealthy": 2}


@dataclass(frozen=True, slots=True)
class Check:
    """One line of a health report."""

    name: str
    status: Status
    detail: str


def overall(checks: list[Check]) -> Status:
    """The worst status among ``checks``."""
    return max((check.status for check in checks), key=_RANK.__getitem__, default="healthy")


@dataclass(slots=True)
class _Failure:
    code: str
    at: float


class ModelHealth:
    """Observes model attempts; probes the model only when it has not been used for ``fresh_for`` seconds."""

    def __init__(
        self,
        model: ChatModel,
        *,
        model_id: str,
        fresh_for: float = 120.0,
        probe_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.breaker = breaker
        self._model = model
        self._model_id = model_id
        self._fresh_for = fresh_for
        self._probe_timeout = probe_timeout
        self._clock = clock
        self._latencies: deque[float] = deque(maxlen=50)
        self._last_ok: float | None = None
        self._last_failure: _Failure | None = None
        self._last_outcome_ok: bool | None = None
        self._probe_lock = asyncio.Lock()

    def attempt(self, *, model_id: str, seconds: float, error: LLMError | None) -> None:  # noqa: ARG002
        """Record one real call (the retry layer calls this for every attempt)."""
        now = self._clock()
        if error is None:
            self._latencies.append(seconds)
            self._last_ok = now
            self._last_outcome_ok = True
        else:
            self._last_failure = _Failure(code=error.code, at=now)
            self._last_outcome_ok = False

    def retry(self, *, model_id: str) -> None:
        """Retries say nothing the attempts did not already."""

    async def check(self) -> Check:
        """The model's status: probe it first if nothing recent is known (and the breaker lets calls out)."""
        paused = self._paused()
        if paused is not None:
            return paused
        if not self._recently_known():
            async with self._probe_lock:
                if not self._recently_known():
                    await self._probe()
        return self._summarise()

    def snapshot(self) -> Check:
        """What is known now, without probing (for views that must not cost a model call)."""
        paused = self._paused()
        if paused is not None:
            return paused
        if self._last_ok is None and self._last_failure is None:
            return Check("Bedrock", "healthy", f"`{self._model_id}`: not used yet{self._circuit()}")
        return self._summarise()

    def _paused(self) -> Check | None:
        """The breaker's verdict while it is not closed: open is unhealthy, half-open (probing) degraded."""
        if self.breaker is None:
            return None
        state = self.breaker.state
        if state.status == "closed":
            return None
        detail = f"`{self._model_id}`: {state.describe()}"
        return Check("Bedrock", "unhealthy" if state.status == "open" else "degraded", detail)

    def _circuit(self) -> str:
        return f"; {self.breaker.state.describe()}" if self.breaker is not None else ""

    def _recently_known(self) -> bool:
        now = self._clock()
        last = max(self._last_ok or float("-inf"), self._last_failure.at if self._last_failure else float("-inf"))
        return now - last < self._fresh_for

    async def _probe(self) -> None:
        request = ModelRequest(
            model_id=self._model_id,
            system="Health check. Reply with the single word ok.",
            messages=(ChatMessage("user", "ping"),),
            max_tokens=5,
            temperature=0.0,
        )
        started = self._clock()
        try:
            async with asyncio.timeout(self._probe_timeout):
                await self._model.converse(request)
        except LLMError as exc:
            self.attempt(model_id=self._model_id, seconds=self._clock() - started, error=exc)
        except TimeoutError:
            self._last_failure = _Failure(code="probe_timeout", at=self._clock())
            self._last_outcome_ok = False
        else:
            self.attempt(model_id=self._model_id, seconds=self._clock() - started, error=None)

    def _summarise(self) -> Check:
        latency = (
            f"p50 {statistics.median(self._latencies) * 1000:.0f} ms over {len(self._latencies)} calls"
            if self._latencies
            else "no successful calls yet"
        )
        failure = self._last_failure
        last_error = f"last error {failure.code} {self._clock() - failure.at:.0f}s ago" if failure else "no errors"
        detail = f"`{self._model_id}`: {latency}; {last_error}{self._circuit()}"
        if self._last_outcome_ok:
            recent_error = failure is not None and self._clock() - failure.at < self._fresh_for
            return Check("Bedrock", "degraded" if recent_error else "healthy", detail)
        if failure is not None and failure.code == LLMThrottled.code:
            return Check("Bedrock", "degraded", detail + " (reachable, but throttling)")
        return Check("Bedrock", "unhealthy", detail)


class StoreHealth:
    """Pings the task store (``ping``) within ``timeout`` seconds; the result is kept for ``ttl`` seconds.

    ``ping`` raises :class:`StoreUnavailable` when the store cannot be reached; ``None`` means the tasks
    live in this process's memory (nothing to reach). The check says the store's state and latency, and
    for how long it has been unreachable.
    """

    def __init__(
        self,
        ping: Callable[[], Awaitable[None]] | None,
        *,
        name: str,
        timeout: float = 1.0,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ping = ping
        self._name = name
        self._timeout = timeout
        self._ttl = ttl
        self._clock = clock
        self._cached: tuple[float, Check] | None = None
        self._down_since: float | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> Check:
        """The store's status now (at most ``ttl`` seconds old)."""
        async with self._lock:
            now = self._clock()
            if self._cached is not None and now - self._cached[0] < self._ttl:
                return self._cached[1]
            check = await self._probe()
            self._cached = (self._clock(), check)
            return check

    async def _probe(self) -> Check:
        if self._ping is None:
            return Check("Store", "healthy", f"{self._name} (this process only)")
        started = self._clock()
        try:
            async with asyncio.timeout(self._timeout):
                await self._ping()
        except StoreUnavailable as exc:
            return self._down(started, exc.reason)
        except TimeoutError:
            return self._down(started, f"no answer within {self._timeout:g}s")
        self._down_since = None
        return Check("Store", "healthy", f"{self._name}: {(self._clock() - started) * 1000:.1f} ms")

    def _down(self, now: float, reason: str) -> Check:
        if self._down_since is None:
            self._down_since = now
        down = now - self._down_since
        return Check(
            "Store",
            "unhealthy",
            f"{self._name} unreachable ({reason}) for {down:.0f}s: new tasks cannot be recorded",
        )
