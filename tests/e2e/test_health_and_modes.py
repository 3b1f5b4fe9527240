"""``/orch-health`` with Bedrock up and down, Socket Mode, and start-up with bad settings.

Each scenario runs its own bot process, so its state (recent Bedrock errors, connections) is its own.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from bot.testing.environment import APP_TOKEN, ORCH_BOT, bot_env, free_port
from bot.testing.slack import app_mention_event, event_callback
from tests.e2e.harness import BotProcess, unique
from tests.e2e.slackcalls import REQUEST_ID, final_text, in_channel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack


async def start_http_bot(tmp_path: Path, env: dict[str, str]) -> BotProcess:
    """A fresh ``orch-bot serve`` with ``env``."""
    port = free_port()
    process = BotProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "bot.log", port=port)
    await process.start()
    return process


@pytest_asyncio.fixture
async def fresh_bot(slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path) -> AsyncIterator[BotProcess]:
    """A bot with no history, against the working fakes."""
    process = await start_http_bot(tmp_path, bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url))
    yield process
    await process.stop()


@pytest_asyncio.fixture
async def bot_without_bedrock(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[BotProcess]:
    """A bot whose Bedrock endpoint refuses connections."""
    env = bot_env(
        slack_api_url=slack.base_url,
        bedrock_url=f"http://127.0.0.1:{free_port()}",
        BEDROCK_DEADLINE_SECONDS="5",
    )
    process = await start_http_bot(tmp_path, env)
    yield process
    await process.stop()


async def health(bot: BotProcess, slack: FakeSlack) -> str:
    """Run ``/orch-health`` and return the private report's text."""
    url = slack.new_response_url()
    ack = await bot.command("", command="/orch-health", user=unique("U"), channel=unique("C"), response_url=url)
    assert ack.status == 200
    assert ack.body == ""
    (report,) = await slack.wait_for("response_url", where=lambda c: c.args.get("_url") == url, timeout=15)
    assert report.args["response_type"] == "ephemeral"
    return str(report.args["text"])


async def test_health_is_healthy_when_slack_and_bedrock_are_up(
    fresh_bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Every check green; the model was probed once, and a second report reuses the cached result."""
    before = len(bedrock.answer_calls())
    text = await health(fresh_bot, slack)
    assert "*orch-bot is healthy*" in text
    for check in (
        "*Slack*: connected to Test as @orch",
        "*Bedrock*",
        "*Agents*: 4 registered: `general`, `infra`, `logs`, `monitor`",
        "*Rate limiter*: 5/minute per person",
    ):
        assert check in text
    assert "version 0.1.0" in text
    assert "0 tasks in flight" in text
    await health(fresh_bot, slack)
    assert len(bedrock.answer_calls()) == before + 1


async def test_health_works_and_says_unhealthy_when_bedrock_is_down(
    bot_without_bedrock: BotProcess, slack: FakeSlack
) -> None:
    """Bedrock unreachable: the report still arrives, Slack green, Bedrock red with the last error."""
    text = await health(bot_without_bedrock, slack)
    assert "*orch-bot is unhealthy*" in text
    assert ":large_green_circle: *Slack*" in text
    assert ":red_circle: *Bedrock*" in text
    assert "last error llm_transient" in text


async def test_task_while_bedrock_is_down_ends_in_a_clear_message(
    bot_without_bedrock: BotProcess, slack: FakeSlack
) -> None:
    """Connection failures are retried within the deadline, then the user hears Bedrock is not answering."""
    channel = unique("C")
    await bot_without_bedrock.command(
        "are we ok?", user=unique("U"), channel=channel, response_url=slack.new_response_url()
    )
    text = await final_text(slack, channel, timeout=30)
    assert "Amazon Bedrock is not answering" in text
    assert REQUEST_ID.search(text)


async def test_socket_mode_acks_and_answers_commands_and_mentions(
    slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """``orch-bot socket`` connects through SLACK_API_URL, acks envelopes, and answers in threads."""
    env = bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url, SLACK_APP_TOKEN=APP_TOKEN)
    env.pop("SLACK_SIGNING_SECRET")
    process = BotProcess([], env, tmp_path / "socket.log")  # bare orch-bot picks Socket Mode from SLACK_APP_TOKEN
    opened = slack.socket_connections_opened
    await process.start(ready="log")
    try:
        await slack.wait_socket_connected()
        assert slack.socket_connections_opened == opened + 1
        channel, user = unique("C"), unique("U")
        command = {
            "command": "/orchestrate",
            "text": "what is IAM?",
            "user_id": user,
            "user_name": "ana",
            "channel_id": channel,
            "team_id": "T0TEST",
            "response_url": slack.new_response_url(),
            "trigger_id": "1.2.3",
            "api_app_id": "A0TEST",
        }
        envelope = await slack.socket_send("slash_commands", command)
        ack = await slack.socket_ack(envelope)
        assert ack["envelope_id"] == envelope
        update = await final_text(slack, channel)
        assert "echo: what is IAM?" in update

        mention = slack.seed_message(channel, "<@UBOT> and STS?")
        payload = event_callback(
            app_mention_event(text=mention["text"], user=user, channel=channel, ts=mention["ts"]),
            event_id=unique("Ev"),
        )
        await slack.socket_ack(await slack.socket_send("events_api", payload))
        await slack.socket_ack(await slack.socket_send("events_api", payload, retry_attempt=1, retry_reason="timeout"))
        await final_text(slack, channel, count=2)
        await asyncio.sleep(0.3)
        assert len([c for c in slack.calls_to("chat.stopStream") if in_channel(channel)(c)]) == 2
    finally:
        assert await process.stop() == 0
    assert '"mode": "socket"' in process.log()


@pytest.mark.parametrize(
    ("args", "env_changes", "expected"),
    [
        (
            ["serve"],
            {"SLACK_BOT_TOKEN": None, "SLACK_SIGNING_SECRET": None},
            ["SLACK_BOT_TOKEN: missing", "SLACK_SIGNING_SECRET: missing"],
        ),
        (["socket"], {"SLACK_APP_TOKEN": "xoxb-wrong-kind"}, ["SLACK_APP_TOKEN: does not start with xapp-"]),
        (
            ["serve"],
            {"ORCH_RATE_LIMIT": "lots", "AWS_REGION": " "},
            ["ORCH_RATE_LIMIT: cannot read 'lots' as a rate", "AWS_REGION"],
        ),
        (
            ["serve"],
            {"SLACK_API_URL": "ftp://x", "ORCH_LOG_FORMAT": "xml"},
            ["SLACK_API_URL", "ORCH_LOG_FORMAT"],
        ),
    ],
    ids=["missing-tokens", "wrong-app-token", "bad-rate-and-region", "bad-url-and-format"],
)
async def test_bad_settings_stop_start_up_with_one_readable_message(
    args: list[str], env_changes: dict[str, str | None], expected: list[str]
) -> None:
    """Exit code 2, every problem with its fix on stderr, no traceback and no secret."""
    env = bot_env(slack_api_url="http://127.0.0.1:9/api/", bedrock_url="http://127.0.0.1:9")
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    proc = await asyncio.create_subprocess_exec(
        str(ORCH_BOT), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    stderr = err.decode()
    assert proc.returncode == 2, stderr
    assert stderr.startswith("orch-bot cannot start:")
    for fragment in expected:
        assert fragment in stderr
    assert "Traceback" not in stderr
    assert env.get("SLACK_SIGNING_SECRET", "absent") not in stderr
    assert json.dumps(out.decode()) == '""'
