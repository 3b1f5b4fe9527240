"""Mentions, threads, direct messages, the assistant pane, and Slack's redeliveries."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from bot.testing.slack import app_mention_event, dm_message_event
from tests.e2e.harness import unique
from tests.e2e.slackcalls import REQUEST_ID, final_text, in_channel, message_text

if TYPE_CHECKING:
    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack
    from tests.e2e.harness import BotProcess


async def test_mention_in_a_channel_is_answered_in_a_thread_under_it(bot: BotProcess, slack: FakeSlack) -> None:
    """``@orch …`` at the top level: placeholder and answer go in the thread under the mention."""
    channel = unique("C")
    mention = slack.seed_message(channel, "<@UBOT> what is an ALB?")
    ack = await bot.event(app_mention_event(text=mention["text"], user=unique("U"), channel=channel, ts=mention["ts"]))
    assert ack.status == 200
    update = await final_text(slack, channel)
    (placeholder,) = [c for c in slack.calls_to("chat.postMessage") if in_channel(channel)(c)]
    assert placeholder.args["thread_ts"] == mention["ts"]
    (start,) = [c for c in slack.calls_to("chat.startStream") if in_channel(channel)(c)]
    assert start.args["thread_ts"] == mention["ts"]
    assert "echo: what is an ALB?" in update
    assert REQUEST_ID.search(update)


async def test_mention_inside_a_thread_gives_the_model_the_thread_as_context(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Mentioned in a thread: answered there, with earlier messages (not the mention itself) delimited one by one."""
    channel = unique("C")
    parent = slack.seed_message(channel, "checkout p99 is 4s since the deploy", user="U0ANA")
    slack.seed_message(channel, "db CPU at 95% &amp; connections maxed", user="U0BEN", thread_ts=parent["ts"])
    mention = slack.seed_message(channel, "<@UBOT> what should we check first?", user="U0ANA", thread_ts=parent["ts"])
    await bot.event(
        app_mention_event(text=mention["text"], user="U0ANA", channel=channel, ts=mention["ts"], thread_ts=parent["ts"])
    )
    update = await final_text(slack, channel)
    assert all(
        c.args.get("thread_ts") == parent["ts"] for c in slack.calls_to("chat.postMessage") if in_channel(channel)(c)
    )
    sent = bedrock.answer_calls()[-1].first_turn_text()
    assert sent.startswith(
        '<thread_context author="user">\ncheckout p99 is 4s since the deploy\n</thread_context>\n'
        '<thread_context author="user">\ndb CPU at 95% & connections maxed\n</thread_context>\n'
    )
    assert sent.endswith("what should we check first?")
    assert sent.count("what should we check first?") == 1
    assert "echo:" in update


@pytest.mark.parametrize(
    ("status", "content_type"),
    [(405, "text/plain"), (502, "application/json"), (502, "text/html")],
    ids=["405-text", "502-mislabelled-json", "502-html"],
)
async def test_a_thread_slack_answers_with_a_proxy_page_is_answered_without_context(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock, status: int, content_type: str
) -> None:
    """conversations.replies answering a proxy's page degrades the answer (no context), never crashes it."""
    channel = unique("C")
    parent = slack.seed_message(channel, "the parent nobody can read", user="U0ANA")
    mention = slack.seed_message(channel, "<@UBOT> still there?", user="U0ANA", thread_ts=parent["ts"])
    page = "Method Not Allowed" if status == 405 else "<html><body>502 Bad Gateway</body></html>"
    slack.fail_next_with_page("conversations.replies", status=status, page=page, content_type=content_type)
    await bot.event(
        app_mention_event(text=mention["text"], user="U0ANA", channel=channel, ts=mention["ts"], thread_ts=parent["ts"])
    )
    update = await final_text(slack, channel, timeout=20)
    assert "echo: still there?" in update
    assert "Something went wrong" not in update
    sent = bedrock.answer_calls()[-1].first_turn_text()
    assert "thread_context" not in sent
    (replies,) = [c for c in slack.calls_to("conversations.replies") if in_channel(channel)(c)]
    assert replies.response == {"ok": False, "error": f"http_{status}"}


