"""Feedback on answers end to end: the buttons under an answer, signed clicks, the 👎 modal, counts for admins.

Clicks are built from the message the bot actually posted (its blocks, as the fake Slack stored them)
and sent signed, as Slack sends ``block_actions`` and ``view_submission``. What the bot kept is read
from its own journal file (the session bot runs on SQLite; the Redis journal is held to the same
behaviour in ``tests/unit/test_feedback.py``).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from agents.stores import SqliteJournal
from agents.testing.bedrock import Reply
from bot.testing.slack import block_actions, view_submission
from tests.e2e.harness import unique
from tests.e2e.slackcalls import REQUEST_ID, final_text, in_channel

if TYPE_CHECKING:
    from agents.feedback import Feedback
    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack
    from tests.e2e.harness import BotProcess

SECRET = "AKIAIOSFODNN7EXAMPLE"  # an AWS access key id: the redactor's patterns know it


async def _answer(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock, user: str
) -> tuple[str, str, dict[str, Any]]:
    """Ask in a new channel; the channel, the request ID and the answer's message as Slack stored it."""
    channel = unique("C")
    bedrock.enqueue(Reply(text="Three alarms are firing; api-5xx started first.", input_tokens=50, output_tokens=9))
    await bot.command("what's alarming?", user=user, channel=channel, response_url=slack.new_response_url())
    request_id = REQUEST_ID.findall(await final_text(slack, channel))[0]
    stored = [
        m
        for (where, _ts), thread in slack.threads.items()
        if where == channel
        for m in thread
        if any(str(b.get("block_id", "")).startswith("orch_feedback:") for b in m.get("blocks") or ())
    ]
    assert len(stored) == 1, "the answer carries one feedback block"
    return channel, request_id, stored[0]


