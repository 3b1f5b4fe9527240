"""What people read about budgets: the refusal, the footer's 80% warning and ``/orchestrate usage``."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.budgets import BudgetDay, BudgetLevel, BudgetStanding, BudgetWarning, Spent, TopUsage, UsageReport
from agents.errors import BudgetExceeded, StoreUnavailable
from agents.events import TaskResult
from agents.llm import Usage
from agents.orchestrator import UsageWanted
from agents.redaction import Redactor
from bot.markup import to_plain_text
from bot.messages import failure_blocks
from bot.outfilter import OutputFilter
from bot.render import footer
from bot.usage import reset_time, token_usage_blocks

MIDNIGHT = datetime(2026, 11, 4, 0, 0, tzinfo=UTC).timestamp()
DAY = BudgetDay.at(MIDNIGHT - 3600)


def refusal(step: str | None = None) -> BudgetExceeded:
    """The person's budget of 200,000 tokens, used up."""
    return BudgetExceeded(
        level="user", budget="your daily token budget", limit=200_000, used=201_234, resets_at=MIDNIGHT, step=step
    )


def test_the_reset_time_is_local_through_slack_and_utc_in_words() -> None:
    """Slack shows the reader's local time; the fallback and the words after it say UTC."""
    shown = reset_time(MIDNIGHT)
    assert shown == f"<!date^{int(MIDNIGHT)}^{{date_short_pretty}} at {{time}}|2026-11-04> (00:00 UTC)"
    assert to_plain_text(shown) == "2026-11-04 (00:00 UTC)"


def test_the_refusal_names_the_budget_its_figures_the_reset_and_the_request_id() -> None:
    """Which budget, how much of it, when it resets (local and UTC), where to look, and the request ID.

    The output filter leaves Slack's date formatting alone.
    """
    text, blocks = OutputFilter(Redactor()).message(*failure_blocks(refusal(), "req-abc123def456"))
    assert "your daily token budget of 200,000 tokens is used up (201,234 used today)" in text
    assert f"<!date^{int(MIDNIGHT)}^" in text
    assert "00:00 UTC" in text
    assert "`/orchestrate usage`" in text
    assert "req-abc123def456" in text
    assert blocks[0]["text"]["text"] == text


def test_a_runbook_refusal_says_which_step_stopped_and_that_the_rest_is_above() -> None:
    """The run stopped at a step: the message names it and points at the finished steps."""
    text, _ = failure_blocks(refusal(step="errors"), "req-abc123def456")
    assert "The runbook stopped at step `errors`" in text
    assert "The steps that finished are shown above." in text


def test_the_footer_warns_at_80_percent_with_the_reset_time() -> None:
    """An answer that left the person's budget at 85% carries the warning under it."""
    result = TaskResult(
        text="All quiet.",
        agent="monitor",
        routing_reason="r",
        model_id="m",
        usage=Usage(10, 5),
        seconds=1.0,
        attempts=1,
        budget=BudgetWarning((BudgetLevel("user", 1000, 850),), MIDNIGHT),
    )
    texts = [element["text"] for element in footer(result, "req-abc123def456")["elements"]]
    assert texts[-1].startswith(":warning: 85% of your daily token budget used; resets <!date^")
    plain = footer(TaskResult("x", "monitor", "r", "m", Usage(), 1.0, 1), "req-abc123def456")
    assert not any("budget" in element["text"] for element in plain["elements"])


def test_usage_shows_your_budgets_and_for_admins_the_top() -> None:
    """Each budget with used, limit and percent; an admin also sees the top users, channels and agents."""
    standing = BudgetStanding(
        (BudgetLevel("user", 1000, 850), BudgetLevel("workspace", 100_000, 900)), Spent(850, 900, 900, DAY)
    )
    text, _ = token_usage_blocks(UsageWanted(UsageReport(standing), admin=False), "req-abc123def456")
    assert "You have used 850 tokens today." in text
    assert "Your daily token budget: 850 of 1,000 tokens" in text
    assert "85% :warning:" in text
    assert "The workspace's daily token budget: 900 of 100,000 tokens" in text
    assert "Top users" not in text
    top = TopUsage((("U0ANA", 850), ("U0BEN", 50)), (("C0OPS", 900),), (("monitor", 800), ("router", 100)), DAY)
    text, _ = token_usage_blocks(UsageWanted(UsageReport(standing, top), admin=True), "req-abc123def456")
    assert "1. <@U0ANA>: 850 tokens\n2. <@U0BEN>: 50 tokens" in text
    assert "1. <#C0OPS>: 900 tokens" in text
    assert "1. `monitor`: 800 tokens\n2. `router`: 100 tokens" in text


def test_usage_without_budgets_or_store_says_so() -> None:
    """No budgets set: said plainly. Counters unreadable: what happened, what to do, the request ID."""
    standing = BudgetStanding((), Spent(12, 12, 12, DAY))
    text, _ = token_usage_blocks(UsageWanted(UsageReport(standing), admin=False), "req-abc123def456")
    assert "No daily token budgets are set." in text
    down = UsageWanted(None, admin=False, error=StoreUnavailable(store="Redis", reason="ConnectionError"))
    text, _ = token_usage_blocks(down, "req-abc123def456")
    assert "could not be read" in text
    assert "try again" in text
    assert "req-abc123def456" in text
