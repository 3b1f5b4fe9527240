"""Daily token budgets end to end: a bot whose ``ORCH_POLICY_FILE`` gives each person 1,000 tokens a day.

The fake Bedrock reports exact token counts (``Reply(input_tokens=…, output_tokens=…)``), so each test knows
when the budget runs out. Each test asks as a new person, so their budgets start at zero.

These tests need the policy loader (``ORCH_POLICY_FILE`` in the settings, from the ``policy`` branch): until it
is merged they are skipped with that reason, never silently passed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from agents.settings import Settings
from agents.testing.bedrock import Reply
from bot.testing.environment import bot_env, free_port
from tests.e2e.harness import BotProcess, unique
from tests.e2e.slackcalls import REQUEST_ID, final_text

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from agents.testing.bedrock import ConverseCall, FakeBedrock
    from bot.testing.slack import FakeSlack

pytestmark = pytest.mark.skipif(
    "orch_policy_file" not in Settings.model_fields,
    reason="needs the policy loader (ORCH_POLICY_FILE, branch `policy`): run after merging it",
)

ADMIN = "U0BUDGETADMIN"
POLICY = f"""
admins: [{ADMIN}]
rules:
  - agents: ["*"]
    runbooks: ["*"]
    users: ["*"]
    channels: ["*"]
budgets:
  per_user: 1000
"""
RESETS = re.compile(r"<!date\^(\d+)\^\{date_short_pretty\} at \{time\}\|\d{4}-\d\d-\d\d> \(00:00 UTC\)")


@pytest.fixture
def model(bedrock: FakeBedrock) -> Iterator[FakeBedrock]:
    """The fake Bedrock, its default reply restored afterwards."""
    before = bedrock.default_reply
    yield bedrock
    bedrock.default_reply = before


@pytest.fixture
async def budget_bot(slack: FakeSlack, model: FakeBedrock, moto_url: str, tmp_path: Path) -> AsyncIterator[BotProcess]:
    """An ``orch-bot serve`` with the policy above, running runbook steps one at a time."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    port = free_port()
    env = bot_env(
        slack_api_url=slack.base_url,
        bedrock_url=model.endpoint_url,
        aws_url=moto_url,
        ORCH_POLICY_FILE=str(policy),
        ORCH_RUNBOOK_MAX_PARALLEL_STEPS="1",
        ORCH_RATE_LIMIT="100/minute",
    )
    bot = BotProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "bot.log", port=port)
    await bot.start()
    yield bot
    await bot.stop()


def costly(call: ConverseCall) -> Reply:
    """A reply that uses 1,050 tokens: more than a person's whole day."""
    return Reply(text="FACT-ALARMS-1: two alarms since 14:02.", input_tokens=900, output_tokens=150)


async def test_the_answer_that_uses_the_budget_up_warns_and_the_next_task_is_refused_before_bedrock(
    budget_bot: BotProcess, slack: FakeSlack, model: FakeBedrock
) -> None:
    """The first answer's footer warns with the reset time; the next task is refused in the ack, no Bedrock call."""
    model.default_reply = costly
    user, channel = unique("U"), unique("C")
    await budget_bot.command(
        "general: anything alarming?", user=user, channel=channel, response_url=slack.new_response_url()
    )
    first = await final_text(slack, channel, timeout=20)
    assert "FACT-ALARMS-1" in first
    assert ":warning: 105% of your daily token budget used; resets <!date^" in first
    assert RESETS.search(first)

    calls = len(model.calls)
    refused = await budget_bot.command(
        "general: and now?", user=user, channel=unique("C"), response_url=slack.new_response_url()
    )
    body = refused.json()
    assert body["response_type"] == "ephemeral"
    text = body["text"]
    assert "your daily token budget of 1,000 tokens is used up (1,050 used today)" in text
    assert RESETS.search(text)
    assert REQUEST_ID.search(text)
    assert len(model.calls) == calls  # refused before any Bedrock call
    assert '"budget.exceeded"' in budget_bot.log()


async def test_a_runbook_that_runs_out_of_budget_stops_with_its_finished_steps(
    budget_bot: BotProcess, slack: FakeSlack, model: FakeBedrock
) -> None:
    """One step at a time: alarms uses the day up; the run stops at errors, shows alarms' output, skips the rest."""
    model.default_reply = costly
    calls = len(model.calls)
    channel = unique("C")
    await budget_bot.command(
        "run incident-triage service=checkout", user=unique("U"), channel=channel, response_url=slack.new_response_url()
    )
    text = await final_text(slack, channel, timeout=30)
    assert "FACT-ALARMS-1" in text  # the finished step's output
    assert "The runbook stopped at step `errors`" in text
    assert "your daily token budget of 1,000 tokens is used up" in text
    assert RESETS.search(text)
    assert REQUEST_ID.search(text)
    assert len(model.calls) == calls + 1  # the alarms step only: errors, deploy and summary never reached Bedrock
    # Every step's outcome is attached, as for any run (just after the answer).
    await slack.wait_for("files.completeUploadExternal", where=lambda c: channel in str(c.args), timeout=10)


async def test_usage_shows_a_person_their_budget_and_an_admin_the_top(
    budget_bot: BotProcess, slack: FakeSlack, model: FakeBedrock
) -> None:
    """``/orchestrate usage``: your tokens against your budget; an admin also sees the top and the ratings."""
    model.default_reply = lambda _call: Reply(text="It is fine.", input_tokens=300, output_tokens=100)
    user, channel = unique("U"), unique("C")
    await budget_bot.command("general: is it fine?", user=user, channel=channel, response_url=slack.new_response_url())
    await final_text(slack, channel, timeout=20)

    mine = await budget_bot.command("usage", user=user, channel=unique("C"), response_url=slack.new_response_url())
    body = mine.json()
    assert body["response_type"] == "ephemeral"
    assert "Your daily token budget: 400 of 1,000 tokens" in body["text"]
    assert "40%" in body["text"]
    assert "Top users" not in body["text"]
    assert "Ratings of answers" not in body["text"]

    theirs = await budget_bot.command("usage", user=ADMIN, channel=unique("C"), response_url=slack.new_response_url())
    text = theirs.json()["text"]
    assert "Top users today" in text
    assert f"<@{user}>: 400 tokens" in text
    assert "`general`: " in text
    assert f"<#{channel}>" in text
    assert "Ratings of answers this week" in text