async def _kept(bot: BotProcess, request_id: str, until: Any, timeout: float = 10.0) -> list[Feedback]:
    """The ratings the bot kept for ``request_id``, once ``until(ratings)`` holds (read from its journal)."""
    path = bot.env["ORCH_STORE_URL"].removeprefix("sqlite:///")
    journal = await SqliteJournal.open(path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            ratings = await journal.feedback(request_id)
            if until(ratings) or time.monotonic() > deadline:
                return ratings
            await asyncio.sleep(0.05)
    finally:
        await journal.close()


def _click(slack: FakeSlack, message: dict[str, Any], channel: str, user: str, **how: Any) -> dict[str, Any]:
    return block_actions(
        message=message,
        channel=channel,
        user=user,
        trigger_id=slack.new_trigger_id(),
        response_url=slack.new_response_url(),
        **how,
    )


async def test_an_answer_carries_feedback_buttons_and_each_persons_latest_click_counts(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """👍/👎 with labels under the answer, values naming only the rating and request; a late older click loses."""
    user, other = unique("U"), unique("U")
    channel, request_id, message = await _answer(bot, slack, bedrock, user)
    (element,) = next(b for b in message["blocks"] if b["type"] == "context_actions")["elements"]
    assert element["type"] == "feedback_buttons"
    assert element["positive_button"]["value"] == f"up:{request_id}"
    assert element["negative_button"]["value"] == f"down:{request_id}"
    assert element["positive_button"]["accessibility_label"]
    assert element["negative_button"]["accessibility_label"]

    now = time.time()
    down = _click(slack, message, channel, user, action_id="orch_feedback", positive=False, action_ts=now + 2)
    up_earlier = _click(slack, message, channel, user, action_id="orch_feedback", positive=True, action_ts=now + 1)
    assert (await bot.interact(down)).status == 200
    await slack.wait_for("views.open", where=lambda c: c.args.get("trigger_id") == down["trigger_id"])
    assert (await bot.interact(up_earlier)).status == 200  # clicked before the 👎, delivered after it
    up_other = _click(slack, message, channel, other, action_id="orch_feedback", positive=True, action_ts=now + 3)
    assert (await bot.interact(up_other)).status == 200

    kept = await _kept(bot, request_id, lambda r: len(r) == 2)
    assert [(f.user_id, f.rating) for f in kept] == [(user, "down"), (other, "up")]
    assert kept[0].agent
    assert kept[0].model_id
    metrics = await (await bot.session.get(f"http://127.0.0.1:{bot.port}/metrics")).text()  # type: ignore[union-attr]
    assert f'orch_feedback_total{{agent="{kept[0].agent}",model="{kept[0].model_id}",rating="down"}}' in metrics


async def test_a_thumbs_down_opens_a_modal_whose_text_is_kept_redacted(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """👎 opens "what was wrong?" with the click's trigger; the submitted text is kept with the rating, redacted."""
    user = unique("U")
    channel, request_id, message = await _answer(bot, slack, bedrock, user)
    click = _click(slack, message, channel, user, action_id="orch_feedback", positive=False)
    await bot.interact(click)
    (opened,) = await slack.wait_for("views.open", where=lambda c: c.args.get("trigger_id") == click["trigger_id"])
    view = opened.response["view"]  # type: ignore[index]
    assert request_id in view["private_metadata"]

    typed = f"It blamed the database, but the ALB was failing. Also it printed {SECRET}."
    submission = view_submission(view=view, user=user, values={"text": typed}, trigger_id=slack.new_trigger_id())
    ack = await bot.interact(submission)
    assert ack.status == 200
    assert ack.body == ""  # the modal closes

    (kept,) = await _kept(bot, request_id, lambda r: bool(r and r[0].text))
    assert kept.rating == "down"
    assert kept.text.startswith("It blamed the database, but the ALB was failing.")
    assert SECRET not in kept.text
    assert "[REDACTED" in kept.text


async def test_where_slack_refuses_feedback_buttons_the_answer_has_plain_buttons_that_work(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Slack answering invalid_blocks to the element: 👍/👎 as plain buttons instead; a click is kept and noted."""
    user = unique("U")
    slack.feedback_buttons = False
    try:
        channel, request_id, message = await _answer(bot, slack, bedrock, user)
    finally:
        slack.feedback_buttons = True
    refused = [c for c in slack.calls if in_channel(channel)(c) and (c.response or {}).get("error") == "invalid_blocks"]
    assert refused, "the element was offered first"
    block = next(b for b in message["blocks"] if str(b.get("block_id", "")).startswith("orch_feedback:"))
    assert block["type"] == "actions"
    assert [e["value"] for e in block["elements"]] == [f"up:{request_id}", f"down:{request_id}"]

    await bot.interact(_click(slack, message, channel, user, action_id="orch_feedback_up"))
    (note,) = await slack.wait_for(
        "chat.postEphemeral", where=lambda c: in_channel(channel)(c) and c.args.get("user") == user
    )
    assert request_id in str(note.args["text"])
    (kept,) = await _kept(bot, request_id, bool)
    assert kept.rating == "up"


async def test_a_tampered_value_is_refused_quietly(bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """A value naming an unknown task, another channel's task, or nothing is acked, logged and not kept."""
    user = unique("U")
    channel, request_id, message = await _answer(bot, slack, bedrock, user)
    _, _other_id, other_message = await _answer(bot, slack, bedrock, user)
    forged = []
    for value in ("down:req-0000deadbeef", "down:not-an-id", "sideways:" + request_id):
        click = _click(slack, message, channel, user, action_id="orch_feedback", positive=False)
        click["actions"][0]["value"] = value
        forged.append(click)
    # A real button of another channel's answer, clicked (as Slack would say) in this channel.
    forged.append(_click(slack, other_message, channel, user, action_id="orch_feedback", positive=False))
    for click in forged:
        ack = await bot.interact(click)
        assert ack.status == 200
    await bot.interact(_click(slack, message, channel, user, action_id="orch_feedback", positive=True))
    assert [f.rating for f in await _kept(bot, request_id, bool)] == ["up"]
    refusals = [line for line in bot.log_lines() if line.get("event") == "feedback.refused"]
    assert len(refusals) >= len(forged)
    assert not [
        c for c in slack.calls_to("views.open") if c.args.get("trigger_id") in {f["trigger_id"] for f in forged}
    ]
    assert "Traceback" not in bot.log()


async def test_admins_see_ratings_per_agent_and_model_in_the_app_home(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """The Home tab of a workspace admin counts the week's ratings per agent and model; others' does not."""
    user, admin = unique("U"), unique("U")
    slack.users[admin] = {"is_admin": True}
    channel, request_id, message = await _answer(bot, slack, bedrock, user)
    await bot.interact(_click(slack, message, channel, user, action_id="orch_feedback", positive=True))
    (kept,) = await _kept(bot, request_id, bool)

    for who in (admin, user):
        await bot.event(
            {"type": "app_home_opened", "user": who, "channel": unique("D"), "tab": "home", "event_ts": "1700000000.3"}
        )
        await slack.wait_for("views.publish", where=lambda c, who=who: c.args.get("user_id") == who)
    admin_text = "\n".join(str(b.get("text", {}).get("text", "")) for b in slack.home_views[admin]["blocks"])
    assert "Ratings of answers this week" in admin_text
    assert f"`{kept.agent}` on `{kept.model_id}`: :thumbsup: " in admin_text
    user_text = "\n".join(str(b.get("text", {}).get("text", "")) for b in slack.home_views[user]["blocks"])
    assert "Ratings of answers" not in user_text
