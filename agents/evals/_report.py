"""The eval table: one row per case (its runs aggregated), the problems of failed runs, and the pass rate."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents.evals._run import CaseRun

__all__ = ["Summary", "format_report", "summarise"]

_HEADERS = ("case", "result", "score", "tokens in (cached)", "out", "calls", "seconds")


@dataclass(frozen=True, slots=True)
class Summary:
    """How many runs passed, of how many."""

    passed: int
    total: int

    @property
    def rate(self) -> float:
        """The share of runs that passed (1.0 when there were none)."""
        return self.passed / self.total if self.total else 1.0


def summarise(runs: list[CaseRun]) -> Summary:
    """The pass count of ``runs``."""
    return Summary(sum(run.passed for run in runs), len(runs))


def _tokens(count: float) -> str:
    return f"{count / 1000:.1f}k" if count >= 1000 else f"{count:.0f}"  # noqa: PLR2004


def _rows(runs: list[CaseRun]) -> list[tuple[str, ...]]:
    by_case: dict[str, list[CaseRun]] = {}
    for run in runs:
        by_case.setdefault(run.case.name, []).append(run)
    rows: list[tuple[str, ...]] = []
    for name, group in by_case.items():
        passed = sum(run.passed for run in group)
        result = ("pass" if passed else "FAIL") if len(group) == 1 else f"{passed}/{len(group)}"
        scores = [run.verdict.score for run in group if run.verdict is not None and run.verdict.score is not None]
        judged = any(run.verdict is not None for run in group)
        score = f"{statistics.fmean(scores):.1f}" if scores else ("?" if judged else "-")
        tokens_in = statistics.fmean(run.usage.input_tokens for run in group)
        cached = statistics.fmean(run.usage.cache_read_tokens for run in group)
        out = statistics.fmean(run.usage.output_tokens for run in group)
        calls = statistics.fmean(run.model_calls for run in group)
        seconds = statistics.fmean(run.seconds for run in group)
        rows.append(
            (
                name,
                result,
                score,
                f"{_tokens(tokens_in)} ({_tokens(cached)})",
                _tokens(out),
                f"{calls:.1f}".removesuffix(".0"),
                f"{seconds:.1f}",
            )
        )
    return rows


def format_report(runs: list[CaseRun], *, min_pass: float) -> str:
    """The table, each failed run's problems (and the judge's reasons), and the verdict against ``min_pass``."""
    rows = [_HEADERS, *_rows(runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADERS))]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = []
    for run in runs:
        why = list(run.check.problems)
        if run.verdict is not None and (not run.passed or run.verdict.score is None):
            why.append(f"judge {run.verdict.score if run.verdict.score is not None else '-'}: {run.verdict.reason}")
        if why and not run.passed:
            notes.append(f"{run.case.name} ({run.request_id}): " + "; ".join(why))
    if notes:
        lines += ["", "Failed:", *(f"  {note}" for note in notes)]
    summary = summarise(runs)
    total_in = sum(run.usage.input_tokens for run in runs)
    total_cached = sum(run.usage.cache_read_tokens for run in runs)
    verdict = "ok" if summary.rate >= min_pass else f"below --min-pass {min_pass:g}"
    lines += [
        "",
        (
            f"{summary.passed}/{summary.total} runs passed ({summary.rate:.0%}): {verdict}. "
            f"Input tokens {total_in:,} ({total_cached:,} from the prompt cache), "
            f"output {sum(run.usage.output_tokens for run in runs):,}, "
            f"model calls {sum(run.model_calls for run in runs)}."
        ),
    ]
    return "\n".join(lines) + "\n"