async def test_thread_context_is_bounded(bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """A long thread contributes at most 20 messages and 8,000 characters, the most recent ones."""
    channel = unique("C")
    parent = slack.seed_message(channel, "incident thread")
    for i in range(40):
        slack.seed_message(channel, f"message {i:02d} " + "x" * 600, thread_ts=parent["ts"])
    mention = slack.seed_message(channel, "<@UBOT> summarise", thread_ts=parent["ts"])
    await bot.event(
        app_mention_event(
            text=mention["text"], user=unique("U"), channel=channel, ts=mention["ts"], thread_ts=parent["ts"]
        )
    )
    await final_text(slack, channel)
    sent = bedrock.answer_calls()[-1].first_turn_text()
    context = sent[: sent.rindex("</thread_context>")]
    assert "message 39" in context
    assert "message 20" not in context
    assert "incident thread" not in context
    assert len(context) < 8_000 + 20 * 40  # the text, and each message's delimiters


async def test_direct_message_is_answered_in_its_thread_with_a_status(bot: BotProcess, slack: FakeSlack) -> None:
    """A DM shows a working status in its assistant thread, then the answer streams into the same thread."""
    channel = unique("D")
    dm = slack.seed_message(channel, "how do I rotate an access key?")
    await bot.event(dm_message_event(text=dm["text"], user=unique("U"), channel=channel, ts=dm["ts"]))
    text = await final_text(slack, channel)
    (status,) = [c for c in slack.calls_to("assistant.threads.setStatus") if c.args["channel_id"] == channel]
    assert status.args["thread_ts"] == dm["ts"]
    (start,) = [c for c in slack.calls_to("chat.startStream") if in_channel(channel)(c)]
    assert start.args["thread_ts"] == dm["ts"]
    assert not [c for c in slack.calls_to("chat.postMessage") if in_channel(channel)(c)]  # no placeholder in DMs
    assert "echo: how do I rotate an access key?" in text


async def test_bot_and_edited_messages_in_dms_are_ignored(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Only a person's new message is a task: edits and bot messages are acknowledged and dropped."""
    channel = unique("D")
    before = len(bedrock.answer_calls())
    edited = dm_message_event(text="edited", user=unique("U"), channel=channel, ts="1700000000.000001") | {
        "subtype": "message_changed"
    }
    from_bot = dm_message_event(text="a bot", user=unique("U"), channel=channel, ts="1700000000.000002") | {
        "bot_id": "B0OTHER"
    }
    for event in (edited, from_bot):
        assert (await bot.event(event)).status == 200
    await asyncio.sleep(0.3)
    assert len(bedrock.answer_calls()) == before
    assert not [c for c in slack.calls if in_channel(channel)(c)]


async def test_assistant_thread_started_offers_suggested_prompts(bot: BotProcess, slack: FakeSlack) -> None:
    """An older assistant_view install: opening the pane sets suggested prompts for that thread, and they show."""
    slack.experience = "assistant_view"
    channel = unique("D")
    event = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": unique("U"),
            "context": {},
            "channel_id": channel,
            "thread_ts": "1700000001.000100",
        },
        "event_ts": "1700000001.000200",
    }
    assert (await bot.event(event)).status == 200
    (prompts,) = await slack.wait_for(
        "assistant.threads.setSuggestedPrompts", where=lambda c: c.args.get("channel_id") == channel
    )
    slack.experience = "agent_view"
    assert prompts.args["thread_ts"] == "1700000001.000100"
    assert len(slack.suggested_prompts[f"{channel}:1700000001.000100"]) >= 2


async def test_retried_event_is_answered_once(bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """Slack's redeliveries of one event_id (retry 1 and 2) get 200 and produce no second answer."""
    channel = unique("C")
    mention = slack.seed_message(channel, "<@UBOT> is the api up?")
    event = app_mention_event(text=mention["text"], user=unique("U"), channel=channel, ts=mention["ts"])
    event_id = unique("Ev")
    before = len(bedrock.answer_calls())
    first = await bot.event(event, event_id=event_id)
    again = await bot.event(event, event_id=event_id, retry_num=1)
    third = await bot.event(event, event_id=event_id, retry_num=2)
    assert [first.status, again.status, third.status] == [200, 200, 200]
    await final_text(slack, channel)
    await asyncio.sleep(0.3)
    assert len([c for c in slack.calls_to("chat.startStream") if in_channel(channel)(c)]) == 1
    assert len([c for c in slack.calls_to("chat.stopStream") if in_channel(channel)(c)]) == 1
    assert len(bedrock.answer_calls()) == before + 1


async def test_one_message_under_two_event_ids_is_answered_once(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Overlapping subscriptions deliver a message twice (new event_id, same client_msg_id): one answer."""
    channel = unique("C")
    mention = slack.seed_message(channel, "<@UBOT> how many tasks are running?")
    event = app_mention_event(text=mention["text"], user=unique("U"), channel=channel, ts=mention["ts"])
    before = len(bedrock.answer_calls())
    acks = [await bot.event(event, event_id=unique("Ev")), await bot.event(event, event_id=unique("Ev"))]
    assert [ack.status for ack in acks] == [200, 200]
    await final_text(slack, channel)
    await asyncio.sleep(0.3)
    assert len([c for c in slack.calls_to("chat.startStream") if in_channel(channel)(c)]) == 1
    assert len(bedrock.answer_calls()) == before + 1


async def test_retry_whose_first_delivery_was_lost_is_still_answered(bot: BotProcess, slack: FakeSlack) -> None:
    """A delivery marked as retry 1 whose original never arrived is the first sighting: it is answered."""
    channel = unique("C")
    mention = slack.seed_message(channel, "<@UBOT> anything?")
    event = app_mention_event(text=mention["text"], user=unique("U"), channel=channel, ts=mention["ts"])
    await bot.event(event, event_id=unique("Ev"), retry_num=1)
    update = await final_text(slack, channel)
    assert "echo: anything?" in update


async def test_empty_mention_gets_usage_privately(bot: BotProcess, slack: FakeSlack) -> None:
    """``@orch`` alone: usage as an ephemeral message in the thread, nothing visible to the channel."""
    channel, user = unique("C"), unique("U")
    mention = slack.seed_message(channel, "<@UBOT>")
    await bot.event(app_mention_event(text=mention["text"], user=user, channel=channel, ts=mention["ts"]))
    (usage,) = await slack.wait_for("chat.postEphemeral", where=in_channel(channel))
    assert usage.args["user"] == user
    assert "/orchestrate <agent>: <task>" in message_text(usage)
    assert not [c for c in slack.calls_to("chat.postMessage") if in_channel(channel)(c)]
