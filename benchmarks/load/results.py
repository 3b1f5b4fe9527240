"""A step's figures, the tables they are printed in, the ratios to the ceiling, and the design targets."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.load.servers import ROOT

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

TABLE_TITLE = "orch-bot under load (HTTP mode, fake Slack and Bedrock)"
CEILING_TITLE = "ceiling: bare Bolt AsyncApp that only acks"
RATIO_TITLE = "orch-bot / ceiling"
TARGET_TITLE = "targets (docs/performance.md)"


@dataclass
class StepResult:
    """The figures of one step against one server (orch-bot or the ceiling)."""

    target: str
    label: str
    offered: str
    rate: float | None
    duration: float
    bedrock_latency: float
    sent: int = 0
    accepted: int = 0
    achieved_rps: float = 0.0
    ack_p50_ms: float = 0.0
    ack_p99_ms: float = 0.0
    ack_max_ms: float = 0.0
    ack_errors: int = 0  # no response or non-2xx
    refused: int = 0  # 200 with a private refusal
    acks_over_3s: int = 0
    send_late_p99_ms: float = 0.0
    send_late_max_ms: float = 0.0
    completed: int = 0
    failed: int = 0  # a warning (error) message was posted
    unfinished: int = 0  # accepted but neither answered nor failed when the drain wait ended
    answered_without_ack: int = 0  # ran to an answer although its ack failed (late 404): Slack showed an error
    errors: int = 0  # ack_errors + refused + failed + unfinished
    offered_in_flight: float = 0.0  # rate x seconds a task spends at the fake model (Little's law)
    peak_in_flight: int = 0
    bedrock_calls: int = 0
    routing_calls: int = 0
    cpu_seconds: float = 0.0  # all of the bot's processes
    cpu_ms_per_task: float = 0.0  # per completed task (orch-bot) or per ack (ceiling)
    llm_client_cpu_seconds: float = 0.0  # the part of cpu_seconds the Bedrock client spent (the bot's own count)
    llm_client_cpu_ms_per_task: float = 0.0
    outside_llm_cpu_ms_per_task: float = 0.0  # cpu_ms_per_task without the Bedrock client's part
    ingress_cpu_seconds: float = 0.0  # the process that acks (the only one unless split)
    ingress_cpu_ms_per_task: float = 0.0
    redis_cpu_seconds: float = 0.0  # the benchmark's own redis-server in split mode (not in cpu_seconds)
    redis_cpu_ms_per_task: float = 0.0
    processes: int = 1
    total_peak_rss_mb: float = 0.0  # sum over the bot's processes of each one's peak
    rss_start_mb: float = 0.0
    peak_rss_mb: float = 0.0
    rss_at_peak_in_flight_mb: float = 0.0
    token_to_update_p50_ms: float = 0.0
    token_to_update_p99_ms: float = 0.0
    token_to_update_max_ms: float = 0.0
    ack_to_visible_p50_ms: float = 0.0  # from the ack read to the first thing a person sees for the task
    ack_to_visible_p95_ms: float = 0.0
    ack_to_visible_p99_ms: float = 0.0
    task_p50_s: float = 0.0
    task_p99_s: float = 0.0
    drain_seconds: float = 0.0
    slack_calls_per_task: float = 0.0
    slack_calls_by_method: dict[str, int] = field(default_factory=dict)
    slack_not_ok: int = 0
    driver_cpu_seconds: float = 0.0
    fakes_cpu_seconds: float = 0.0
    other_cpu_seconds: float = 0.0  # machine CPU used by anything else meanwhile: other work disturbing the step
    quiet_wait_seconds: float = 0.0  # how long the step waited for the machine to be idle before starting
    step_seconds: float = 0.0  # wall time of the measured part (load and drain)
    error_kinds: dict[str, int] = field(default_factory=dict)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


Column = tuple[str, "Callable[[StepResult], str]"]


def _ms(value: float) -> str:
    return f"{value:.1f}"


# What every server is measured on: the load it got and how fast it acked.
_ACK_COLUMNS: list[Column] = [
    ("step", lambda r: r.label),
    ("offered/s", lambda r: r.offered),
    ("achieved/s", lambda r: f"{r.achieved_rps:.1f}"),
    ("sent", lambda r: str(r.sent)),
    ("ack p50 ms", lambda r: _ms(r.ack_p50_ms)),
    ("ack p99 ms", lambda r: _ms(r.ack_p99_ms)),
    ("ack max ms", lambda r: _ms(r.ack_max_ms)),
]

BOT_COLUMNS: list[Column] = [
    *_ACK_COLUMNS,
    ("completed", lambda r: str(r.completed)),
    ("errors", lambda r: str(r.errors)),
    ("peak in-flight", lambda r: str(r.peak_in_flight)),
    ("procs", lambda r: str(r.processes)),
    ("CPU ms/task", lambda r: f"{r.cpu_ms_per_task:.2f}"),
    ("Bedrock client CPU ms/task", lambda r: f"{r.llm_client_cpu_ms_per_task:.2f}"),
    ("outside-LLM CPU ms/task", lambda r: f"{r.outside_llm_cpu_ms_per_task:.2f}"),
    ("ingress CPU ms/task", lambda r: f"{r.ingress_cpu_ms_per_task:.2f}"),
    ("redis CPU ms/task", lambda r: f"{r.redis_cpu_ms_per_task:.2f}"),
    ("peak RSS MB", lambda r: f"{r.peak_rss_mb:.0f}"),
    ("tok->Slack p50 ms", lambda r: _ms(r.token_to_update_p50_ms)),
    ("tok->Slack p99 ms", lambda r: _ms(r.token_to_update_p99_ms)),
    ("ack->visible p50 ms", lambda r: _ms(r.ack_to_visible_p50_ms)),
    ("ack->visible p95 ms", lambda r: _ms(r.ack_to_visible_p95_ms)),
    ("ack->visible p99 ms", lambda r: _ms(r.ack_to_visible_p99_ms)),
    ("task p50 s", lambda r: f"{r.task_p50_s:.2f}"),
    ("send late p99 ms", lambda r: _ms(r.send_late_p99_ms)),
    ("other CPU s", lambda r: f"{r.other_cpu_seconds:.1f}"),
]

CEILING_COLUMNS: list[Column] = [
    *_ACK_COLUMNS,
    ("errors", lambda r: str(r.errors)),
    ("CPU ms/ack", lambda r: f"{r.cpu_ms_per_task:.2f}"),
    ("peak RSS MB", lambda r: f"{r.peak_rss_mb:.0f}"),
    ("send late p99 ms", lambda r: _ms(r.send_late_p99_ms)),
    ("other CPU s", lambda r: f"{r.other_cpu_seconds:.1f}"),
]


def format_table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with right-aligned columns."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = [f"== {title} =="]
    lines.append("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    lines.extend("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(lines)


def results_table(title: str, columns: list[Column], results: list[StepResult]) -> str:
    """The table of ``results`` with ``columns``."""
    return format_table(title, [c[0] for c in columns], [[c[1](r) for c in columns] for r in results])


def ratios(bot: list[StepResult], ceiling: list[StepResult]) -> list[dict[str, Any]]:
    """Our achieved throughput and ack latency as multiples of the ceiling's, step by step."""
    by_label = {r.label: r for r in ceiling}
    rows = []
    for ours in bot:
        base = by_label.get(ours.label)
        if base is None:
            continue
        rows.append(
            {
                "label": ours.label,
                "throughput": _ratio(ours.achieved_rps, base.achieved_rps),
                "ack_p50": _ratio(ours.ack_p50_ms, base.ack_p50_ms),
                "ack_p99": _ratio(ours.ack_p99_ms, base.ack_p99_ms),
                "cpu_per_request": _ratio(ours.cpu_ms_per_task, base.cpu_ms_per_task),
            }
        )
    return rows


