"""AWS actions with a person in the loop, end to end: the real bot over HTTP, fake Slack and Bedrock, moto.

A scripted model proposes ``ec2_stop``; the bot posts an action card in the thread and waits. Clicks are
``block_actions`` payloads signed as Slack signs them; the bot checks everything on the server. The
instance lives in moto, so an approved action really stops it. Executions are counted by the
``audit.action`` lines in the bots' logs (one per time the action ran).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from agents.testing.bedrock import Reply
from bot.approval_card import APPROVE_ACTION, REJECT_ACTION
from bot.testing.environment import bot_env, free_port
from tests.e2e.harness import BotProcess, unique
from tests.e2e.slackcalls import REQUEST_ID, in_channel, message_text

if TYPE_CHECKING:
    from pathlib import Path

    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack, SlackCall

REGION = "us-east-1"  # bot_env's


def write_policy(path: Path, *, channel: str, users: str, approvers: str, **rule: Any) -> str:
    """A policy file granting ``ec2.stop`` to ``users`` in ``channel``, approved by ``approvers``."""
    extra = "".join(f"    {key}: {json.dumps(value)}\n" for key, value in rule.items())
    path.write_text(
        "admins: [U0ADMIN01]\n"
        f"groups:\n  sre: [{approvers}]\n"
        "rules:\n"
        '  - agents: ["*"]\n    runbooks: ["*"]\n    users: ["*"]\n    channels: ["*"]\n'
        f"  - actions: [ec2.stop, ec2.start, ec2.reboot, ecs.set_desired_count]\n"
        f"    users: [{users}]\n    channels: [{channel}]\n    approvers: ['@sre']\n{extra}"
    )
    return str(path)


def action_env(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, store: str, policy: str, **extra: str
) -> dict[str, str]:
    """The bot's environment: the policy file, the test hooks (the kill switch), AWS on moto."""
    return bot_env(
        slack_api_url=slack.base_url,
        bedrock_url=bedrock.endpoint_url,
        store_url=store,
        aws_url=moto_url,
        ORCH_TEST_TOOLS="true",
        ORCH_POLICY_FILE=policy,
        **extra,
    )


def http_bot(env: dict[str, str], log: Path) -> BotProcess:
    """An ``orch-bot serve`` with ``env``."""
    port = free_port()
    return BotProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env, log, port=port)


