"""ThreadDelivery over the real Slack client and the fake Slack: a stream whose shown text would change is rewritten."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from agents.events import AnswerDelta, TaskResult, TaskStarted, TaskSucceeded
from agents.llm import Usage
from agents.redaction import Redactor
from agents.task import Origin, Task
from bot.delivery import ThreadDelivery
from bot.outfilter import OutputFilter
from bot.testing.slack import FakeSlack

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

PHRASE = "open sesame please"  # a secret with spaces: only whole is it recognisable


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A started FakeSlack, stopped after the test."""
    async with FakeSlack() as fake:
        yield fake


async def test_a_stream_the_filter_would_change_is_rewritten_whole(slack: FakeSlack) -> None:
    """When a later piece completes a secret already partly shown, the message is rewritten, filtered, in place."""
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
    parent = await client.chat_postMessage(channel="C0OPS", text="asked")
    delivery = ThreadDelivery(
        client,
        clean=OutputFilter(Redactor([PHRASE])),
        channel="C0OPS",
        thread_ts=parent["ts"],
        region="us-east-1",
        recipient_team_id="T0TEST",
        recipient_user_id="U0ANA",
        placeholder=False,
        flush_interval=0.0,
    )
    task = Task(
        request_id="req-delivery01",
        origin=Origin(workspace_id="T0TEST", user_id="U0ANA", channel_id="C0OPS", surface="command"),
        text="the phrase?",
    )
    pieces = ["The phrase is open ", "sesame ", "please and <!here> nothing ", "else."]
    await delivery.emit(TaskStarted(task))
    for piece in pieces:
        await delivery.emit(AnswerDelta(task, piece))
    result = TaskResult("".join(pieces), "general", "scripted", "m", Usage(1, 1), 0.1, 1)
    await delivery.emit(TaskSucceeded(task, result))

    (start,) = slack.calls_to("chat.startStream")
    (stop,) = slack.calls_to("chat.stopStream")  # ended as it stood, adding nothing…
    assert "markdown_text" not in stop.args
    final = slack.calls_to("chat.update")[-1]  # …then rewritten whole, filtered
    assert final.at > stop.at
    assert final.args["ts"] == start.response["ts"]
    shown = final.args["blocks"][0]["text"]
    assert shown.startswith("The phrase is [REDACTED] and @\u200bhere nothing else.")
    stored = slack.messages_in_thread("C0OPS", parent["ts"])[-1]
    assert PHRASE not in stored["text"]
    assert "sesame" not in stored["text"]
