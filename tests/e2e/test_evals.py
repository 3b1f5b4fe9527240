"""``orch-bot eval``, ``eval export`` and ``console --demo`` run as people run them: the real command, as a process."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from agents.catalog import default_registry
from agents.evals import load_cases, tool_inputs
from agents.testing.bedrock import Reply
from bot.testing.environment import bot_env
from tests.e2e.harness import unique
from tests.e2e.slackcalls import REQUEST_ID, final_text
from tests.e2e.test_cli_tools import run

if TYPE_CHECKING:
    from pathlib import Path

    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack
    from tests.e2e.harness import BotProcess


async def test_the_demo_answers_offline_showing_routing_tools_answer_sources_tokens_and_request_id() -> None:
    """``console --demo "<question>"``: no Slack, AWS or Bedrock; every part of the real flow is on the screen."""
    # Nothing listens on port 9: any call to Slack, AWS or a real Bedrock would fail the run.
    env = bot_env(
        slack_api_url="http://127.0.0.1:9/api/", bedrock_url="http://127.0.0.1:9", aws_url="http://127.0.0.1:9"
    )
    for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        env.pop(key)
    code, out, err = await run("console", "--demo", "what's alarming right now?", env=env)
    assert code == 0, err
    assert "run incident-triage service=checkout" in out  # the runbook it offers
    assert re.search(r"→ monitor \(.+\)", out)  # routed by the router model's forced tool call
    assert "… Listing CloudWatch alarms in ALARM in us-east-1…" in out  # the real tool's progress line
    assert "✓ CloudWatch alarms" in out
    assert "checkout-db-connections-high" in out  # the answer, from the recorded tool output
    footer = out.strip().splitlines()[-1]
    assert "data: CloudWatch alarms" in footer
    assert re.search(r"[\d,]+ in \([\d,]+ cached\) / [\d,]+ out tokens", footer)
    assert re.search(r"req-[0-9a-f]{12}\]$", footer)


async def test_a_journalled_task_exports_to_a_case_that_loads_and_runs(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """Task in Slack → ``eval export`` (its tool calls become the cassette, the note the rubric) → ``eval`` passes."""
    marker = unique("export-")
    bedrock.enqueue(
        Reply(tool_uses=[{"name": "list_alarms", "input": {"state": "ALARM", "name_prefix": marker.lower()}}]),
        Reply(text="Nothing is alarming."),
    )
    channel = unique("C")
    await bot.command(
        f"monitor: what's alarming for {marker}?",
        user=unique("U"),
        channel=channel,
        response_url=slack.new_response_url(),
    )
    text = await final_text(slack, channel, timeout=20)
    (request_id,) = set(REQUEST_ID.findall(text))

    code, out, err = await run(
        "eval",
        "export",
        request_id,
        "--out",
        str(tmp_path),
        "--expect",
        "it should say which alarms exist",
        env=bot.env,
    )
    assert code == 0, err
    path = out.strip()
    assert path == str(tmp_path / f"export-{request_id}.yaml")
    cases, problems = load_cases(tmp_path, tools=tool_inputs(default_registry()))
    assert problems == []
    (case,) = cases
    assert (case.agent, case.question) == ("monitor", f"what's alarming for {marker}?")
    (entry,) = case.cassette
    assert (entry.tool, entry.input["name_prefix"], entry.output["alarms"]) == ("list_alarms", marker.lower(), [])
    assert case.expect.tools == ("list_alarms",)
    assert case.expect.note == "it should say which alarms exist"
    assert case.judge is not None
    assert "it should say which alarms exist" in case.judge.rubric

    bedrock.enqueue(
        Reply(tool_uses=[{"name": "list_alarms", "input": {"state": "ALARM", "name_prefix": marker.lower()}}]),
        Reply(text=f"No alarms match {marker}."),
    )
    code, out, err = await run("eval", "--cases", str(tmp_path), env=bot.env)
    assert code == 0, out + err
    assert re.search(rf"export-{request_id}\s+pass\s+-", out)
    assert "1/1 runs passed (100%): ok." in out

    code, _, err = await run("eval", "export", "req-000000000000", "--out", str(tmp_path), env=bot.env)
    assert code == 1
    assert "Cannot export req-000000000000: no task req-000000000000 in the journal" in err
