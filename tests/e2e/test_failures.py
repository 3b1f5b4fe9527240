"""When things go wrong: Bedrock faults, long answers, bad signatures, and what reaches the logs."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from agents.testing.bedrock import Fault, Reply
from bot.testing.environment import BOT_TOKEN, SIGNING_SECRET
from bot.testing.slack import app_mention_event, event_callback, sign_request, slash_command_form
from tests.e2e.harness import unique
from tests.e2e.slackcalls import REQUEST_ID, final_text, in_channel

if TYPE_CHECKING:
    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack
    from tests.e2e.harness import BotProcess

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


async def test_throttling_is_retried_then_answered(bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """Two throttles then an answer: the user gets the answer, and the footer shows three attempts."""
    channel = unique("C")
    before = len(bedrock.answer_calls())
    bedrock.enqueue(
        Fault("ThrottlingException", latency=0),
        Fault("ThrottlingException", latency=0),
        Reply(text="recovered"),
    )
    await bot.command("are we ok?", user=unique("U"), channel=channel, response_url=slack.new_response_url())
    update = await final_text(slack, channel, timeout=15)
    assert "recovered" in update
    assert "3 attempts" in update
    assert len(bedrock.answer_calls()) == before + 3


async def test_persistent_throttling_tells_the_user_bedrock_is_busy(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Throttling beyond the retry budget: "busy", how many tries, what to do, and the request ID."""
    channel = unique("C")
    before = len(bedrock.answer_calls())
    bedrock.enqueue(*[Fault("ThrottlingException", latency=0)] * 4)
    await bot.command("are we ok?", user=unique("U"), channel=channel, response_url=slack.new_response_url())
    text = await final_text(slack, channel, timeout=30)
    assert "busy (throttling requests); I tried 4 times" in text
    assert "Try again in a minute" in text
    assert REQUEST_ID.search(text)
    assert len(bedrock.answer_calls()) == before + 4


async def test_access_denied_is_not_retried_and_says_exactly_what_to_fix(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """AccessDenied: one call only; the message names the model and the console/IAM fix."""
    channel = unique("C")
    before = len(bedrock.answer_calls())
    bedrock.enqueue(Fault("AccessDeniedException"))
    await bot.command("hello?", user=unique("U"), channel=channel, response_url=slack.new_response_url())
    text = await final_text(slack, channel)
    assert f"The bot's AWS role cannot invoke model `{MODEL}`" in text
    assert "enable model access in the Bedrock console" in text
    assert "bedrock:InvokeModel" in text
    assert REQUEST_ID.search(text)
    assert len(bedrock.answer_calls()) == before + 1


async def test_long_answer_is_shown_in_part_and_attached_whole(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """An answer over Slack's markdown limit: a valid message with a note, and the full text as a file in the thread."""
    channel = unique("C")
    long_answer = "\n\n".join(f"## Section {i}\n" + "Details of the finding. " * 40 for i in range(25))
    assert len(long_answer) > 12_000
    bedrock.enqueue(Reply(text=long_answer))
    await bot.command("write a long report", user=unique("U"), channel=channel, response_url=slack.new_response_url())
    update = await final_text(slack, channel)
    (upload,) = await slack.wait_for(
        "files.completeUploadExternal", where=lambda c: c.args.get("channel_id") == channel
    )
    assert "is attached as `answer-req-" in update
    (stop,) = [c for c in slack.calls_to("chat.stopStream") if in_channel(channel)(c)]
    assert len(stop.response["message"]["text"]) < 12_000
    (file_id,) = [f["id"] for f in upload.args["files"]]
    assert slack.uploaded_files[file_id].decode() == long_answer.strip()


async def test_unsigned_wrongly_signed_and_stale_requests_get_401_and_do_nothing(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Only Slack-signed, fresh requests are processed."""
    channel = unique("C")
    calls_before = (len(slack.calls), len(bedrock.answer_calls()))
    body = slash_command_form(
        text="steal things", user_id=unique("U"), channel_id=channel, response_url=slack.new_response_url()
    )
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    unsigned = await bot.post(body, form)
    wrong = await bot.post(body, form | sign_request(body, "not-the-secret"))
    stale = await bot.post(body, form | sign_request(body, SIGNING_SECRET, timestamp=int(time.time()) - 301))
    tampered_body = body.replace(b"steal", b"STEAL")
    tampered = await bot.post(tampered_body, form | sign_request(body, SIGNING_SECRET))
    event = json.dumps(
        event_callback(app_mention_event(text="<@UBOT> hi", channel=channel, ts="1.2"), event_id=unique("Ev"))
    ).encode()
    bad_event = await bot.post(event, {"Content-Type": "application/json"} | sign_request(event, "nope"))
    assert [r.status for r in (unsigned, wrong, stale, tampered, bad_event)] == [401] * 5
    assert (len(slack.calls), len(bedrock.answer_calls())) == calls_before


async def test_logs_are_json_bound_to_request_ids_and_free_of_secrets(bot: BotProcess, slack: FakeSlack) -> None:
    """Every line is JSON; task lines carry the request ID from the reply; no token or secret appears."""
    channel = unique("C")
    await bot.command("log check", user=unique("U"), channel=channel, response_url=slack.new_response_url())
    update = await final_text(slack, channel)
    (request_id,) = set(REQUEST_ID.findall(update))
    lines = bot.log_lines()  # raises if any line is not JSON
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert {"task.accepted", "task.succeeded"} <= {line["event"] for line in mine}
    raw = bot.log()
    for secret in (BOT_TOKEN, SIGNING_SECRET, "e2e-secret-access-key-value", "e2eBotTokenValue"):
        assert secret not in raw
    assert "Traceback" not in raw