def _ratio(ours: float, base: float) -> float | None:
    return ours / base if base else None


def ratio_table(rows: list[dict[str, Any]]) -> str:
    """The ratios as a table (``x`` = times the ceiling's figure)."""

    def cell(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}x"

    headers = ["step", "throughput", "ack p50", "ack p99", "CPU per request"]
    keys = ["throughput", "ack_p50", "ack_p99", "cpu_per_request"]
    return format_table(RATIO_TITLE, headers, [[row["label"], *(cell(row[k]) for k in keys)] for row in rows])


def evaluate_targets(results: list[StepResult]) -> list[dict[str, Any]]:
    """The design targets, each checked on the steps where its condition holds (the worst of them counts).

    A step "holds 500 tasks on Bedrock" when its offered load does (rate x time a task spends at the fake
    model >= 500); the in-flight peak it actually reached is shown beside it.
    """
    loaded = [r for r in results if r.offered_in_flight >= 500]
    with_tasks = [r for r in results if r.completed]
    specs: list[tuple[str, list[StepResult], Callable[[StepResult], float], float, bool]] = [
        (
            "ack p99 <= 50 ms at >= 100 req/s with >= 500 tasks on Bedrock",
            [r for r in loaded if r.rate is not None and r.rate >= 100],
            lambda r: r.ack_p99_ms,
            50,
            True,
        ),
        (">= 500 concurrent Bedrock calls", loaded, lambda r: r.peak_in_flight, 500, False),
        (
            "<= 5 ms bot CPU per task outside the LLM (the Bedrock client's own CPU excluded)",
            with_tasks,
            lambda r: r.outside_llm_cpu_ms_per_task,
            5,
            True,
        ),
        ("(for reference) bot CPU per task, all of it, <= 5 ms", with_tasks, lambda r: r.cpu_ms_per_task, 5, True),
        ("<= 200 MB RSS at >= 500 in flight", loaded, lambda r: r.peak_rss_mb, 200, True),
        (
            "first streamed text in Slack <= 300 ms after Bedrock's first token (p99)",
            with_tasks,
            lambda r: r.token_to_update_p99_ms,
            300,
            True,
        ),
        (
            "first visible sign of work in Slack <= 1 s after the ack (p99)",
            with_tasks,
            lambda r: r.ack_to_visible_p99_ms,
            1000,
            True,
        ),
    ]
    checks: list[dict[str, Any]] = []
    for name, steps, value, limit, at_most in specs:
        if not steps:
            checks.append({"target": name, "measured": None, "met": None, "steps": []})
            continue
        # The highest value is the worst step for a ceiling ("at most") and the capacity shown for an "at least".
        chosen = max(steps, key=value)
        measured = value(chosen)
        met = measured <= limit if at_most else measured >= limit
        where = [f"{s.label}: {value(s):.1f} (peak in-flight {s.peak_in_flight})" for s in steps]
        checks.append({"target": name, "measured": round(measured, 2), "met": met, "steps": where})
    return checks


