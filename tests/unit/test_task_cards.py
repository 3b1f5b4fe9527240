"""Tool calls shown natively: a task card per call in the streamed answer, the placeholder where Slack refuses them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from agents.events import AnswerDelta, TaskResult, TaskSucceeded, ToolFinished, ToolStarted
from agents.llm import Usage
from agents.redaction import Redactor
from agents.task import Origin, Task, new_request_id
from bot.delivery import ThreadDelivery
from bot.outfilter import OutputFilter
from bot.progress import TaskCards
from bot.slack_budget import SlackBudget
from bot.testing.slack import FakeSlack

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.unit.conftest import FakeTime

THREAD = "1700000000.000100"
ALARMS = "CloudWatch alarms"
LISTING = "Listing CloudWatch alarms in eu-west-1"


@pytest.fixture
async def slack(fake_time: FakeTime) -> AsyncIterator[FakeSlack]:
    """A FakeSlack whose rate limits run on the test's clock."""
    async with FakeSlack(clock=fake_time.clock) as fake:
        yield fake


def _delivery(slack: FakeSlack, fake_time: FakeTime, *, redactor: Redactor | None = None) -> ThreadDelivery:
    return ThreadDelivery(
        AsyncWebClient(token=slack.bot_token, base_url=slack.base_url),
        clean=OutputFilter(redactor or Redactor()),
        channel="C0OPS",
        thread_ts=THREAD,
        region="eu-west-1",
        recipient_team_id="T0TEST",
        recipient_user_id="U0ANA",
        placeholder=False,
        budget=SlackBudget(clock=fake_time.clock),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )


def _task() -> Task:
    origin = Origin(workspace_id="T0TEST", user_id="U0ANA", channel_id="C0OPS", surface="mention")
    return Task(request_id=new_request_id(), origin=origin, text="what's alarming?")


async def _answer_with_a_tool(delivery: ThreadDelivery, fake_time: FakeTime, *, ok: bool = True) -> None:
    task = _task()
    await delivery.emit(ToolStarted(task, "list_alarms", ALARMS, LISTING))
    fake_time.now += 0.4
    await delivery.emit(ToolFinished(task, "list_alarms", ALARMS, ok=ok, seconds=0.4))
    fake_time.now += 1.0
    await delivery.emit(AnswerDelta(task, "Nothing is alarming."))
    result = TaskResult("Nothing is alarming.", "monitor", "scripted", "m", Usage(1, 1), 1.4, 1, sources=(ALARMS,))
    await delivery.emit(TaskSucceeded(task, result))


async def test_each_tool_call_is_a_task_card_in_the_stream_with_its_time_and_data_source(
    slack: FakeSlack, fake_time: FakeTime
) -> None:
    """The stream opens with the tool as a task in progress; it completes in 0.4 s with a link to its data source."""
    await _answer_with_a_tool(_delivery(slack, fake_time), fake_time)

    (start,) = slack.calls_to("chat.startStream")
    assert start.args["task_display_mode"] == "timeline"
    assert start.args["chunks"] == [{"type": "task_update", "id": "task-1", "title": LISTING, "status": "in_progress"}]
    ts = start.response["ts"]
    assert slack.tasks["C0OPS", ts]["task-1"] == {
        "type": "task_update",
        "id": "task-1",
        "title": LISTING,
        "status": "complete",
        "details": "done in 0.4 s · data: CloudWatch alarms",
        "sources": [
            {
                "type": "url",
                "url": "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:",
                "text": ALARMS,
            }
        ],
    }
    assert not slack.calls_to("chat.postMessage")  # no placeholder to post, edit and delete: the card is the sign
    (message,) = [m for m in slack.messages_in_thread("C0OPS", THREAD) if m["ts"] == ts]
    assert message["text"] == "Nothing is alarming."
    assert not slack.is_streaming("C0OPS", ts)


async def test_a_failed_tool_call_is_a_task_card_in_error(slack: FakeSlack, fake_time: FakeTime) -> None:
    """A data source that failed shows as a task in error, saying which source and after how long."""
    await _answer_with_a_tool(_delivery(slack, fake_time), fake_time, ok=False)

    (start,) = slack.calls_to("chat.startStream")
    card = slack.tasks["C0OPS", start.response["ts"]]["task-1"]
    assert card["status"] == "error"
    assert card["details"] == "CloudWatch alarms failed after 0.4 s"


async def test_where_slack_refuses_task_cards_the_tool_shows_in_the_placeholder_as_before(
    slack: FakeSlack, fake_time: FakeTime
) -> None:
    """An older Slack answers invalid_arguments to task chunks: progress goes to the placeholder, the answer streams."""
    slack.task_chunks = False
    delivery = _delivery(slack, fake_time)
    await _answer_with_a_tool(delivery, fake_time)

    refused, start = slack.calls_to("chat.startStream")
    assert refused.response is not None
    assert refused.response["error"] == "invalid_arguments"
    assert "chunks" not in start.args
    assert "task_display_mode" not in start.args
    (placeholder,) = slack.calls_to("chat.postMessage")
    assert LISTING in placeholder.args["text"]
    assert slack.calls_to("chat.delete")[0].args["ts"] == placeholder.response["ts"]
    (message,) = [m for m in slack.messages_in_thread("C0OPS", THREAD) if m["ts"] == start.response["ts"]]
    assert message["text"] == "Nothing is alarming."


async def test_task_card_titles_and_details_pass_the_output_filter(fake_time: FakeTime) -> None:
    """A tool's progress line with a mass mention or a secret reaches the card filtered, never as written."""
    cards = TaskCards(OutputFilter(Redactor(["hunter2-secret"])), region="eu-west-1")

    started = cards.started("grep", "Searching /app for hunter2-secret and <!channel>", source="CloudWatch Logs")
    finished = cards.finished("grep", ok=True, seconds=1.25)

    assert "hunter2-secret" not in started["title"]
    assert "<!channel>" not in started["title"]
    assert finished is not None
    assert finished["title"] == started["title"]
    assert finished["details"] == "done in 1.2 s · data: CloudWatch Logs"
    assert cards.finished("grep", ok=True, seconds=1.0) is None  # each start closes once
