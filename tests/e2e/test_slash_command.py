"""``/orchestrate`` end to end: the real bot over HTTP, the fake Slack and the fake Bedrock."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from agents.testing.bedrock import Reply
from tests.e2e.harness import unique
from tests.e2e.slackcalls import REQUEST_ID, final_text, in_channel, message_text

if TYPE_CHECKING:
    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack
    from tests.e2e.harness import BotProcess


async def test_slash_command_is_acked_at_once_and_answer_streams_into_a_thread(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Empty fast ack; a visible parent names the asker and the request; the answer streams in its thread."""
    channel, user = unique("C"), unique("U")
    answer = "**Checkout** is slow because the *db* pool is exhausted."
    bedrock.enqueue(Reply(text=answer, input_tokens=120, output_tokens=30))
    ack = await bot.command("why is checkout slow?", user=user, channel=channel, response_url=slack.new_response_url())
    assert ack.status == 200
    assert ack.body == ""

    (parent,) = await slack.wait_for(
        "chat.postMessage", where=lambda c: in_channel(channel)(c) and "thread_ts" not in c.args
    )
    assert f"<@{user}> asked" in message_text(parent)
    assert "why is checkout slow?" in message_text(parent)
    parent_ts = parent.response["ts"]

    text = await final_text(slack, channel)
    # The parent names the request; the thread gets the answer only (no placeholder to post and delete).
    in_thread = [
        c for c in slack.calls_to("chat.postMessage") if in_channel(channel)(c) and c.args.get("thread_ts") == parent_ts
    ]
    assert in_thread == []
    assert not [c for c in slack.calls_to("chat.delete") if in_channel(channel)(c)]
    (start,) = [c for c in slack.calls_to("chat.startStream") if in_channel(channel)(c)]
    assert start.args["thread_ts"] == parent_ts
    assert (start.args["recipient_user_id"], start.args["recipient_team_id"]) == (user, "T0TEST")
    assert text.startswith(answer + "\n")
    assert "agent `general`" in text
    assert "120 in / 30 out tokens" in text
    request_ids = set(REQUEST_ID.findall(text))
    assert len(request_ids) == 1
    assert request_ids == set(REQUEST_ID.findall(str(parent.args["blocks"])))
    sent = bedrock.answer_calls()[-1].body["messages"]
    # The question ends in a prompt-cache point (the default model is a Claude): a follow-up reads it from the cache.
    assert sent == [
        {"role": "user", "content": [{"text": "why is checkout slow?"}, {"cachePoint": {"type": "default"}}]}
    ]


async def test_explicit_agent_prefix_is_used_and_shown(bot: BotProcess, slack: FakeSlack) -> None:
    """``general: …`` runs the general agent and the footer says it was asked for."""
    channel = unique("C")
    await bot.command("general: explain 502s", user=unique("U"), channel=channel, response_url=slack.new_response_url())
    update = await final_text(slack, channel)
    assert "echo: explain 502s" in update
    assert "you asked for `general:`" in update


async def test_empty_command_and_help_show_usage_privately(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """``/orchestrate`` and ``/orchestrate help`` answer in the ack: forms, agents with examples, limits."""
    before = len(bedrock.answer_calls())
    for text in ("", "help"):
        ack = await bot.command(text, user=unique("U"), channel=unique("C"), response_url=slack.new_response_url())
        body = ack.json()
        assert ack.status == 200
        assert body["response_type"] == "ephemeral"
        assert "`general`" in body["text"]
        assert "/orchestrate general:" in body["text"]
        assert "5/minute" in body["text"]
        assert "4,000 characters" in body["text"]
    assert len(bedrock.answer_calls()) == before


async def test_invalid_tasks_get_a_private_error_with_an_example_and_never_reach_bedrock(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Too long and misspelt-agent tasks are refused in the ack with what to do and the request ID."""
    before = len(bedrock.answer_calls())
    cases = {
        "x" * 4001: "4,001 characters",
        "genral: explain 502s": "Did you mean `general`",
        "general:   ": "nothing to do",
    }
    for text, expected in cases.items():
        channel = unique("C")
        ack = await bot.command(text, user=unique("U"), channel=channel, response_url=slack.new_response_url())
        body = ack.json()
        assert ack.status == 200
        assert body["response_type"] == "ephemeral"
        assert expected in body["text"]
        assert "Try `/orchestrate" in body["text"]
        assert REQUEST_ID.search(body["text"])
        assert not slack.calls_to("chat.postMessage") or not [
            c for c in slack.calls_to("chat.postMessage") if in_channel(channel)(c)
        ]
    assert len(bedrock.answer_calls()) == before


async def test_control_characters_are_stripped_before_bedrock(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Bidi overrides and control characters are removed; Slack markup is normalised for the model."""
    channel = unique("C")
    await bot.command(
        "why\u202e is <#C42|payments> \x07slow? see <https://grafana.example/d/1|dash>",
        user=unique("U"),
        channel=channel,
        response_url=slack.new_response_url(),
    )
    await final_text(slack, channel)
    sent = bedrock.answer_calls()[-1].body["messages"][0]["content"][0]["text"]
    assert sent == "why is #payments slow? see dash (https://grafana.example/d/1)"


async def test_bot_not_in_channel_answers_privately_with_an_invite_hint(bot: BotProcess, slack: FakeSlack) -> None:
    """When the parent cannot be posted, the user is told to invite the bot and still gets the answer privately."""
    channel = unique("C")
    slack.not_in_channel.add(channel)
    url = slack.new_response_url()
    ack = await bot.command("what is an ENI?", user=unique("U"), channel=channel, response_url=url)
    assert ack.status == 200
    hint, answer = await slack.wait_for("response_url", count=2, where=lambda c: c.args.get("_url") == url)
    assert "/invite @orch" in hint.args["text"]
    assert hint.args["response_type"] == "ephemeral"
    assert "echo: what is an ENI?" in message_text(answer)
    assert REQUEST_ID.search(message_text(answer))


async def test_rate_limit_applies_per_user(bot: BotProcess, slack: FakeSlack) -> None:
    """A user's sixth task in a minute is refused with the limit, seconds to wait and request ID; another user is unaffected."""
    ana, ben = unique("U"), unique("U")
    for i in range(5):
        channel = unique("C")
        ack = await bot.command(f"question {i}", user=ana, channel=channel, response_url=slack.new_response_url())
        assert ack.body == ""
        await final_text(slack, channel)  # one at a time: the concurrency cap is not what this test is about
    refused = await bot.command("one more", user=ana, channel=unique("C"), response_url=slack.new_response_url())
    text = refused.json()["text"]
    assert "limit of 5/minute" in text
    assert re.search(r"Try again in \d+ seconds?", text)
    assert REQUEST_ID.search(text)
    channel = unique("C")
    other = await bot.command("my first", user=ben, channel=channel, response_url=slack.new_response_url())
    assert other.body == ""
    await final_text(slack, channel)  # leave nothing running for the next test
