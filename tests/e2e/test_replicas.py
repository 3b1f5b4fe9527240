"""Two replicas sharing Redis: limits and dedupe hold across them, and a dead replica's task is finished once.

Real processes against the Redis named by REDIS_URL (scripts/test.sh provides one), each test under its
own key prefix, deleted afterwards. Without Redis these are skipped with the reason shown (failed in CI).
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from typing import TYPE_CHECKING

import pytest_asyncio

from agents.testing.bedrock import Reply
from agents.testing.redis_keys import delete_prefix
from bot.testing.environment import bot_env, free_port
from bot.testing.slack import app_mention_event
from tests.e2e.harness import BotProcess, unique
from tests.e2e.slackcalls import REQUEST_ID, final_text, in_channel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack


@pytest_asyncio.fixture
async def replicas(
    redis_url: str, slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path
) -> AsyncIterator[tuple[BotProcess, BotProcess]]:
    """Two ``orch-bot serve`` processes on one Redis (2/minute limit, tasks claimed after 2 s idle)."""
    prefix = f"orch-e2e-{uuid.uuid4().hex[:8]}:"
    bots = []
    for name in ("a", "b"):
        port = free_port()
        env = bot_env(
            slack_api_url=slack.base_url,
            bedrock_url=bedrock.endpoint_url,
            store_url=redis_url,
            ORCH_REDIS_PREFIX=prefix,
            ORCH_RATE_LIMIT="2/minute",
            ORCH_CLAIM_IDLE_SECONDS="2",
            ORCH_TASK_MAX_ATTEMPTS="3",
        )
        bots.append(
            BotProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / f"{name}.log", port=port)
        )
    await asyncio.gather(*(bot.start() for bot in bots))
    yield bots[0], bots[1]
    await asyncio.gather(*(bot.stop() for bot in bots))
    await delete_prefix(redis_url, prefix)


async def test_an_event_delivered_to_both_replicas_is_answered_once(
    replicas: tuple[BotProcess, BotProcess], slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """The same event_id reaching each replica (Slack's retry went to the other one) gives one answer."""
    a, b = replicas
    channel = unique("C")
    mention = slack.seed_message(channel, "<@UBOT> general: hello replicas")
    event = app_mention_event(text=mention["text"], user=unique("U"), channel=channel, ts=mention["ts"])
    event_id = unique("Ev")
    calls = len(bedrock.answer_calls())
    assert (await a.event(event, event_id=event_id)).status == 200
    assert (await b.event(event, event_id=event_id, retry_num=1)).status == 200
    await final_text(slack, channel)
    await asyncio.sleep(0.5)
    assert len([c for c in slack.calls_to("chat.stopStream") if in_channel(channel)(c)]) == 1
    assert len(bedrock.answer_calls()) == calls + 1


async def test_a_users_rate_limit_holds_across_replicas(
    replicas: tuple[BotProcess, BotProcess], slack: FakeSlack
) -> None:
    """Two tasks through A and B use up a 2/minute limit: the third, through A, is refused."""
    a, b = replicas
    user = unique("U")
    for bot in (a, b):
        channel = unique("C")
        ack = await bot.command("general: count me", user=user, channel=channel, response_url=slack.new_response_url())
        assert ack.body == ""
        await final_text(slack, channel)
    refused = await a.command(
        "general: one more", user=user, channel=unique("C"), response_url=slack.new_response_url()
    )
    assert "limit of 2/minute" in refused.json()["text"]


async def test_a_task_held_by_a_killed_replica_is_finished_by_the_other_once(
    replicas: tuple[BotProcess, BotProcess], slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Kill -9 the replica running a task: the survivor claims it after the idle timeout and answers once."""
    a, b = replicas
    channel = unique("C")
    bedrock.enqueue(Reply(text="never delivered", latency=60))
    await a.command(
        "general: outlive your replica", user=unique("U"), channel=channel, response_url=slack.new_response_url()
    )
    (parent,) = await slack.wait_for(
        "chat.postMessage", where=lambda c: in_channel(channel)(c) and "thread_ts" not in c.args, timeout=10
    )
    (request_id,) = set(REQUEST_ID.findall(str(parent.args["blocks"])))
    await asyncio.sleep(0.3)
    runner, survivor = (a, b) if request_id in a.routed() else (b, a)
    assert request_id in runner.routed()
    bedrock.enqueue(Reply(text="finished by the survivor"))
    killed_at = time.monotonic()
    await runner.stop(signal.SIGKILL)

    text = await final_text(slack, channel, timeout=30)
    takeover = time.monotonic() - killed_at
    assert "finished by the survivor" in text
    await asyncio.sleep(0.5)
    assert len([c for c in slack.calls_to("chat.stopStream") if in_channel(channel)(c)]) == 1
    assert (
        len([c for c in slack.calls_to("chat.postMessage") if in_channel(channel)(c) and "thread_ts" not in c.args])
        == 1
    )
    assert request_id in survivor.routed()
    print(f"takeover after kill -9: {takeover:.1f}s (claim idle 2 s)")  # noqa: T201 - a figure for the notes
