"""The agent pane as Slack serves it today (agent_view) and to older installs (assistant_view), and the manifest."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from bot.testing.slack import app_mention_event, dm_message_event
from tests.e2e.harness import unique
from tests.e2e.slackcalls import final_text, in_channel

if TYPE_CHECKING:
    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack
    from tests.e2e.harness import BotProcess

MANIFEST = yaml.safe_load((Path(__file__).parents[2] / "manifest.yml").read_text())
#: Events an install made from an earlier manifest (assistant_view) is subscribed to.
LEGACY_EVENTS = ["assistant_thread_started", "assistant_thread_context_changed"]


def _sample_event(name: str) -> dict[str, Any]:
    """A minimal, well-formed event for a manifest subscription name (``message.im`` is a ``message`` in a DM)."""
    user, ts = unique("U"), "1700000009.000100"
    samples: dict[str, dict[str, Any]] = {
        "app_home_opened": {"type": "app_home_opened", "user": user, "channel": unique("D"), "tab": "home"},
        "app_context_changed": {"type": "app_context_changed", "user": user, "context": {}, "event_ts": ts},
        "app_mention": app_mention_event(text="<@UBOT> help", user=user, channel=unique("C"), ts=ts),
        "message.im": dm_message_event(text="help", user=user, channel=unique("D"), ts=ts),
        "assistant_thread_started": {
            "type": "assistant_thread_started",
            "assistant_thread": {"user_id": user, "context": {}, "channel_id": unique("D"), "thread_ts": ts},
        },
        "assistant_thread_context_changed": {
            "type": "assistant_thread_context_changed",
            "assistant_thread": {"user_id": user, "context": {}, "channel_id": unique("D"), "thread_ts": ts},
        },
    }
    return samples[name]


def test_the_manifest_uses_the_agent_messaging_experience() -> None:
    """New apps can only use agent_view: the manifest declares it, not the older assistant_view."""
    features = MANIFEST["features"]
    assert features["agent_view"]["agent_description"]
    assert "assistant_view" not in features


@pytest.mark.parametrize("name", MANIFEST["settings"]["event_subscriptions"]["bot_events"] + LEGACY_EVENTS)
async def test_every_subscribed_event_has_a_listener(bot: BotProcess, name: str) -> None:
    """Each event the manifest (or an older install's) subscribes to gets 200, never Bolt's 404 that Slack retries."""
    ack = await bot.event(_sample_event(name))
    assert ack.status == 200, f"{name}: {ack.status} {ack.body}"


async def test_opening_the_messages_tab_offers_prompts_without_a_thread(bot: BotProcess, slack: FakeSlack) -> None:
    """agent_view: app_home_opened (tab messages) sets the DM's suggested prompts with no thread_ts, so they show."""
    channel = unique("D")
    event = {"type": "app_home_opened", "user": unique("U"), "channel": channel, "tab": "messages"}
    assert (await bot.event(event)).status == 200
    (call,) = await slack.wait_for(
        "assistant.threads.setSuggestedPrompts", where=lambda c: c.args.get("channel_id") == channel
    )
    assert "thread_ts" not in call.args
    assert len(slack.suggested_prompts[channel]) >= 2


@pytest.mark.parametrize("experience", ["agent_view", "assistant_view"])
async def test_a_question_in_the_pane_knows_which_channel_the_person_is_looking_at(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock, experience: str
) -> None:
    """The channel from app_context_changed (or assistant_thread_context_changed) reaches the model as context."""
    user, dm, viewed = unique("U"), unique("D"), unique("C")
    if experience == "agent_view":
        changed: dict[str, Any] = {
            "type": "app_context_changed",
            "user": user,
            "context": {"entities": [{"type": "slack#/types/channel_id", "value": viewed, "team_id": "T0TEST"}]},
            "event_ts": "1700000010.000100",
        }
    else:
        changed = {
            "type": "assistant_thread_context_changed",
            "assistant_thread": {
                "user_id": user,
                "context": {"channel_id": viewed, "team_id": "T0TEST"},
                "channel_id": dm,
                "thread_ts": "1700000010.000100",
            },
        }
    assert (await bot.event(changed)).status == 200
    question = f"why is this channel's alarm firing ({experience})?"
    message = slack.seed_message(dm, question, user=user)
    await bot.event(dm_message_event(text=message["text"], user=user, channel=dm, ts=message["ts"]))
    await final_text(slack, dm, timeout=20)
    (call,) = [c for c in bedrock.answer_calls() if question in str(c.body)]
    assert f"looking at Slack channel {viewed}" in str(call.body["messages"][0])


async def test_a_group_dm_thread_without_history_scope_is_answered_and_says_so(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """In a group DM without mpim:history, Slack answers missing_scope: the answer comes, and the asker hears why."""
    channel = unique("G")
    slack.channel_types[channel] = "mpim"
    slack.scopes.discard("mpim:history")
    try:
        parent = slack.seed_message(channel, "deploy went out at 14:00", user="U0ANA")
        mention = slack.seed_message(channel, "<@UBOT> anything wrong?", user="U0ANA", thread_ts=parent["ts"])
        await bot.event(
            app_mention_event(
                text=mention["text"], user="U0ANA", channel=channel, ts=mention["ts"], thread_ts=parent["ts"]
            )
        )
        update = await final_text(slack, channel, timeout=20)
    finally:
        slack.scopes.add("mpim:history")
    assert "echo: anything wrong?" in update
    (replies,) = [c for c in slack.calls_to("conversations.replies") if in_channel(channel)(c)]
    assert replies.response == {
        "ok": False,
        "error": "missing_scope",
        "needed": "mpim:history",
        "provided": replies.response["provided"],
    }
    (notice,) = await slack.wait_for("chat.postEphemeral", where=in_channel(channel))
    assert "permission to read this conversation's history" in notice.args["text"]
    assert notice.args["user"] == "U0ANA"
    await asyncio.sleep(0)
