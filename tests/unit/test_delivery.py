"""ThreadDelivery's final message against Slack's rate limits: waited out, then delivered privately, never lost.

The real slack_sdk client (with the rate-limit retry handler the bot installs) talks to FakeSlack; the
delivery's own waits go through an injected clock and sleep, so the test asserts them exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from agents.errors import LLMAccessDenied
from agents.events import TaskFailed
from agents.redaction import Redactor
from agents.task import Origin, Task, new_request_id
from bot.delivery import ThreadDelivery
from bot.outfilter import OutputFilter
from bot.testing.slack import FakeSlack

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.unit.conftest import FakeTime

ORIGIN = Origin(workspace_id="T0TEST", user_id="U0ANA", channel_id="C0OPS", surface="command")


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A started FakeSlack, stopped after the test."""
    async with FakeSlack() as fake:
        yield fake


def _delivery(slack: FakeSlack, fake_time: FakeTime) -> ThreadDelivery:
    client = AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    return ThreadDelivery(
        client,
        clean=OutputFilter(Redactor()),
        channel="C0OPS",
        thread_ts="1700000000.000100",
        region="us-east-1",
        recipient_team_id="T0TEST",
        recipient_user_id="U0ANA",
        placeholder=False,
        answer_patience=4.0,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )


def _failure() -> TaskFailed:
    task = Task(request_id=new_request_id(), origin=ORIGIN, text="hello")
    return TaskFailed(task=task, error=LLMAccessDenied(model_id="m"), seconds=0.1)


def _outcomes(slack: FakeSlack, method: str) -> list[str]:
    return [
        "ok" if c.response and c.response.get("ok") else str(c.response and c.response.get("error"))
        for c in slack.calls_to(method)
    ]


async def test_a_final_post_rate_limited_past_the_sdk_retries_waits_as_slack_says_and_lands(
    slack: FakeSlack, fake_time: FakeTime
) -> None:
    """Three 429s in a row (the SDK retries two): the delivery waits Retry-After, and the answer lands in the thread."""
    slack.rate_limit_next("chat.postMessage", retry_after=0, times=3)
    event = _failure()

    await _delivery(slack, fake_time).emit(event)

    assert _outcomes(slack, "chat.postMessage") == ["ratelimited", "ratelimited", "ratelimited", "ok"]
    assert fake_time.sleeps == [1.0]  # Slack said 0: never spin faster than once a second
    (posted,) = slack.messages_in_thread("C0OPS", "1700000000.000100")
    assert event.task.request_id in posted["text"]
    assert not slack.calls_to("chat.postEphemeral")


async def test_a_thread_rate_limited_past_the_patience_gets_the_answer_privately(
    slack: FakeSlack, fake_time: FakeTime
) -> None:
    """Slack keeps saying ratelimited: after 4 s of waiting (the patience) the requester gets it as an ephemeral."""
    slack.rate_limit_next("chat.postMessage", retry_after=0, times=1_000)
    event = _failure()

    await _delivery(slack, fake_time).emit(event)

    assert fake_time.sleeps == [1.0] * 4
    (private,) = slack.calls_to("chat.postEphemeral")
    assert private.args["user"] == "U0ANA"
    assert "rate-limiting" in private.args["text"]
    assert "cannot invoke model `m`" in private.args["text"]
    assert event.task.request_id in private.args["text"]
