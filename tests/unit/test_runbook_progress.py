"""A runbook's steps in the thread: a plan of task cards, or one checklist message edited in place where refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from agents.events import AnswerDelta, RunbookStarted, StepFinished, StepStarted, TaskResult, TaskSucceeded
from agents.llm import Usage
from agents.redaction import Redactor
from agents.task import Origin, RunbookCall, Task, new_request_id
from bot.delivery import ThreadDelivery
from bot.outfilter import OutputFilter
from bot.slack_budget import SlackBudget
from bot.testing.slack import FakeSlack

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.unit.conftest import FakeTime

THREAD = "1700000000.000100"
STEPS = (("alarms", "monitor"), ("deploy", "infra"), ("summary", "general"))


@pytest.fixture
async def slack(fake_time: FakeTime) -> AsyncIterator[FakeSlack]:
    """A FakeSlack whose rate limits run on the test's clock."""
    async with FakeSlack(clock=fake_time.clock) as fake:
        yield fake


def _delivery(slack: FakeSlack, fake_time: FakeTime) -> ThreadDelivery:
    return ThreadDelivery(
        AsyncWebClient(token=slack.bot_token, base_url=slack.base_url),
        clean=OutputFilter(Redactor()),
        channel="C0OPS",
        thread_ts=THREAD,
        region="us-east-1",
        recipient_team_id="T0TEST",
        recipient_user_id="U0ANA",
        placeholder=False,
        budget=SlackBudget(clock=fake_time.clock),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )


async def _run(delivery: ThreadDelivery, fake_time: FakeTime) -> Task:
    """A three-step run: alarms (with a data source) and deploy, then the summary streams."""
    origin = Origin(workspace_id="T0TEST", user_id="U0ANA", channel_id="C0OPS", surface="command")
    call = RunbookCall(name="triage", params={"service": "checkout"})
    task = Task(request_id=new_request_id(), origin=origin, text="run triage service=checkout", runbook=call)
    await delivery.emit(RunbookStarted(task, "triage", STEPS))
    await delivery.emit(StepStarted(task, "alarms", "monitor"))
    await delivery.emit(StepStarted(task, "deploy", "infra"))
    fake_time.now += 2.0
    await delivery.emit(
        StepFinished(task, "alarms", "monitor", ok=True, seconds=2.0, output="2 alarms", sources=("CloudWatch alarms",))
    )
    await delivery.emit(StepFinished(task, "deploy", "infra", ok=False, seconds=2.1, error="ECS failed"))
    await delivery.emit(StepStarted(task, "summary", "general"))
    fake_time.now += 1.0
    await delivery.emit(AnswerDelta(task, "Checkout is degraded."))
    await delivery.emit(StepFinished(task, "summary", "general", ok=True, seconds=1.0, output="Checkout is degraded."))
    result = TaskResult("Checkout is degraded.", "runbook triage", "runbook triage", "", Usage(3, 3), 3.1, 3)
    await delivery.emit(TaskSucceeded(task, result))
    return task


async def test_steps_are_a_plan_of_task_cards_with_times_and_sources(slack: FakeSlack, fake_time: FakeTime) -> None:
    """The stream opens as a plan with every step pending; each ends complete or error with its time and source."""
    task = await _run(_delivery(slack, fake_time), fake_time)
    (start,) = slack.calls_to("chat.startStream")
    assert start.args["task_display_mode"] == "plan"
    assert [(c["id"], c["status"]) for c in start.args["chunks"]] == [
        ("step-alarms", "pending"),
        ("step-deploy", "pending"),
        ("step-summary", "pending"),
    ]
    shown = slack.tasks["C0OPS", start.response["ts"]]
    assert shown["step-alarms"]["status"] == "complete"
    assert shown["step-alarms"]["details"] == "done in 2.0 s · data: CloudWatch alarms"
    assert shown["step-alarms"]["sources"][0]["text"] == "CloudWatch alarms"
    assert shown["step-deploy"] == {
        "type": "task_update",
        "id": "step-deploy",
        "title": "deploy (infra)",
        "status": "error",
        "details": "failed after 2.1 s: ECS failed",
    }
    assert shown["step-summary"]["status"] == "complete"
    assert slack.calls_to("chat.postMessage") == []  # no checklist message: the plan is in the answer
    (upload,) = slack.calls_to("files.completeUploadExternal")
    content = slack.uploaded_files[upload.args["files"][0]["id"]].decode()
    assert content.startswith(f"Runbook triage · {task.request_id}")
    assert "## alarms (monitor) · complete\n\n2 alarms" in content
    assert "## deploy (infra) · error\n\n(no output: ECS failed)" in content


async def test_where_task_cards_are_refused_one_checklist_message_is_edited_in_place(
    slack: FakeSlack, fake_time: FakeTime
) -> None:
    """An older Slack refuses the chunks: one checklist message, updated per step, and the summary below it."""
    slack.task_chunks = False
    await _run(_delivery(slack, fake_time), fake_time)
    (checklist,) = slack.calls_to("chat.postMessage")
    assert checklist.args["thread_ts"] == THREAD
    assert checklist.args["text"].startswith("*Runbook `triage`*\n◻️ `alarms` (monitor)")
    updates = [c for c in slack.calls_to("chat.update") if c.args["ts"] == checklist.response["ts"]]
    assert len(updates) == 6  # each step started and finished: one edit each, never a new message
    last = updates[-1].args["text"]
    assert ":white_check_mark: `alarms` (monitor): done in 2.0 s · data: CloudWatch alarms" in last
    assert ":x: `deploy` (infra): failed after 2.1 s: ECS failed" in last
    assert ":white_check_mark: `summary` (general)" in last
    (stream,) = [c for c in slack.calls_to("chat.startStream") if c.response and c.response.get("ok")]
    assert "chunks" not in stream.args or not stream.args["chunks"]
