"""Daily token budgets as people read them: when they reset, the 80% warning, and ``/orchestrate usage``.

A reset time is shown in each reader's own time zone with Slack's date formatting
(``<!date^…^{date_short_pretty} at {time}|…>``, which the output filter lets through), followed by the UTC
time, so the message reads right in any client and in a terminal (``to_plain_text`` keeps the fallback).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.budgets import BudgetLevel, BudgetWarning, TopUsage, UsageReport
    from agents.errors import StoreUnavailable
    from agents.feedback import FeedbackCount
    from agents.orchestrator import UsageWanted

__all__ = ["feedback_summary", "reset_time", "token_usage_blocks", "warning_line"]

_BAR = 10


def reset_time(resets_at: float) -> str:
    """When a budget resets: the reader's local time (Slack formats it), then UTC."""
    when = datetime.fromtimestamp(resets_at, tz=UTC)
    # The fallback (old clients, the console) is the date; the UTC time follows either way.
    return f"<!date^{int(resets_at)}^{{date_short_pretty}} at {{time}}|{when:%Y-%m-%d}> ({when:%H:%M} UTC)"


def warning_line(warning: BudgetWarning) -> str:
    """The footer's warning: ":warning: 80% of your daily token budget used; resets …"."""
    used = "; ".join(f"{level.percent}% of {level.name} used" for level in warning.levels)
    return f":warning: {used}; resets {reset_time(warning.resets_at)}"


def _bar(level: BudgetLevel) -> str:
    filled = min(_BAR, level.percent * _BAR // 100)
    return "▓" * filled + "░" * (_BAR - filled)


def _level_line(level: BudgetLevel) -> str:
    mark = " :no_entry:" if level.exhausted else (" :warning:" if level.nearly_exhausted else "")
    return (
        f"• {level.name.capitalize()}: {level.used:,} of {level.limit:,} tokens `{_bar(level)}` {level.percent}%{mark}"
    )


def _ranked(title: str, rows: tuple[tuple[str, int], ...], show: str) -> str:
    if not rows:
        return f"*{title}*: none yet"
    return f"*{title}*\n" + "\n".join(
        f"{n}. {show.format(name)}: {tokens:,} tokens" for n, (name, tokens) in enumerate(rows, 1)
    )


def _top(top: TopUsage) -> str:
    return "\n\n".join(
        (
            _ranked("Top users today", top.users, "<@{}>"),
            _ranked("Top channels today", top.channels, "<#{}>"),
            _ranked("Top agents today", top.agents, "`{}`"),
        )
    )


def _report(report: UsageReport) -> str:
    standing = report.standing
    lines = ["*Your token usage today (UTC day)*", f"You have used {standing.spent.user:,} tokens today."]
    if standing.levels:
        lines.extend(_level_line(level) for level in standing.levels)
    else:
        lines.append("No daily token budgets are set.")
    lines.append(f"Budgets reset {reset_time(standing.resets_at)}.")
    text = "\n".join(lines)
    if report.top is not None:
        text += "\n\n" + _top(report.top)
    return text


def _unreadable(error: StoreUnavailable | None, request_id: str) -> str:
    store = error.store if error is not None else "the store"
    return (
        f":warning: Your token usage could not be read: orch's {store} store is unreachable.\n"
        f"Please try again in a minute.\nRequest ID: `{request_id}`"
    )


def feedback_summary(counts: list[FeedbackCount]) -> str:
    """Ratings per agent and model as mrkdwn lines (for the App Home and ``/orchestrate usage``)."""
    if not counts:
        return "No ratings yet."
    return "\n".join(
        f"• `{c.agent or '—'}` on `{c.model_id or '—'}`: :thumbsup: {c.up} · :thumbsdown: {c.down}" for c in counts
    )


def token_usage_blocks(wanted: UsageWanted, request_id: str) -> tuple[str, list[dict[str, Any]]]:
    """``/orchestrate usage`` as a private message: your budgets, and the top users for admins."""
    text = _unreadable(wanted.error, request_id) if wanted.report is None else _report(wanted.report)
    if wanted.report is not None and wanted.admin:
        text += "\n\n*Ratings of answers this week*\n" + feedback_summary(list(wanted.feedback))
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}]
