"""The policy file in a running bot: denials with the admins and the request ID, help per person, audit lines."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from typing import TYPE_CHECKING

from bot.testing.environment import ORCH_BOT, bot_env, free_port
from tests.e2e.harness import BotProcess, unique
from tests.e2e.slackcalls import REQUEST_ID

if TYPE_CHECKING:
    from pathlib import Path

    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack


def policy_text(*, admin: str, sre: str, oncall_group: str, ops: str) -> str:
    """Everyone may use ``general`` anywhere; the sre group (a person and a Slack user group) ``infra`` in ops."""
    return f"""\
admins: [{admin}]
groups:
  sre: [{sre}, {oncall_group}]
rules:
  - agents: [general]
    runbooks: ["*"]
    users: ["*"]
    channels: ["*"]
  - agents: [infra]
    users: ["@sre"]
    channels: [{ops}]
"""


async def _help(bot: BotProcess, slack: FakeSlack, *, user: str, channel: str) -> str:
    ack = await bot.command("help", user=user, channel=channel, response_url=slack.new_response_url())
    return str(ack.json()["text"])


async def _home(bot: BotProcess, slack: FakeSlack, *, user: str) -> str:
    """The text of the App Home view ``user`` gets on opening the Home tab."""
    published = len([c for c in slack.calls if c.method == "views.publish" and c.args.get("user_id") == user])
    await bot.event(
        {"type": "app_home_opened", "user": user, "channel": unique("D"), "tab": "home", "event_ts": "1700000000.1"}
    )
    await slack.wait_for("views.publish", count=published + 1, where=lambda c: c.args.get("user_id") == user)
    return "\n".join(str(b.get("text", {}).get("text", "")) for b in slack.home_views[user]["blocks"])


async def test_a_bot_with_a_policy_file_denies_lists_and_audits(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, tmp_path: Path
) -> None:
    """Outside the grant: a private denial naming the agent, the admins and the request ID; help, home per person."""
    admin, sre, person, oncall, ops = unique("U"), unique("U"), unique("U"), unique("U"), unique("C")
    oncall_group = unique("S")
    slack.usergroups[oncall_group] = [oncall]
    file = tmp_path / "policy.yaml"
    file.write_text(policy_text(admin=admin, sre=sre, oncall_group=oncall_group, ops=ops))
    port = free_port()
    env = bot_env(
        slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url, aws_url=moto_url, ORCH_POLICY_FILE=str(file)
    )
    bot = BotProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "bot.log", port=port)
    await bot.start()
    try:
        before = len(bedrock.answer_calls())
        ack = await bot.command(
            "infra: list instances", user=person, channel=ops, response_url=slack.new_response_url()
        )
        body = ack.json()
        assert body["response_type"] == "ephemeral"
        assert "You don't have access to the `infra` agent here." in body["text"]
        assert f"<@{admin}>" in body["text"]
        request_id = REQUEST_ID.search(body["text"])
        assert request_id is not None
        assert len(bedrock.answer_calls()) == before  # nothing reached the model

        assert "`infra`" not in await _help(bot, slack, user=person, channel=ops)
        assert "`general`" in await _help(bot, slack, user=person, channel=ops)
        assert "`infra`" in await _help(bot, slack, user=sre, channel=ops)
        assert "`infra`" not in await _help(bot, slack, user=sre, channel=unique("C"))
        # The Slack user group's member is let in once its members are fetched (at start, in the background).
        deadline = time.monotonic() + 10
        while "`infra`" not in await _help(bot, slack, user=oncall, channel=ops):
            assert time.monotonic() < deadline, bot.log()[-3000:]
            await asyncio.sleep(0.1)

        # The App Home belongs to no channel: what each person may use anywhere, restrictions marked.
        assert "`infra`" not in await _home(bot, slack, user=person)
        home = await _home(bot, slack, user=sre)
        assert "`infra`" in home
        assert "only in" in home
        assert f"<#{ops}>" in home

        audits = [line for line in bot.log_lines() if line.get("event") == "audit.policy"]
        denied = [line for line in audits if line["decision"] == "denied"]
        assert len(denied) == 1
        assert denied[0]["request_id"] == request_id.group(0)
        assert (denied[0]["user_id"], denied[0]["channel_id"], denied[0]["asked"]) == (person, ops, "agent:infra")
        assert denied[0]["rule"] == "no rule allows it"
        loaded = [line for line in bot.log_lines() if line.get("event") == "policy.loaded"]
        assert loaded
        assert loaded[0]["rules"] == 2
    finally:
        await bot.stop()


async def test_a_broken_policy_file_stops_start_up_with_its_lines(
    slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """Exit code 2 and every ``path:line: problem`` on stderr; no traceback."""
    file = tmp_path / "policy.yaml"
    file.write_text('admins: [U0ADMIN01]\nrules:\n  - agents: [infra]\n    users: ["@nobody"]\n    channels: ["*"]\n')
    env = bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url, ORCH_POLICY_FILE=str(file))
    done = await asyncio.to_thread(
        subprocess.run,
        [str(ORCH_BOT), "serve", "--host", "127.0.0.1", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert (
        f"ORCH_POLICY_FILE: {file}:4: rules[0].users[0]: unknown group '@nobody' (groups: none defined)" in done.stderr
    )
    assert "Traceback" not in done.stderr + done.stdout
    assert json.dumps("policy.loaded") not in done.stdout
