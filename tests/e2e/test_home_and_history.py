"""The App Home tab and ``/orchestrate history``: recent tasks, usage, health, how-to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.e2e.harness import unique
from tests.e2e.slackcalls import REQUEST_ID, final_text

if TYPE_CHECKING:
    from bot.testing.slack import FakeSlack
    from tests.e2e.harness import BotProcess


async def history(bot: BotProcess, slack: FakeSlack, user: str) -> str:
    """Run ``/orchestrate history`` as ``user``; the private answer's text."""
    url = slack.new_response_url()
    ack = await bot.command("history", user=user, channel=unique("C"), response_url=url)
    assert ack.body == ""
    (reply,) = await slack.wait_for("response_url", where=lambda c: c.args.get("_url") == url)
    assert reply.args["response_type"] == "ephemeral"
    return str(reply.args["text"])


async def test_history_lists_my_tasks_and_admins_see_everyones(bot: BotProcess, slack: FakeSlack) -> None:
    """A user sees their own tasks with status, agent and request ID; an admin also sees others'."""
    ana, ben, admin = unique("U"), unique("U"), unique("U")
    slack.users[admin] = {"is_admin": True}
    ids = []
    for user, question in ((ana, "what is a NAT gateway?"), (ben, "what is an ENI?")):
        channel = unique("C")
        await bot.command(question, user=user, channel=channel, response_url=slack.new_response_url())
        ids.append(REQUEST_ID.findall(await final_text(slack, channel))[0])

    mine = await history(bot, slack, ana)
    assert "Your recent tasks" in mine
    assert ids[0] in mine
    assert "what is a NAT gateway?" in mine
    assert ":white_check_mark:" in mine
    assert ids[1] not in mine

    everyone = await history(bot, slack, admin)
    assert "Recent tasks in this workspace" in everyone
    assert ids[0] in everyone
    assert ids[1] in everyone
    assert f"<@{ben}>" in everyone


async def test_home_tab_shows_recent_tasks_usage_health_and_agents(bot: BotProcess, slack: FakeSlack) -> None:
    """Opening the Home tab publishes a view with the user's tasks, this week's usage, health and examples."""
    user, channel = unique("U"), unique("C")
    await bot.command("explain IAM roles", user=user, channel=channel, response_url=slack.new_response_url())
    request_id = REQUEST_ID.findall(await final_text(slack, channel))[0]
    await bot.event(
        {"type": "app_home_opened", "user": user, "channel": unique("D"), "tab": "home", "event_ts": "1700000000.1"}
    )
    await slack.wait_for("views.publish", where=lambda c: c.args.get("user_id") == user)
    view = slack.home_views[user]
    text = "\n".join(str(b.get("text", {}).get("text", "")) for b in view["blocks"])
    assert request_id in text
    assert "This week*: 1 tasks (0 failed)" in text
    assert "*Slack*" in text
    assert "*Bedrock*" in text
    assert "`general`" in text


async def test_messages_tab_open_publishes_nothing(bot: BotProcess, slack: FakeSlack) -> None:
    """Opening the Messages tab is acknowledged (no 404, so Slack does not retry) and publishes no view."""
    user = unique("U")
    ack = await bot.event(
        {"type": "app_home_opened", "user": user, "channel": unique("D"), "tab": "messages", "event_ts": "1700000000.2"}
    )
    assert ack.status == 200
    assert user not in slack.home_views
