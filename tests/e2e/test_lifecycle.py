"""The task lifecycle across processes: a suspended task waits durably, and a write effect never runs twice.

Both use the test bench (``ORCH_TEST_TOOLS=true``, :class:`agents.testing.TestBench`): a ``testbench``
agent whose ``request_approval`` call the loop's hook suspends, and whose ``record_change`` is a write
tool appending a line per execution to ``ORCH_TEST_WRITE_LOG``; ``ORCH_TEST_KILL_AT`` makes the process
kill itself with SIGKILL at a moment of that write.
"""

from __future__ import annotations

import asyncio
import json
import signal
from typing import TYPE_CHECKING, Any

import pytest

from agents.testing.bedrock import Reply
from bot.testing.environment import ORCH_BOT, bot_env, free_port
from tests.e2e.harness import BotProcess, unique
from tests.e2e.slackcalls import final_text, in_channel, message_text

if TYPE_CHECKING:
    from pathlib import Path

    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack


def bench_env(slack: FakeSlack, bedrock: FakeBedrock, store: str, **extra: str) -> dict[str, str]:
    """The bot's environment with the test bench on."""
    return bot_env(
        slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url, store_url=store, ORCH_TEST_TOOLS="true", **extra
    )


def http_bot(env: dict[str, str], log: Path) -> BotProcess:
    """An ``orch-bot serve`` with ``env``; a new process each call."""
    port = free_port()
    return BotProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env, log, port=port)


def logged(bot: BotProcess, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``event`` (a line cut by a kill is skipped)."""
    found = []
    for line in bot.log().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == event:
            found.append(entry)
    return found


async def wait_logged(bot: BotProcess, event: str, timeout: float = 15.0) -> dict[str, Any]:
    """The first log line of ``event``, waiting for it."""
    for _ in range(int(timeout / 0.05)):
        if entries := logged(bot, event):
            return entries[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{event} never logged:\n{bot.log()}")


def executed(writes: Path) -> int:
    """How many times the write tool ran (one line each)."""
    return len(writes.read_text().splitlines()) if writes.exists() else 0


def tool_results(bedrock: FakeBedrock) -> list[dict[str, Any]]:
    """Every toolResult the bot sent the model in its latest answer call."""
    messages = bedrock.answer_calls()[-1].body["messages"]
    return [block["toolResult"] for m in messages for block in m["content"] if "toolResult" in block]


async def run_continue(env: dict[str, str], log: Path, request_id: str, result: str) -> int:
    """``orch-bot continue REQUEST_ID RESULT`` as its own process; its exit code."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            str(ORCH_BOT), "continue", request_id, result, env=env, stdout=out, stderr=out
        )
        return await asyncio.wait_for(proc.wait(), 60)


async def test_a_suspended_task_survives_a_restart_and_another_process_continues_it(
    slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """A task suspended before its tool runs waits through a restart; another process continues it to its answer.

    It is ``waiting`` (no slot: SIGTERM has nothing to interrupt; the next process does not resume it);
    ``orch-bot continue`` gives the decision to the model as the tool's result, and the answer lands in the thread.
    """
    store = f"sqlite:///{tmp_path}/orch.db"
    env = bench_env(slack, bedrock, store)
    first = http_bot(env, tmp_path / "first.log")
    await first.start()
    channel = unique("C")
    calls = len(bedrock.answer_calls())
    bedrock.enqueue(
        Reply(
            text="I need an approval first.",
            tool_uses=[{"toolUseId": "tooluse_approve01", "name": "request_approval", "input": {"action": "restart"}}],
        )
    )
    await first.command(
        "testbench: restart the api", user=unique("U"), channel=channel, response_url=slack.new_response_url()
    )
    suspended = await wait_logged(first, "task.suspended")
    request_id = suspended["request_id"]
    waiting = await final_text(slack, channel, timeout=15)  # the message is finished, never left streaming
    assert "Waiting for a decision" in waiting
    assert request_id in waiting
    assert await first.stop() == 0
    assert not logged(first, "task.interrupted")  # waiting is not running: nothing to cut short

    second = http_bot(env, tmp_path / "second.log")
    await second.start()
    try:
        await asyncio.sleep(0.5)
        assert not logged(second, "task.resuming")  # a restart leaves a waiting task alone
        assert len(bedrock.answer_calls()) == calls + 1

        bedrock.enqueue(Reply(text="Approved by ana: the api was restarted."))
        assert await run_continue(env, tmp_path / "continue.log", request_id, "approved by ana") == 0
        text = await final_text(slack, channel, timeout=15, count=2)  # the answer after the waiting note
        assert "the api was restarted" in text
        assert len(bedrock.answer_calls()) == calls + 2
        (result,) = tool_results(bedrock)
        assert result["toolUseId"] == "tooluse_approve01"
        assert "approved by ana" in json.dumps(result["content"])
        said = [message_text(c) for c in slack.calls if in_channel(channel)(c) and c.method == "chat.postMessage"]
        assert not [text for text in said if "picking it up" in text]  # a decision is not a restart
        # Continuing twice is refused: the task no longer waits.
        assert await run_continue(env, tmp_path / "again.log", request_id, "approved again") == 1
    finally:
        await second.stop()


@pytest.mark.parametrize(
    "case",
    [
        ("before", 0, "interrupted"),  # the started entry is durable, the tool never ran
        ("after", 1, "interrupted"),  # the tool ran, its result was not recorded: not run again
        ("recorded", 1, '\\"executions\\":1'),  # the recorded result is given to the model again
    ],
    ids=["before", "after", "recorded"],
)
async def test_a_write_effect_killed_at_its_worst_moment_runs_at_most_once(
    slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path, case: tuple[str, int, str]
) -> None:
    """``kill -9`` just before, just after or once a write tool ran: it runs at most once, and the task answers.

    The next process resumes the task from its checkpoint with the same tool call (same idempotency key),
    finds the call in the effect ledger and never runs the tool a second time.
    """
    moment, executions, told = case
    store = f"sqlite:///{tmp_path}/orch.db"
    writes = tmp_path / "writes.log"
    env = bench_env(slack, bedrock, store, ORCH_TEST_WRITE_LOG=str(writes))
    first = http_bot({**env, "ORCH_TEST_KILL_AT": moment}, tmp_path / "first.log")
    await first.start()
    channel = unique("C")
    bedrock.enqueue(
        Reply(tool_uses=[{"toolUseId": "tooluse_write0001", "name": "record_change", "input": {"change": "scale"}}])
    )
    await first.command(
        "testbench: record the change", user=unique("U"), channel=channel, response_url=slack.new_response_url()
    )
    assert first.proc is not None
    assert await asyncio.wait_for(first.proc.wait(), 20) == -signal.SIGKILL
    await first.stop()
    assert executed(writes) == executions

    bedrock.enqueue(Reply(text="Here is what happened to the change."))
    second = http_bot(env, tmp_path / "second.log")
    await second.start()
    try:
        assert "what happened to the change" in await final_text(slack, channel, timeout=15)
        assert executed(writes) == executions
        (result,) = tool_results(bedrock)
        assert result["toolUseId"] == "tooluse_write0001"
        assert told in json.dumps(result["content"])
        finals = [c for c in slack.calls if in_channel(channel)(c) and c.method == "chat.stopStream"]
        assert len(finals) == 1
    finally:
        await second.stop()
