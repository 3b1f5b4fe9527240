"""Prometheus metrics: what operators scrape to see the bot working.

One :class:`Metrics` object owns a registry (so tests and several apps in one process do not collide).
It observes the model through the retry layer's observer hooks, tasks through :class:`MetricsSink`
wrapped around every delivery, and admission refusals where they happen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from agents.errors import LLMThrottled
from agents.events import TaskFailed, TaskSucceeded

if TYPE_CHECKING:
    from collections.abc import Callable

    from agents.errors import LLMError
    from agents.events import EventSink, TaskEvent
    from agents.llm import BreakerState

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "MetricsSink"]

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SLOW = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class Metrics:
    """Every instrument orch-bot exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.tasks = Counter("orch_tasks", "Tasks finished, by agent and outcome.", ["agent", "outcome"], registry=r)
        self.task_seconds = Histogram(
            "orch_task_duration_seconds",
            "Task duration, routing to final answer.",
            ["agent"],
            buckets=_SLOW,
            registry=r,
        )
        self.ack_seconds = Histogram(
            "orch_ack_latency_seconds", "Time to acknowledge a Slack request.", ["kind"], buckets=_FAST, registry=r
        )
        self.bedrock_calls = Counter(
            "orch_bedrock_calls", "Bedrock calls, by model and outcome.", ["model", "outcome"], registry=r
        )
        self.bedrock_seconds = Histogram(
            "orch_bedrock_latency_seconds", "Bedrock call latency.", ["model"], buckets=_SLOW, registry=r
        )
        self.bedrock_client_cpu = Counter(
            "orch_bedrock_client_cpu_seconds",
            "CPU the Bedrock client spent on calls (signing, serialising, decoding), by model.",
            ["model"],
            registry=r,
        )
        self.bedrock_retries = Counter("orch_bedrock_retries", "Bedrock calls retried.", ["model"], registry=r)
        self.bedrock_throttles = Counter("orch_bedrock_throttles", "Bedrock throttling errors.", ["model"], registry=r)
        self.bedrock_tokens = Counter(
            "orch_bedrock_tokens",
            "Tokens used, by model and direction: input (all prompt tokens), output, and the parts of input "
            "read from (cache_read) or written to (cache_write) the prompt cache.",
            ["model", "direction"],
            registry=r,
        )
        self.refused = Counter(
            "orch_admission_refused", "Tasks refused before running, by reason.", ["reason"], registry=r
        )
        self.budget_refusals = Counter(
            "orch_tokens_budget_refusals",
            "Tasks stopped by a daily token budget, by budget (user, channel, workspace) and stage (submit, call).",
            ["budget", "stage"],
            registry=r,
        )
        self.rejected_requests = Counter(
            "orch_slack_requests_rejected",
            "HTTP requests refused before acting: failed verification (401) or unreadable when verified (400).",
            ["reason"],
            registry=r,
        )
        self.slack_errors = Counter(
            "orch_slack_api_errors", "Slack Web API errors, by method and error.", ["method", "error"], registry=r
        )
        self.bedrock_breaker_state = Gauge(
            "orch_bedrock_breaker_state",
            "Bedrock circuit breaker in this process: 0 closed, 1 half-open (probing), 2 open (calls paused).",
            registry=r,
        )
        self.bedrock_breaker_failures = Gauge(
            "orch_bedrock_breaker_failures", "Retryable Bedrock failures in a row, across tasks.", registry=r
        )
        self.bedrock_breaker_opened = Gauge(
            "orch_bedrock_breaker_opened", "Times the Bedrock circuit breaker opened since start.", registry=r
        )
        self.feedback = Counter(
            "orch_feedback",
            "Ratings of answers kept, by agent, model and rating (up or down); a person changing their mind "
            "counts again, so the App Home's counts (the latest rating of each person) are the ones to read.",
            ["agent", "model", "rating"],
            registry=r,
        )
        self.in_flight = Gauge("orch_tasks_in_flight", "Tasks admitted and not yet finished.", registry=r)
        self.queue_depth = Gauge(
            "orch_queue_depth", "Tasks in the shared queue not yet finished by any replica (Redis mode).", registry=r
        )

    def track_breaker(self, read: Callable[[], BreakerState]) -> None:
        """Report the Bedrock circuit breaker read through ``read()`` at scrape time."""
        self.bedrock_breaker_state.set_function(lambda: read().level)
        self.bedrock_breaker_failures.set_function(lambda: read().failures)
        self.bedrock_breaker_opened.set_function(lambda: read().opened)

    def track_in_flight(self, read: Callable[[], float]) -> None:
        """Report ``read()`` as the in-flight gauge at scrape time."""
        self.in_flight.set_function(read)

    def attempt(self, *, model_id: str, seconds: float, error: LLMError | None) -> None:
        """Record one model call (the retry layer's observer hook)."""
        self.bedrock_seconds.labels(model_id).observe(seconds)
        self.bedrock_calls.labels(model_id, "ok" if error is None else error.code).inc()
        if isinstance(error, LLMThrottled):
            self.bedrock_throttles.labels(model_id).inc()

    def bedrock_client_cpu_spent(self, model_id: str, seconds: float) -> None:
        """Record the CPU the Bedrock client spent on one call (the adapter's hook)."""
        self.bedrock_client_cpu.labels(model_id).inc(seconds)

    def retry(self, *, model_id: str) -> None:
        """Record that a failed model call will be tried again."""
        self.bedrock_retries.labels(model_id).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every instrument."""
        return generate_latest(self.registry)


class MetricsSink:
    """Wraps an :class:`EventSink`, recording each task's outcome, duration and tokens on the way through."""

    def __init__(self, inner: EventSink, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def emit(self, event: TaskEvent) -> None:
        """Record ``event`` if it ends a task, then pass it on."""
        metrics = self._metrics
        if isinstance(event, TaskSucceeded):
            result = event.result
            metrics.tasks.labels(result.agent, "succeeded").inc()
            metrics.task_seconds.labels(result.agent).observe(result.seconds)
            metrics.bedrock_tokens.labels(result.model_id, "input").inc(result.usage.input_tokens)
            metrics.bedrock_tokens.labels(result.model_id, "output").inc(result.usage.output_tokens)
            metrics.bedrock_tokens.labels(result.model_id, "cache_read").inc(result.usage.cache_read_tokens)
            metrics.bedrock_tokens.labels(result.model_id, "cache_write").inc(result.usage.cache_write_tokens)
        elif isinstance(event, TaskFailed):
            agent = event.task.agent or "unrouted"
            metrics.tasks.labels(agent, event.error.code).inc()
            metrics.task_seconds.labels(agent).observe(event.seconds)
        await self._inner.emit(event)
