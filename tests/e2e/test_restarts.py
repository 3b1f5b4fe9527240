"""Restarts lose nothing and duplicate nothing: SIGTERM drains, ``kill -9`` resumes, attempts are bounded."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

from agents.testing.bedrock import Reply
from bot.testing.environment import bot_env, free_port
from tests.e2e.harness import BotProcess, unique
from tests.e2e.slackcalls import REQUEST_ID, final_text, in_channel, message_text

if TYPE_CHECKING:
    from pathlib import Path

    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack


def http_bot(slack: FakeSlack, bedrock: FakeBedrock, path: Path, store: str, **extra: str) -> BotProcess:
    """An ``orch-bot serve`` on ``store``; a new process each call, sharing the store when given the same URL."""
    port = free_port()
    env = bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url, store_url=store, **extra)
    return BotProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env, path, port=port)


async def wait_answer_call(bedrock: FakeBedrock, count: int) -> None:
    """Wait until the model has received ``count`` answer calls in all."""
    for _ in range(500):
        if len(bedrock.answer_calls()) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the model was never called")


async def test_sigterm_finishes_running_tasks_and_turns_new_ones_away(
    slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """On SIGTERM the in-flight task still answers; a task sent while draining hears "restarting"; exit 0."""
    bot = http_bot(slack, bedrock, tmp_path / "bot.log", f"sqlite:///{tmp_path}/orch.db", ORCH_SHUTDOWN_GRACE="20")
    await bot.start()
    channel = unique("C")
    calls = len(bedrock.answer_calls())
    bedrock.enqueue(Reply(text="finished while draining", latency=1.5))
    await bot.command("general: slow one", user=unique("U"), channel=channel, response_url=slack.new_response_url())
    await wait_answer_call(bedrock, calls + 1)
    assert bot.proc is not None
    bot.proc.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.2)
    late = await bot.command(
        "general: too late", user=unique("U"), channel=unique("C"), response_url=slack.new_response_url()
    )
    assert late.status == 200
    assert "orch is restarting" in late.json()["text"]
    assert REQUEST_ID.search(late.json()["text"])
    assert "finished while draining" in await final_text(slack, channel)
    assert await asyncio.wait_for(bot.proc.wait(), 30) == 0
    await bot.stop()
    assert "task.interrupted" not in bot.log()


async def test_kill_9_mid_task_ends_in_exactly_one_answer_after_restart(
    slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """A process killed while the model works: the next process resumes the task, says so, and answers once."""
    store = f"sqlite:///{tmp_path}/orch.db"
    first = http_bot(slack, bedrock, tmp_path / "first.log", store)
    await first.start()
    channel = unique("C")
    calls = len(bedrock.answer_calls())
    bedrock.enqueue(Reply(text="never delivered", latency=30))
    await first.command(
        "general: survive a crash", user=unique("U"), channel=channel, response_url=slack.new_response_url()
    )
    await wait_answer_call(bedrock, calls + 1)
    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL

    bedrock.enqueue(Reply(text="answered after the restart"))
    second = http_bot(slack, bedrock, tmp_path / "second.log", store)
    await second.start()
    try:
        text = await final_text(slack, channel, timeout=15)
        assert "answered after the restart" in text
        await asyncio.sleep(0.5)
        finals = [c for c in slack.calls if in_channel(channel)(c) and c.method == "chat.stopStream"]
        parents = [
            c for c in slack.calls_to("chat.postMessage") if in_channel(channel)(c) and "thread_ts" not in c.args
        ]
        notices = [
            c
            for c in slack.calls_to("chat.postMessage")
            if in_channel(channel)(c) and "picking it up" in message_text(c)
        ]
        assert len(finals) == 1
        assert len(parents) == 1
        assert len(notices) == 1
        assert '"task.resuming"' in second.log()
    finally:
        await second.stop()


async def test_a_task_interrupted_too_often_is_stopped_and_the_thread_told(
    slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """With ORCH_TASK_MAX_ATTEMPTS=1, a task killed mid-run is not retried: its thread hears why, with the ID."""
    store = f"sqlite:///{tmp_path}/orch.db"
    first = http_bot(slack, bedrock, tmp_path / "first.log", store, ORCH_TASK_MAX_ATTEMPTS="1")
    await first.start()
    channel = unique("C")
    calls = len(bedrock.answer_calls())
    bedrock.enqueue(Reply(text="never delivered", latency=30))
    await first.command("general: doomed", user=unique("U"), channel=channel, response_url=slack.new_response_url())
    await wait_answer_call(bedrock, calls + 1)
    await first.stop(signal.SIGKILL)

    second = http_bot(slack, bedrock, tmp_path / "second.log", store, ORCH_TASK_MAX_ATTEMPTS="1")
    await second.start()
    try:
        (notice,) = await slack.wait_for(
            "chat.postMessage", where=lambda c: in_channel(channel)(c) and "stopped trying" in message_text(c)
        )
        assert REQUEST_ID.search(message_text(notice))
        await asyncio.sleep(0.3)
        assert len(bedrock.answer_calls()) == calls + 1
    finally:
        await second.stop()


async def test_tasks_outlasting_the_grace_period_are_interrupted_then_resumed(
    slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """A task longer than ORCH_SHUTDOWN_GRACE is recorded as interrupted at SIGTERM and finished by the next process."""
    store = f"sqlite:///{tmp_path}/orch.db"
    first = http_bot(slack, bedrock, tmp_path / "first.log", store, ORCH_SHUTDOWN_GRACE="1")
    await first.start()
    channel = unique("C")
    calls = len(bedrock.answer_calls())
    bedrock.enqueue(Reply(text="too slow for the grace period", latency=30))
    await first.command("general: long one", user=unique("U"), channel=channel, response_url=slack.new_response_url())
    await wait_answer_call(bedrock, calls + 1)
    assert await first.stop() == 0
    assert '"task.interrupted"' in first.log()

    bedrock.enqueue(Reply(text="finished by the next process"))
    second = http_bot(slack, bedrock, tmp_path / "second.log", store)
    await second.start()
    try:
        assert "finished by the next process" in await final_text(slack, channel, timeout=15)
        assert len([c for c in slack.calls_to("chat.stopStream") if in_channel(channel)(c)]) == 1
    finally:
        await second.stop()
