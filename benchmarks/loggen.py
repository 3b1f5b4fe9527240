"""Synthetic application logs: a few rare error patterns hidden in a lot of INFO noise.

The log reducer's tests and its benchmark share this generator so that both measure the same thing:
after a large, mostly repetitive log is reduced, do the handful of planted error lines survive, with
their counts? Output depends only on the arguments (a seeded ``random.Random``).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["GeneratedLog", "PlantedPattern", "generate_log"]

_START = datetime(2024, 5, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PlantedPattern:
    """An error pattern planted ``count`` times, each time with different ids.

    ``marker`` is a literal phrase of the pattern that survives masking, so it identifies the
    pattern's template in a reduced log.
    """

    name: str
    marker: str
    count: int


@dataclass(frozen=True, slots=True)
class GeneratedLog:
    """The log lines (ISO 8601 timestamps, one line each) and the patterns planted in them."""

    lines: tuple[str, ...]
    planted: tuple[PlantedPattern, ...]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ip(rng: random.Random) -> str:
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


# Twenty INFO templates and two WARN ones, with weights: the noise a busy service writes.
_NOISE: tuple[tuple[int, Callable[[random.Random], str]], ...] = (
    (
        30,
        lambda r: (
            f"INFO http request method=GET path=/api/v1/orders/{r.randrange(10**6)} "
            f"status={r.choice((200, 200, 201, 204, 304))} latency_ms={r.randrange(2, 900)} "
            f"request_id={_uuid(r)}"
        ),
    ),
    (12, lambda r: f"INFO cache hit key=user:{r.randrange(10**5)} ttl={r.randrange(60, 3600)}s"),
    (
        10,
        lambda r: (
            f"INFO worker-{r.randrange(16)} processed batch {r.randrange(10**4)} of {r.randrange(10**4)} "
            f"in {r.randrange(5, 5000)}ms"
        ),
    ),
    (6, lambda r: f"INFO connected to {_ip(r)}:{r.choice((5432, 6379, 443))}"),
    (6, lambda r: f"INFO sqs received {r.randrange(1, 11)} messages from queue orders-events"),
    (
        6,
        lambda r: (
            f"INFO lambda invocation {_uuid(r)} billed duration {r.randrange(1, 3000)} ms "
            f"memory used {r.randrange(60, 512)} MB"
        ),
    ),
    (5, lambda r: f"INFO scheduled job {r.choice(('reindex', 'cleanup', 'report'))} started"),
    (5, lambda r: f"INFO health check ok target=i-{_hex(r, 17)} latency={r.randrange(1, 80)}ms"),
    (4, lambda r: f"INFO session {_hex(r, 32)} refreshed for user {r.randrange(10**6)}"),
    (
        4,
        lambda r: f"INFO s3 put object bucket=acme-logs key=2024/05/01/{_uuid(r)}.json size={r.randrange(10**6)}",
    ),
    (
        4,
        lambda r: f"INFO dynamodb query table=orders consumed_capacity={r.random() * 10:.1f} items={r.randrange(100)}",
    ),
    (3, lambda r: f"INFO metrics flushed {r.randrange(10**4)} series to cloudwatch in {r.randrange(900)}ms"),
    (2, lambda r: f"INFO config reloaded version {r.randrange(10**3)} checksum {_hex(r, 8)}"),
    (3, lambda r: f"INFO user {r.randrange(10**6)} logged in from {_ip(r)}"),
    (2, lambda r: f"INFO token refreshed for client {_hex(r, 24)}"),
    (
        2,
        lambda r: (
            f"INFO kinesis shard shardId-{r.randrange(10**12):012d} checkpoint at sequence {r.randrange(10**20):020d}"
        ),
    ),
    (2, lambda r: f"INFO gc pause {r.randrange(1, 200)}ms heap {r.randrange(100, 4000)}MB"),
    (1, lambda r: f"INFO autoscaling desired capacity {r.randrange(2, 20)} current {r.randrange(2, 20)}"),
    (
        2,
        lambda r: f"INFO outbound call to payments-api took {r.randrange(5, 900)}ms status=200",
    ),
    (1, lambda r: f"INFO rate limiter allowed {r.randrange(10**3)} requests in window {r.randrange(60)}"),
    (1, lambda r: f"WARN retrying sqs delete for receipt {_hex(r, 20)} attempt {r.randrange(1, 4)}"),
    (1, lambda r: f"WARN slow query on table orders took {r.randrange(1000, 9000)}ms"),
)

# Five error patterns, one per kind of error signal the reducer ranks first.
_PLANTED: tuple[tuple[str, str, Callable[[random.Random], str]], ...] = (
    (
        "error level",
        "payment gateway timeout",
        lambda r: f"ERROR payment gateway timeout for order {r.randrange(10**6)} after {r.randrange(10, 60)}s",
    ),
    (
        "fatal level",
        "crashed: out of memory",
        lambda r: f"FATAL worker worker-{r.randrange(16)} crashed: out of memory (rss={r.randrange(900, 4000)}MB)",
    ),
    (
        "exception",
        "NullPointerException",
        lambda r: (
            "ERROR java.lang.NullPointerException at com.acme.cart.CartService.total(CartService.java:88) "
            f"request_id={_uuid(r)}"
        ),
    ),
    (
        "go panic",
        "index out of range",
        lambda r: (
            f"panic: runtime error: index out of range [{r.randrange(5, 99)}] with length "
            f"{r.randrange(1, 5)} goroutine {r.randrange(10**4)}"
        ),
    ),
    (
        "http 5xx",
        "/api/v1/checkout/",
        lambda r: (
            f"INFO http request method=POST path=/api/v1/checkout/{r.randrange(10**6)} "
            f"status={r.choice((502, 503))} latency_ms={r.randrange(1000, 30000)} upstream={_ip(r)}"
        ),
    ),
)


def generate_log(n_lines: int, *, seed: int = 7, planted_count: int = 3) -> GeneratedLog:
    """A log of ``n_lines`` lines: weighted INFO/WARN noise with each planted pattern ``planted_count`` times.

    Planted lines sit at random positions; timestamps advance 1-40 ms a line from 2024-05-01T00:00Z.
    """
    rng = random.Random(seed)
    n_planted = len(_PLANTED) * planted_count
    if n_lines < n_planted:
        raise ValueError(f"n_lines must be at least {n_planted} to hold the planted patterns")
    positions = rng.sample(range(n_lines), n_planted)
    planted_at = {position: _PLANTED[index // planted_count][2] for index, position in enumerate(positions)}
    weights = [weight for weight, _ in _NOISE]
    noise = [message for _, message in _NOISE]
    lines = []
    elapsed_ms = 0
    for position in range(n_lines):
        elapsed_ms += rng.randrange(1, 41)
        timestamp = (_START + timedelta(milliseconds=elapsed_ms)).isoformat(timespec="milliseconds")
        message = planted_at.get(position) or rng.choices(noise, weights)[0]
        lines.append(f"{timestamp.removesuffix('+00:00')}Z {message(rng)}")
    planted = tuple(PlantedPattern(name, marker, planted_count) for name, marker, _ in _PLANTED)
    return GeneratedLog(tuple(lines), planted)
