"""What operators see: /metrics moving with tasks, refusals and throttles; /readyz following Slack auth."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import aiohttp
import pytest_asyncio

from agents.testing.bedrock import Fault, Reply
from bot.testing.environment import APP_TOKEN, bot_env, free_port
from tests.e2e.harness import BotProcess, unique
from tests.e2e.slackcalls import final_text

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest_asyncio.fixture
async def fresh_bot(slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path) -> AsyncIterator[BotProcess]:
    """A bot with no history and a tight limit (2/minute), so one test can hit it."""
    port = free_port()
    env = bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url, ORCH_RATE_LIMIT="2/minute")
    process = BotProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "bot.log", port=port)
    await process.start()
    yield process
    await process.stop()


async def get(url: str) -> tuple[int, str]:
    """GET ``url``; status and body."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = ",".join(sorted((match.group(2) or "{}")[1:-1].split(","))) if match.group(2) else ""
        if found == wanted:
            return float(match.group(3))
    return 0.0


async def test_metrics_follow_tasks_refusals_and_throttles(
    fresh_bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """After a throttled-then-answered task and a rate-limited one, the counters say exactly that."""
    base = f"http://127.0.0.1:{fresh_bot.port}"
    user, channel = unique("U"), unique("C")
    bedrock.enqueue(Fault("ThrottlingException", latency=0), Reply(text="fine", input_tokens=40, output_tokens=9))
    await fresh_bot.command("general: first", user=user, channel=channel, response_url=slack.new_response_url())
    await final_text(slack, channel, timeout=15)
    await fresh_bot.command("general: second", user=user, channel=unique("C"), response_url=slack.new_response_url())
    refused = await fresh_bot.command(
        "general: third", user=user, channel=unique("C"), response_url=slack.new_response_url()
    )
    assert "limit of 2/minute" in refused.json()["text"]

    status, text = await get(f"{base}/metrics")
    assert status == 200
    assert sample(text, "orch_tasks_total", agent="general", outcome="succeeded") >= 1
    assert sample(text, "orch_admission_refused_total", reason="rate_limited") == 1
    assert sample(text, "orch_bedrock_throttles_total", model=MODEL) == 1
    assert sample(text, "orch_bedrock_retries_total", model=MODEL) == 1
    assert sample(text, "orch_bedrock_calls_total", model=MODEL, outcome="llm_throttled") == 1
    assert sample(text, "orch_bedrock_tokens_total", model=MODEL, direction="output") >= 9
    assert sample(text, "orch_bedrock_client_cpu_seconds_total", model=MODEL) > 0
    assert sample(text, "orch_ack_latency_seconds_count", kind="command") == 3
    assert "orch_tasks_in_flight" in text


async def test_readyz_turns_unready_when_slack_auth_fails(
    slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """/healthz stays alive while /readyz answers 503 naming the Slack problem."""
    port = free_port()
    env = bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url)
    process = BotProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "bot.log", port=port)
    await process.start()
    try:
        slack.fail_next("auth.test", "invalid_auth")
        status, body = await get(f"http://127.0.0.1:{port}/readyz")
        assert status == 503
        assert "invalid_auth" in body
        assert (await get(f"http://127.0.0.1:{port}/healthz"))[0] == 200
    finally:
        await process.stop()


async def test_socket_mode_serves_probes_and_metrics_on_their_own_port(
    slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """In Socket Mode, /healthz, /readyz and /metrics answer on ORCH_METRICS_PORT while connected."""
    metrics_port = free_port()
    env = bot_env(
        slack_api_url=slack.base_url,
        bedrock_url=bedrock.endpoint_url,
        SLACK_APP_TOKEN=APP_TOKEN,
        ORCH_METRICS_PORT=str(metrics_port),
    )
    process = BotProcess(["socket"], env, tmp_path / "socket.log", port=metrics_port)
    await process.start()
    try:
        await slack.wait_socket_connected()
        base = f"http://127.0.0.1:{metrics_port}"
        assert (await get(f"{base}/readyz"))[0] == 200
        status, text = await get(f"{base}/metrics")
        assert status == 200
        assert "orch_tasks_in_flight 0.0" in text
        assert (await get(f"{base}/slack/events"))[0] == 404
    finally:
        assert await process.stop() == 0
