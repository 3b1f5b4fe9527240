"""Streams that fail mid-way, and many answers streaming at once in one workspace.

The real slack_sdk client talks to FakeSlack at Slack's rate limits; the delivery, the workspace budget
and the fake share one injected clock, so "later" is exact and nothing sleeps for real.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from agents.events import AnswerDelta, TaskResult, TaskSucceeded
from agents.llm import Usage
from agents.redaction import Redactor
from agents.task import Origin, Task, new_request_id
from bot.delivery import ThreadDelivery
from bot.outfilter import OutputFilter
from bot.slack_budget import SlackBudget
from bot.testing.slack import FakeSlack

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.unit.conftest import FakeTime

THREAD = "1700000000.000100"


@pytest.fixture
async def slack(fake_time: FakeTime) -> AsyncIterator[FakeSlack]:
    """A FakeSlack whose rate limits run on the test's clock."""
    async with FakeSlack(clock=fake_time.clock) as fake:
        yield fake


def _client(slack: FakeSlack, *, sdk_retries: int = 2) -> AsyncWebClient:
    handlers = [AsyncRateLimitErrorRetryHandler(max_retry_count=sdk_retries)] if sdk_retries else []
    return AsyncWebClient(token=slack.bot_token, base_url=slack.base_url, retry_handlers=handlers)


def _delivery(
    client: AsyncWebClient, fake_time: FakeTime, budget: SlackBudget, *, channel: str = "C0OPS"
) -> ThreadDelivery:
    return ThreadDelivery(
        client,
        clean=OutputFilter(Redactor()),
        channel=channel,
        thread_ts=THREAD,
        region="eu-west-1",
        recipient_team_id="T0TEST",
        recipient_user_id="U0ANA",
        placeholder=False,
        budget=budget,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )


def _task(channel: str = "C0OPS") -> Task:
    origin = Origin(workspace_id="T0TEST", user_id="U0ANA", channel_id=channel, surface="mention")
    return Task(request_id=new_request_id(), origin=origin, text="what's up?")


def _done(task: Task, text: str) -> TaskSucceeded:
    return TaskSucceeded(task, TaskResult(text, "general", "scripted", "m", Usage(10, 20), 0.4, 1))


def _errors(slack: FakeSlack, method: str) -> list[str]:
    return [str(c.response["error"]) if c.response and not c.response["ok"] else "ok" for c in slack.calls_to(method)]


async def test_an_append_rate_limited_past_the_sdk_retries_waits_and_the_stream_goes_on(
    slack: FakeSlack, fake_time: FakeTime
) -> None:
    """Three 429s on an append (the SDK retries two): the text waits out Retry-After, the same stream goes on."""
    budget = SlackBudget(clock=fake_time.clock)
    delivery = _delivery(_client(slack), fake_time, budget)
    task = _task()
    await delivery.emit(AnswerDelta(task, "Hello "))
    fake_time.now += 1.0
    slack.rate_limit_next("chat.appendStream", retry_after=0, times=3)
    await delivery.emit(AnswerDelta(task, "world, "))
    assert budget.blocked_for("chat.appendStream") == 1.0  # Slack said 0: held for a second, every answer
    fake_time.now += 0.5
    await delivery.emit(AnswerDelta(task, "still "))  # held: nothing is sent while Slack asked to wait
    fake_time.now += 1.0
    await delivery.emit(AnswerDelta(task, "streaming."))
    await delivery.emit(_done(task, "Hello world, still streaming."))

    assert _errors(slack, "chat.appendStream") == ["ratelimited"] * 3 + ["ok"]
    assert slack.calls_to("chat.appendStream")[-1].args["markdown_text"].startswith("world, still")
    (start,) = slack.calls_to("chat.startStream")
    assert _errors(slack, "chat.stopStream") == ["ok"]
    assert not slack.calls_to("chat.update")
    (message,) = [m for m in slack.messages_in_thread("C0OPS", THREAD) if m["ts"] == start.response["ts"]]
    assert message["text"] == "Hello world, still streaming."
    assert not slack.is_streaming("C0OPS", start.response["ts"])


