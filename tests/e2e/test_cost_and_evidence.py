"""What an answer cost and what it rests on, through the real bot: prompt caching and recorded tool calls.

The bot runs as a process against the fake Slack, the fake Bedrock (which accounts cache reads and writes
the way Bedrock does) and moto. A three-call task (two tool turns, then the answer) must read its prefix from
the cache from its second call on; the footer, /metrics and the journal must all carry the same numbers,
and the journal must hold each tool call.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import aiohttp

from agents.stores import SqliteJournal
from agents.testing.bedrock import Reply
from agents.toolcalls import load_calls
from tests.e2e.harness import unique
from tests.e2e.slackcalls import REQUEST_ID, final_text

if TYPE_CHECKING:
    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack
    from tests.e2e.harness import BotProcess

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


def _calls_about(bedrock: FakeBedrock, marker: str) -> list[dict[str, Any]]:
    """The usage the fake answered for each answer call of the task whose question holds ``marker``."""
    return [
        call.usage
        for call in bedrock.answer_calls()
        if call.usage is not None and marker in str(call.body["messages"][0]["content"])
    ]


async def _metric(port: int | None, direction: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    pattern = rf'^orch_bedrock_tokens_total\{{direction="{direction}",model="{re.escape(MODEL)}"\}} (\S+)$'
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_a_tool_using_task_reads_its_prefix_from_the_cache_and_journals_its_calls(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Calls 2 and 3 read all the earlier calls wrote; footer, metrics and journal agree; each tool call is kept."""
    marker = unique("alarms-")
    read_before = await _metric(bot.port, "cache_read")
    bedrock.enqueue(
        Reply(text="Checking alarms. ", tool_uses=[{"name": "list_alarms", "input": {"state": "ALARM"}}]),
        Reply(tool_uses=[{"name": "list_alarms", "input": {"state": "INSUFFICIENT_DATA"}}]),
        Reply(text="Nothing is alarming."),
    )
    channel = unique("C")
    await bot.command(
        f"monitor: what's alarming? ({marker})",
        user=unique("U"),
        channel=channel,
        response_url=slack.new_response_url(),
    )
    text = await final_text(slack, channel, timeout=20)

    first, second, third = _calls_about(bedrock, marker)
    first_prefix = first.get("cacheReadInputTokens", 0) + first["cacheWriteInputTokens"]
    assert first["cacheWriteInputTokens"] > 0
    assert second["cacheReadInputTokens"] == first_prefix
    assert third["cacheReadInputTokens"] == first_prefix + second["cacheWriteInputTokens"]
    read = sum(u.get("cacheReadInputTokens", 0) for u in (first, second, third))
    total = sum(
        u["inputTokens"] + u.get("cacheReadInputTokens", 0) + u.get("cacheWriteInputTokens", 0)
        for u in (first, second, third)
    )
    assert f"{total:,} in ({read:,} cached) / " in text
    assert await _metric(bot.port, "cache_read") - read_before == read

    (request_id,) = set(REQUEST_ID.findall(text))
    journal = await SqliteJournal.open(bot.env["ORCH_STORE_URL"].removeprefix("sqlite:///"))
    try:
        record = await journal.get(request_id)
    finally:
        await journal.close()
    assert record is not None
    assert (record.input_tokens, record.cache_read_tokens) == (total, read)
    assert record.cache_write_tokens == sum(u.get("cacheWriteInputTokens", 0) for u in (first, second, third))
    calls = load_calls(record.tool_calls)
    assert [(c.tool, c.input["state"], c.ok, c.error) for c in calls] == [
        ("list_alarms", "ALARM", True, None),
        ("list_alarms", "INSUFFICIENT_DATA", True, None),
    ]
    assert all(c.source == "CloudWatch alarms" and c.output and c.seconds >= 0 for c in calls)