def targets_text(checks: list[dict[str, Any]]) -> str:
    """The target checks as lines."""
    lines = [f"== {TARGET_TITLE} =="]
    for check in checks:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[check["met"]]
        lines.append(f"  {check['target']}: {check['measured']} -> {verdict}")
        lines.extend(f"      {where}" for where in check["steps"])
    return "\n".join(lines)


def _code_version() -> str:
    """The checkout measured: commit, and whether the work tree had changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}{' + uncommitted changes' if dirty else ''}"


def describe_machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    memory_gb = 0.0
    with contextlib.suppress(OSError, ValueError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory_gb = int(first.split()[1]) / 1024 / 1024
    return {
        "code": _code_version(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_gb, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


FLOOR_TABLE_TITLE = "vendor floor: the clients alone at the same rates (benchmarks.floor), and orch-bot against it"


def floor_table(bot: list[StepResult], ceiling: list[StepResult], floor: dict[str, dict[str, Any]]) -> str:
    """The floor per step, and orch-bot's CPU outside the LLM against the floor plus the ceiling's ack."""
    acks = {r.label: r.cpu_ms_per_task for r in ceiling}
    headers = [
        "step", "floor CPU ms/task", "Bedrock", "slack_sdk", "store", "unclocked", "floor outside-LLM",
        "+ ack (ceiling)", "orch-bot outside-LLM", "orch-bot / (floor + ack)",
    ]  # fmt: skip
    rows = []
    for result in bot:
        found = floor.get(result.label)
        if found is None:
            continue
        ack = acks.get(result.label)
        base = found["outside_llm_ms_per_task"] + (ack or 0.0)
        rows.append(
            [
                result.label,
                f"{found['cpu_ms_per_task']:.2f}",
                f"{found['bedrock_client_ms_per_task']:.2f}",
                f"{found['slack_client_ms_per_task']:.2f}",
                f"{found['store_client_ms_per_task']:.2f} ({found['store']})",
                f"{found['unclocked_ms_per_task']:.2f}",
                f"{found['outside_llm_ms_per_task']:.2f}",
                f"{ack:.2f}" if ack is not None else "-",
                f"{result.outside_llm_cpu_ms_per_task:.2f}",
                f"{result.outside_llm_cpu_ms_per_task / base:.2f}x" if ack is not None and base else "-",
            ]
        )
    return format_table(FLOOR_TABLE_TITLE, headers, rows)