def ec2_client(moto_url: str) -> Any:
    """A boto3 EC2 client on moto, with moto's test credentials."""
    return boto3.client(
        "ec2",
        region_name=REGION,
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def running_instance(moto_url: str, name: str) -> str:
    """A running instance in moto, tagged ``Name=name``; its id."""
    ec2 = ec2_client(moto_url)
    reservation = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    return str(reservation["Instances"][0]["InstanceId"])


def instance_state(moto_url: str, instance_id: str) -> str:
    """The instance's state name, as moto has it now."""
    ec2 = ec2_client(moto_url)
    found = ec2.describe_instances(InstanceIds=[instance_id])
    return str(found["Reservations"][0]["Instances"][0]["State"]["Name"])


def shown(call: SlackCall) -> str:
    """Everything a card call shows: its fallback text and its blocks (as JSON, buttons and fields included)."""
    return str(call.args.get("text", "")) + "\n" + json.dumps(call.args.get("blocks") or [], ensure_ascii=False)


def cards(slack: FakeSlack, channel: str) -> list[SlackCall]:
    """Every action card posted or updated in ``channel`` (calls whose blocks say "Action proposed")."""
    return [
        c
        for c in slack.calls
        if in_channel(channel)(c)
        and c.method in {"chat.postMessage", "chat.update"}
        and "Action proposed" in shown(c)
        and (c.response or {}).get("ok")
    ]


def button_value(call: SlackCall, action_id: str) -> str:
    """The value of the card's button ``action_id``."""
    for block in call.args.get("blocks") or []:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button on the card")


async def answered(slack: FakeSlack, channel: str, phrase: str, timeout: float = 30.0) -> str:
    """The finished answer in ``channel`` that contains ``phrase`` (a stopped stream or a final message)."""

    def found() -> str:
        for call in slack.calls:
            if not in_channel(channel)(call) or not (call.response or {}).get("ok"):
                continue
            if call.method == "chat.stopStream":
                text = str((call.response or {}).get("message", {}).get("text", "")) + message_text(call)
            elif call.method in {"chat.postMessage", "chat.update"} and "Action proposed" not in shown(call):
                text = message_text(call)
            else:
                continue
            if phrase in text:
                return text
        return ""

    return str(await wait_for(found, f"an answer with {phrase!r}", timeout))


async def wait_for(check: Any, what: str, timeout: float = 20.0) -> Any:
    """Poll ``check()`` until it returns something truthy."""
    for _ in range(int(timeout / 0.05)):
        if found := check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def logged(*bots: BotProcess, event: str) -> list[dict[str, Any]]:
    """The JSON log lines named ``event`` across ``bots`` (a line cut by a kill is skipped)."""
    found = []
    for bot in bots:
        for line in bot.log().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("event") == event:
                found.append(entry)
    return found


def ephemerals(slack: FakeSlack, channel: str, user: str) -> list[str]:
    """What the bot told ``user`` privately in ``channel``."""
    return [
        str(c.args.get("text", ""))
        for c in slack.calls
        if in_channel(channel)(c) and c.method == "chat.postEphemeral" and c.args.get("user") == user
    ]


class Scenario:
    """One proposed ``ec2_stop`` in its own channel: who asked, the instance, the card and its approval id."""

    def __init__(self, slack: FakeSlack, bedrock: FakeBedrock, moto_url: str) -> None:
        self.slack, self.bedrock, self.moto_url = slack, bedrock, moto_url
        self.channel = unique("C")
        self.requester = unique("U")
        self.approver = unique("U")
        self.instance = running_instance(moto_url, f"web-{uuid.uuid4().hex[:6]}")
        self.approval_id = ""
        self.card_ts = ""

    def policy(self, tmp_path: Path, **rule: Any) -> str:
        """A policy where the requester may ask and the approver may approve, in this channel."""
        return write_policy(
            tmp_path / "policy.yaml", channel=self.channel, users=self.requester, approvers=self.approver, **rule
        )

    async def propose(self, bot: BotProcess) -> None:
        """The model proposes stopping the instance; wait for the card.

        Only the proposal is scripted here: a test scripts the model's next turn (:meth:`expect_answer`)
        just before the click that continues the task, so nothing is left queued if it fails.
        """
        self.bedrock.enqueue(
            Reply(
                text="I'll propose stopping it.",
                tool_uses=[
                    {"toolUseId": "tooluse_stop0001", "name": "ec2_stop", "input": {"instance_ids": [self.instance]}}
                ],
            )
        )
        await bot.command(
            "infra: stop the web instance",
            user=self.requester,
            channel=self.channel,
            response_url=self.slack.new_response_url(),
        )
        card = await wait_for(lambda: cards(self.slack, self.channel), "the action card")
        self.approval_id = button_value(card[0], APPROVE_ACTION)
        self.card_ts = str((card[0].response or {}).get("ts"))

    def expect_answer(self, text: str = "Done: the web instance is stopping.") -> None:
        """Script the model's turn after the decision."""
        self.bedrock.enqueue(Reply(text=text))

    async def click(
        self, bot: BotProcess, user: str, *, action_id: str = APPROVE_ACTION, value: str | None = None
    ) -> None:
        """``user`` clicks a button of the card (its own value unless ``value``)."""
        ack = await bot.click(
            action_id=action_id,
            value=self.approval_id if value is None else value,
            user=user,
            channel=self.channel,
            message_ts=self.card_ts,
            response_url=self.slack.new_response_url(),
        )
        assert ack.status == 200, ack


async def start(env: dict[str, str], log: Path) -> BotProcess:
    """A started bot."""
    bot = http_bot(env, log)
    await bot.start()
    return bot


async def test_approve_by_an_allowed_user_stops_the_instance_updates_the_card_and_finishes_the_answer(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, tmp_path: Path
) -> None:
    """An approver's click runs the action once, and the task finishes its answer in the thread.

    moto's instance stops; the card says who approved and the verified result; the model gets the result
    as the tool result.
    """
    case = Scenario(slack, bedrock, moto_url)
    env = action_env(slack, bedrock, moto_url, f"sqlite:///{tmp_path}/orch.db", case.policy(tmp_path))
    bot = await start(env, tmp_path / "bot.log")
    try:
        await case.propose(bot)
        card = cards(slack, case.channel)[0]
        seen = shown(card)
        assert case.instance in seen
        assert "web-" in seen  # the Name tag
        assert "123456789012" in seen  # moto's account
        assert REGION in seen
        assert "would succeed" in seen  # the dry run
        assert "`@sre`" in seen  # who may approve
        assert "<!date^" in seen
        assert instance_state(moto_url, case.instance) == "running"  # nothing ran before the click

        case.expect_answer()
        await case.click(bot, case.approver)
        await answered(slack, case.channel, "the web instance is stopping")
        assert instance_state(moto_url, case.instance) in {"stopping", "stopped"}
        assert len(logged(bot, event="audit.action")) == 1
        (decision,) = logged(bot, event="audit.approval")
        assert decision["decision"] == "approved"
        assert decision["user_id"] == case.approver
        updated = [c for c in cards(slack, case.channel) if c.method == "chat.update"]
        assert any(f"Approved by <@{case.approver}>" in shown(c) for c in updated)
        assert any("Result" in shown(c) and "verified" in shown(c) for c in updated)
        result = [
            block["toolResult"]
            for m in bedrock.answer_calls()[-1].body["messages"]
            for block in m["content"]
            if "toolResult" in block
        ]
        assert "verified" in json.dumps(result)

        history_url = slack.new_response_url()  # /orchestrate history shows the action, its decision and result
        await bot.command("history", user=case.requester, channel=case.channel, response_url=history_url)
        listed = await wait_for(
            lambda: "".join(
                json.dumps(c.args)
                for c in slack.calls
                if c.method == "response_url" and c.args.get("_url") == history_url
            ),
            "the history",
        )
        assert "Recent actions" in listed
        assert "ec2.stop" in listed
        assert f"approved by \\u003c@{case.approver}" in listed or f"approved by <@{case.approver}" in listed
    finally:
        await bot.stop()


def tool_results(bedrock: FakeBedrock) -> str:
    """Every toolResult the bot sent the model in its latest answer call, as JSON."""
    messages = bedrock.answer_calls()[-1].body["messages"]
    return json.dumps([block["toolResult"] for m in messages for block in m["content"] if "toolResult" in block])


async def test_refused_clicks_are_told_privately_and_nothing_runs(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, tmp_path: Path
) -> None:
    """A non-approver, the requester (self-approval is off) and tampered values are refused, each privately.

    Tampered: an unknown id, garbage, a value carrying parameters, and someone else's approval id clicked on
    this card. Nothing runs, the card keeps its buttons, and the real approver can still approve afterwards.
    """
    case = Scenario(slack, bedrock, moto_url)
    other = Scenario(slack, bedrock, moto_url)  # another channel's approval, for the "someone else's id" case
    policy = write_policy(  # the requester is an approver too: only the self-approval rule stops them
        tmp_path / "policy.yaml",
        channel=f"{case.channel}, {other.channel}",
        users=f"{case.requester}, {other.requester}",
        approvers=f"{case.approver}, {case.requester}, {other.requester}",
    )
    env = action_env(slack, bedrock, moto_url, f"sqlite:///{tmp_path}/orch.db", policy)
    bot = await start(env, tmp_path / "bot.log")
    try:
        await case.propose(bot)
        stranger = unique("U")
        await case.click(bot, stranger)
        said = await wait_for(lambda: ephemerals(slack, case.channel, stranger), "the refusal to the stranger")
        assert "may not approve" in said[0]
        assert "req-" in said[0]

        await case.click(bot, case.requester)
        said = await wait_for(lambda: ephemerals(slack, case.channel, case.requester), "the self-approval refusal")
        assert "your own request" in said[0]

        values = [
            "apr-000000000000000000000000",  # well-formed, unknown
            "garbage' OR 1=1 --",
            json.dumps({"id": case.approval_id, "instance_ids": ["i-0123456789abcdef0"]}),
        ]
        for value in values:
            await case.click(bot, case.approver, value=value)
        said = await wait_for(
            lambda: (e := ephemerals(slack, case.channel, case.approver)) and len(e) >= len(values) and e,
            "three refusals to the approver",
        )
        assert all("nothing was done" in text for text in said)
        assert instance_state(moto_url, case.instance) == "running"
        assert not logged(bot, event="audit.action")
        refused = logged(bot, event="audit.approval")
        assert [e["decision"] for e in refused] == ["refused", "refused"]  # the two with a known approval

        # Someone else's id on this card: the id alone decides what is checked, and that request's own
        # requester may not approve it (self-approval), whichever card the click came from.
        await other.propose(bot)
        await case.click(bot, other.requester, value=other.approval_id)
        said = await wait_for(lambda: ephemerals(slack, case.channel, other.requester), "the other id's refusal")
        assert "your own request" in said[-1]
        assert instance_state(moto_url, other.instance) == "running"

        case.expect_answer()
        await case.click(bot, case.approver)  # the real approval still works
        await answered(slack, case.channel, "the web instance is stopping")
        assert len(logged(bot, event="audit.action")) == 1
    finally:
        await bot.stop()


async def test_self_approval_runs_when_the_rule_allows_it(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, tmp_path: Path
) -> None:
    """With ``allow_self_approval: true`` the requester (an approver) may approve their own action."""
    case = Scenario(slack, bedrock, moto_url)
    case.approver = case.requester
    env = action_env(
        slack, bedrock, moto_url, f"sqlite:///{tmp_path}/orch.db", case.policy(tmp_path, allow_self_approval=True)
    )
    bot = await start(env, tmp_path / "bot.log")
    try:
        await case.propose(bot)
        case.expect_answer()
        await case.click(bot, case.requester)
        await answered(slack, case.channel, "the web instance is stopping")
        assert instance_state(moto_url, case.instance) in {"stopping", "stopped"}
        assert len(logged(bot, event="audit.action")) == 1
    finally:
        await bot.stop()


async def test_a_double_click_runs_the_action_once(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, tmp_path: Path
) -> None:
    """Two approvers' clicks at the same moment: one decides, the other is told it was already approved."""
    case = Scenario(slack, bedrock, moto_url)
    second = unique("U")
    policy = write_policy(
        tmp_path / "policy.yaml",
        channel=case.channel,
        users=case.requester,
        approvers=f"{case.approver}, {second}",
    )
    bot = await start(action_env(slack, bedrock, moto_url, f"sqlite:///{tmp_path}/orch.db", policy), tmp_path / "b.log")
    try:
        await case.propose(bot)
        case.expect_answer()
        await asyncio.gather(case.click(bot, case.approver), case.click(bot, second), case.click(bot, case.approver))
        await answered(slack, case.channel, "the web instance is stopping")
        decisions = [e["decision"] for e in logged(bot, event="audit.approval")]
        assert sorted(decisions) == ["approved", "refused", "refused"]
        told = ephemerals(slack, case.channel, case.approver) + ephemerals(slack, case.channel, second)
        assert len(told) == 2
        assert all("already approved" in text for text in told)
        assert len(logged(bot, event="audit.action")) == 1
    finally:
        await bot.stop()


async def test_reject_tells_the_model_who_rejected_and_nothing_runs(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, tmp_path: Path
) -> None:
    """Reject: the card says so, the instance keeps running, and the model hears "rejected by <@…>"."""
    case = Scenario(slack, bedrock, moto_url)
    env = action_env(slack, bedrock, moto_url, f"sqlite:///{tmp_path}/orch.db", case.policy(tmp_path))
    bot = await start(env, tmp_path / "bot.log")
    try:
        await case.propose(bot)
        case.expect_answer("The stop was rejected, so the instance keeps running.")
        await case.click(bot, case.approver, action_id=REJECT_ACTION)
        await answered(slack, case.channel, "keeps running")
        assert f"rejected by \\u2039@{case.approver}" in tool_results(bedrock) or (
            f"rejected by <@{case.approver}>" in tool_results(bedrock)
        )
        assert instance_state(moto_url, case.instance) == "running"
        assert not logged(bot, event="audit.action")
        assert any(f"Rejected by <@{case.approver}>" in shown(c) for c in cards(slack, case.channel))
    finally:
        await bot.stop()


async def test_approve_after_expiry_is_refused_and_the_model_hears_expired(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, tmp_path: Path
) -> None:
    """A rule's ``expires_after`` elapses: the request expires, and a late click runs nothing.

    The sweeper expires it, the card says so, the model hears "expired"; the late click is refused privately.
    """
    case = Scenario(slack, bedrock, moto_url)
    env = action_env(slack, bedrock, moto_url, f"sqlite:///{tmp_path}/orch.db", case.policy(tmp_path, expires_after=1))
    bot = await start(env, tmp_path / "bot.log")
    try:
        await case.propose(bot)
        case.expect_answer("Nobody approved the stop in time.")
        await answered(slack, case.channel, "in time")
        assert "expired, nobody approved it" in tool_results(bedrock)
        assert any("Expired" in shown(c) for c in cards(slack, case.channel))
        await case.click(bot, case.approver)
        said = await wait_for(lambda: ephemerals(slack, case.channel, case.approver), "the late click's refusal")
        assert "expired" in said[0]
        assert instance_state(moto_url, case.instance) == "running"
        assert not logged(bot, event="audit.action")
    finally:
        await bot.stop()


async def test_approve_then_kill_9_then_restart_runs_the_action_exactly_once(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, tmp_path: Path
) -> None:
    """The process dies (SIGKILL) right after the approved action ran, before its result was recorded.

    The next process resumes the task with the same tool call: the approval still allows it, the effect
    ledger says it was started, so it is not run again; the answer is finished and the action ran once.
    """
    case = Scenario(slack, bedrock, moto_url)
    store = f"sqlite:///{tmp_path}/orch.db"
    env = action_env(slack, bedrock, moto_url, store, case.policy(tmp_path))
    first = await start({**env, "ORCH_TEST_KILL_AT": "after"}, tmp_path / "first.log")
    await case.propose(first)
    await case.click(first, case.approver)
    assert first.proc is not None
    assert await asyncio.wait_for(first.proc.wait(), 30) == -signal.SIGKILL
    await first.stop()
    assert instance_state(moto_url, case.instance) in {"stopping", "stopped"}

    case.expect_answer("The stop may or may not have happened; check the instance.")
    second = await start(env, tmp_path / "second.log")
    try:
        await answered(slack, case.channel, "check the instance")
        assert len(logged(first, second, event="audit.action")) == 1
        assert "interrupted" in tool_results(bedrock)
        # The card says so too, instead of staying at "approved" with no result.
        updated = await wait_for(
            lambda: [
                c
                for c in slack.calls
                if c.method == "chat.update"
                and c.args.get("ts") == case.card_ts
                and "interrupted by a restart" in shown(c)
            ],
            "the card's result",
        )
        assert "check the resource" in shown(updated[-1])
    finally:
        await second.stop()


async def test_two_replicas_clicked_at_the_same_moment_run_the_action_once(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, tmp_path: Path, redis_url: str
) -> None:
    """Two bot processes on one Redis each get a click at once: exactly one decides and one execution happens."""
    case = Scenario(slack, bedrock, moto_url)
    second_approver = unique("U")
    policy = write_policy(
        tmp_path / "policy.yaml",
        channel=case.channel,
        users=case.requester,
        approvers=f"{case.approver}, {second_approver}",
    )
    prefix = f"orch-test-{uuid.uuid4().hex[:8]}:"
    env = action_env(slack, bedrock, moto_url, redis_url, policy, ORCH_REDIS_PREFIX=prefix)
    one = await start(env, tmp_path / "one.log")
    two = await start(env, tmp_path / "two.log")
    try:
        await case.propose(one)
        case.expect_answer()
        await asyncio.gather(case.click(one, case.approver), case.click(two, second_approver))
        await answered(slack, case.channel, "the web instance is stopping")
        decisions = sorted(e["decision"] for e in logged(one, two, event="audit.approval"))
        assert decisions == ["approved", "refused"]
        assert len(logged(one, two, event="audit.action")) == 1
        assert instance_state(moto_url, case.instance) in {"stopping", "stopped"}
    finally:
        await one.stop()
        await two.stop()


async def test_a_click_while_the_store_is_down_is_told_to_click_again_and_decides_nothing(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, tmp_path: Path
) -> None:
    """Redis is gone when the approver clicks: they are told privately, with the request ID; nothing runs."""
    from tests.e2e.test_store_outage import REDIS_SERVER, RedisServer  # noqa: PLC0415 - only this test needs it

    if REDIS_SERVER is None:
        if os.environ.get("ORCH_TEST_REQUIRE_SERVICES"):
            pytest.fail("redis-server is not on PATH, and CI requires it: install redis-server")
        pytest.skip("needs redis-server on PATH to stop")
    redis = RedisServer(tmp_path, aof=False)
    await redis.start()
    case = Scenario(slack, bedrock, moto_url)
    bot = await start(action_env(slack, bedrock, moto_url, redis.url, case.policy(tmp_path)), tmp_path / "bot.log")
    try:
        await case.propose(bot)
        await redis.stop()
        await case.click(bot, case.approver)
        told = await wait_for(lambda: ephemerals(slack, case.channel, case.approver), "the private reply")
        assert "could not be recorded" in told[0]
        assert "click again" in told[0]
        assert REQUEST_ID.search(told[0])
        assert logged(bot, event="audit.action") == []
        assert instance_state(moto_url, case.instance) == "running"
    finally:
        await bot.stop()
        await redis.stop()
