"""How much the log reducer shrinks a log, how fast, and whether the planted errors survive.

Run ``python -m benchmarks.log_reducer`` (1k, 10k, 50k and 200k lines), ``--smoke`` to skip 200k, or
``--lines N`` for one size. Time is measured without tracemalloc, which slows allocation-heavy code
several times over; peak memory comes from a second, traced run.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agents.logreduce import ReducedLog, estimate_tokens, reduce_log
from benchmarks.loggen import generate_log

if TYPE_CHECKING:
    from benchmarks.loggen import GeneratedLog

SIZES = (1_000, 10_000, 50_000, 200_000)
SMOKE_SIZES = SIZES[:3]


@dataclass(frozen=True, slots=True)
class Row:
    """One measured size."""

    lines: int
    chars: int
    input_tokens: int
    output_tokens: int
    millis: float
    peak_bytes: int
    survived: int
    planted: int


def survived(log: GeneratedLog, reduced: ReducedLog) -> int:
    """How many planted patterns the reduced text shows as one entry with the planted count."""
    entries = [line for line in reduced.text.splitlines() if line.startswith("#")]
    return sum(
        1
        for pattern in log.planted
        if sum(pattern.marker in line and f" {pattern.count:,}x " in line for line in entries) == 1
    )


def measure(n_lines: int) -> Row:
    """Reduce a generated log of ``n_lines`` lines: once timed, once traced for peak memory."""
    log = generate_log(n_lines)
    started = time.perf_counter()
    reduced = reduce_log(log.lines)
    millis = (time.perf_counter() - started) * 1000
    tracemalloc.start()
    try:
        reduce_log(log.lines)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Row(
        lines=reduced.total_lines,
        chars=reduced.total_chars,
        input_tokens=estimate_tokens("\n".join(log.lines)),
        output_tokens=reduced.estimated_tokens,
        millis=millis,
        peak_bytes=peak,
        survived=survived(log, reduced),
        planted=len(log.planted),
    )


def table(rows: list[Row]) -> str:
    """The rows as an aligned text table."""
    header = (
        "input lines",
        "input chars",
        "input est. tokens",
        "output est. tokens",
        "reduction",
        "time (ms)",
        "peak mem (MiB)",
        "planted survived",
    )
    cells = [header] + [
        (
            f"{row.lines:,}",
            f"{row.chars:,}",
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            f"{row.input_tokens / max(row.output_tokens, 1):,.0f}x",
            f"{row.millis:,.0f}",
            f"{row.peak_bytes / 2**20:,.1f}",
            f"{row.survived}/{row.planted}",
        )
        for row in rows
    ]
    widths = [max(len(cell[column]) for cell in cells) for column in range(len(header))]
    lines = [" | ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measure each size and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.log_reducer", description=__doc__)
    parser.add_argument("--lines", type=int, help="measure only a log of this many lines")
    parser.add_argument("--smoke", action="store_true", help=f"sizes {SMOKE_SIZES} only (no 200k)")
    arguments = parser.parse_args(argv)
    if arguments.lines is not None:
        sizes: tuple[int, ...] = (arguments.lines,)
    else:
        sizes = SMOKE_SIZES if arguments.smoke else SIZES
    print(table([measure(size) for size in sizes]))


if __name__ == "__main__":
    main()