async def test_a_stream_failing_mid_way_is_stopped_and_then_completed_with_chat_update(
    slack: FakeSlack, fake_time: FakeTime
) -> None:
    """An append Slack refuses (not expiry, not a rate limit) ends the stream first; chat.update then completes it."""
    delivery = _delivery(_client(slack), fake_time, SlackBudget(clock=fake_time.clock))
    task = _task()
    await delivery.emit(AnswerDelta(task, "Part one. "))
    fake_time.now += 1.0
    slack.fail_next("chat.appendStream", "messaging_processing_failed")
    await delivery.emit(AnswerDelta(task, "Part two."))
    fake_time.now += 2.0
    await delivery.emit(_done(task, "Part one. Part two."))

    (start,) = slack.calls_to("chat.startStream")
    ts = start.response["ts"]
    stop, *_ = slack.calls_to("chat.stopStream")
    updates = slack.calls_to("chat.update")
    assert stop.response == {"ok": True, "channel": "C0OPS", "ts": ts, "message": stop.response["message"]}
    assert updates
    assert all(u.at >= stop.at for u in updates)
    assert _errors(slack, "chat.update")[-1] == "ok"
    assert not slack.is_streaming("C0OPS", ts)
    (message,) = [m for m in slack.messages_in_thread("C0OPS", THREAD) if m["ts"] == ts]
    assert "Part one. Part two." in message["blocks"][0]["text"]
    assert "agent `general`" in str(message["blocks"])


async def test_a_stop_rate_limited_past_the_sdk_retries_is_waited_out_before_the_answer_lands(
    slack: FakeSlack, fake_time: FakeTime
) -> None:
    """chat.stopStream keeps answering 429: the delivery waits Retry-After and stops it; nothing edits it mid-stream."""
    delivery = _delivery(_client(slack, sdk_retries=0), fake_time, SlackBudget(clock=fake_time.clock))
    task = _task()
    await delivery.emit(AnswerDelta(task, "All quiet."))
    slack.rate_limit_next("chat.stopStream", retry_after=2, times=2)
    await delivery.emit(_done(task, "All quiet."))

    assert _errors(slack, "chat.stopStream") == ["ratelimited", "ratelimited", "ok"]
    assert fake_time.sleeps == [2.0, 2.0]
    assert not slack.calls_to("chat.update")
    (start,) = slack.calls_to("chat.startStream")
    assert not slack.is_streaming("C0OPS", start.response["ts"])


async def test_many_answers_streaming_at_once_share_the_workspace_appends_and_never_hit_429(
    slack: FakeSlack, fake_time: FakeTime
) -> None:
    """Ten answers stream for a minute in one workspace: each appends less often, and Slack's Tier 4 never says 429.

    Without the shared budget each answer would append twice a second (1,200 appends a minute against
    Slack's 100); with it they take turns, and every word still arrives.
    """
    budget = SlackBudget(clock=fake_time.clock)
    client = _client(slack, sdk_retries=0)
    channels = [f"C0ANS{i:02d}" for i in range(10)]
    deliveries = [_delivery(client, fake_time, budget, channel=c) for c in channels]
    tasks = [_task(c) for c in channels]
    words = [f"w{n} " for n in range(120)]
    for word in words:  # a word every half second, in every answer, for a minute
        await asyncio.gather(*(d.emit(AnswerDelta(t, word)) for d, t in zip(deliveries, tasks, strict=True)))
        fake_time.now += 0.5
    assert budget.answers == 10
    await asyncio.gather(*(d.emit(_done(t, "".join(words))) for d, t in zip(deliveries, tasks, strict=True)))

    assert "ratelimited" not in _errors(slack, "chat.appendStream")
    assert "ratelimited" not in _errors(slack, "chat.stopStream")
    assert len(slack.calls_to("chat.appendStream")) <= 100 + 10  # a minute of Tier 4 (and a full first bucket)
    for channel, start in zip(channels, slack.calls_to("chat.startStream"), strict=True):
        (message,) = [m for m in slack.messages_in_thread(channel, THREAD) if m["ts"] == start.response["ts"]]
        assert message["text"] == "".join(words)
    assert budget.answers == 0
