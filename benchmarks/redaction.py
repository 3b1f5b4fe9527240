"""How long redaction takes on a large log, clean and with secrets planted in it.

Run ``python -m benchmarks.redaction`` (50,000 lines) or ``--lines N``. Three measurements, best of
``--repeat`` runs each: the whole log as one text (how a shared file or a tool result is redacted), the same
log with every corpus secret planted in it, and the log line by line (how log events are redacted). The
planted run also checks its own output: it exits 1 if any planted secret, or its tail, survives.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from agents.redaction import Redactor
from agents.testing.secrets_corpus import CORPUS
from benchmarks.loggen import generate_log

if TYPE_CHECKING:
    from collections.abc import Callable

_KNOWN = ("xoxb-1111111111-2222222222-benchBotTokenValue", "bench-signing-secret-0f1e2d3c")


def _best(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeat`` runs, in milliseconds (the least disturbed by other processes)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main(argv: list[str] | None = None) -> int:
    """Measure and print the three timings; 1 if a planted secret survived."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redaction", description=__doc__)
    parser.add_argument("--lines", type=int, default=50_000, help="log size (default 50,000 lines)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is shown")
    arguments = parser.parse_args(argv)
    redact = Redactor(_KNOWN)
    lines = list(generate_log(arguments.lines).lines)
    text = "\n".join(lines)
    planted_lines = list(lines)
    step = max(1, len(lines) // len(CORPUS))
    for index, sample in enumerate(CORPUS):
        at = min(index * step, len(lines) - 1)
        planted_lines[at] = f"{planted_lines[at]} {sample.forms()['log line']}"
    planted = "\n".join(planted_lines)

    clean_ms = _best(arguments.repeat, lambda: redact(text))
    planted_ms = _best(arguments.repeat, lambda: redact(planted))
    per_line_ms = _best(arguments.repeat, lambda: [redact(line) for line in lines])
    redacted = redact(planted)
    leaked = [sample.kind for sample in CORPUS if sample.value in redacted or sample.tail in redacted]

    print(f"redaction of a {len(lines):,}-line log ({len(text) / 2**20:,.1f} MiB), best of {arguments.repeat}:")
    print(f"  whole text, clean:                         {clean_ms:8,.0f} ms")
    print(f"  whole text, {len(CORPUS)} corpus secrets planted:     {planted_ms:8,.0f} ms")
    print(f"  line by line ({len(lines):,} calls, as log events): {per_line_ms:8,.0f} ms")
    print(f"  planted secrets surviving: {len(leaked)} of {len(CORPUS)} {', '.join(leaked)}".rstrip())
    return 1 if leaked else 0


if __name__ == "__main__":
    sys.exit(main())
