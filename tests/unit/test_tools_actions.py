"""The action tools against moto: what the card shows before approval, and the action run and verified after.

Every AWS operation the tools call must be declared by the action toolset and allowed by the shipped
``iam/orch-bot-actions.json`` (and the read-only policy must not grant any write).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from agents.aws import AwsClients
from agents.errors import InvalidToolInput, ToolFailed
from agents.tools.actions import ACTION_TOOLS, action_tools
from tests.unit import conftest
from tests.unit.conftest import REGION, FakeTime, policy_actions, tool_context

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aiobotocore.session import AioSession

    from agents.tools import Tool, ToolContext
    from tests.moto_account import MotoAccount

ACTIONS_POLICY = Path(__file__).parents[2] / "iam" / "orch-bot-actions.json"


def actions_policy() -> set[str]:
    """Every IAM action ``iam/orch-bot-actions.json`` allows."""
    statements = json.loads(ACTIONS_POLICY.read_text())["Statement"]
    return {action for statement in statements for action in statement["Action"]}


@pytest_asyncio.fixture
async def actx(aws_env: str, aio_session: AioSession) -> AsyncIterator[ToolContext]:
    """A tool context on moto; afterwards every AWS call made must be declared and allowed by the actions policy."""
    conftest._CALLED.clear()
    async with AwsClients(region=REGION, session=aio_session) as aws:
        yield tool_context(aws)
    called = set(conftest._CALLED)
    assert called <= ACTION_TOOLS.iam_actions, called - ACTION_TOOLS.iam_actions
    assert called <= actions_policy(), called - actions_policy()


def tool(name: str, time: FakeTime | None = None) -> Tool[Any]:
    """An action tool, verifying with ``time`` (a fake clock advanced by the tool's own sleeps)."""
    tools = action_tools(clock=time.clock, sleep=time.sleep) if time else ACTION_TOOLS
    found = tools.get(name)
    assert found is not None
    return found


def instance(moto: MotoAccount, name: str) -> str:
    """A running, Name-tagged instance."""
    reservation = moto.client("ec2").run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    return str(reservation["Instances"][0]["InstanceId"])


def test_the_action_policy_is_apart_from_the_read_only_one() -> None:
    """The actions policy allows exactly what the action tools declare; the read-only one allows no write."""
    assert actions_policy() == set(ACTION_TOOLS.iam_actions)
    writes = {"ec2:RebootInstances", "ec2:StopInstances", "ec2:StartInstances", "ecs:UpdateService"}
    assert not writes & policy_actions()
    assert {t.name for t in ACTION_TOOLS.tools} == {"ec2_reboot", "ec2_stop", "ec2_start", "ecs_set_desired_count"}
    assert all(t.effect == "write" and t.action and t.prepare is not None for t in ACTION_TOOLS.tools)


async def test_a_stop_proposal_shows_the_instance_account_region_and_dry_run(
    actx: ToolContext, moto: MotoAccount
) -> None:
    """Before approval: the instance as described (id, Name tag, state), the account, the region, the dry run."""
    instance_id = instance(moto, "web-1")
    stop = tool("ec2_stop")
    assert stop.prepare is not None
    proposal = await stop.prepare(actx, stop.parse({"instance_ids": [instance_id]}))
    assert proposal.summary == f"Stop EC2 instance {instance_id} (web-1)"
    assert [(r.id, r.name, r.state) for r in proposal.resources] == [(instance_id, "web-1", "running")]
    assert (proposal.account, proposal.region) == ("123456789012", REGION)
    assert proposal.dry_run == "would succeed (EC2 DryRun)"
    state = moto.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "running"  # preparing changed nothing


async def test_a_proposal_for_an_unknown_instance_fails(actx: ToolContext, moto: MotoAccount) -> None:
    """No card for an instance that does not exist: the model hears EC2's answer."""
    instance(moto, "web-1")
    stop = tool("ec2_stop")
    assert stop.prepare is not None
    with pytest.raises(ToolFailed):
        await stop.prepare(actx, stop.parse({"instance_ids": ["i-0123456789abcdef0"]}))


async def test_stop_runs_and_is_verified(actx: ToolContext, moto: MotoAccount, fake_time: FakeTime) -> None:
    """After approval: the instance is stopped in moto, and the result says it was verified."""
    instance_id = instance(moto, "web-1")
    stop = tool("ec2_stop", fake_time)
    output = await stop.run(actx, stop.parse({"instance_ids": [instance_id]}))
    assert output.data["verified"] is True
    assert output.data["instances"][0]["after"] in {"stopping", "stopped"}
    state = moto.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] in {"stopping", "stopped"}
    assert fake_time.now <= 20


async def test_a_reboot_is_not_claimed_verified_and_a_no_change_says_so(
    actx: ToolContext, moto: MotoAccount, fake_time: FakeTime
) -> None:
    """A reboot does not show in the instance state: "not verified here"; starting a running one: nothing to change."""
    instance_id = instance(moto, "web-1")
    reboot = tool("ec2_reboot", fake_time)
    rebooted = await reboot.run(actx, reboot.parse({"instance_ids": [instance_id]}))
    assert rebooted.data["verified"] is False
    assert "not verified here" in rebooted.data["result"]
    start = tool("ec2_start", fake_time)
    started = await start.run(actx, start.parse({"instance_ids": [instance_id]}))
    assert "nothing to change" in started.data["result"]
    assert fake_time.now == 0  # neither waited for an effect that cannot show


async def test_ecs_desired_count_is_proposed_set_and_verified(
    actx: ToolContext, moto: MotoAccount, fake_time: FakeTime
) -> None:
    """The card shows the current desired count; the run sets the new one and verifies it."""
    ecs = moto.client("ecs")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(family="api", containerDefinitions=[{"name": "api", "image": "nginx", "memory": 256}])
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api", desiredCount=2)
    scale = tool("ecs_set_desired_count", fake_time)
    assert scale.prepare is not None
    request = scale.parse({"cluster": "prod", "service": "api", "desired_count": 4})
    proposal = await scale.prepare(actx, request)
    assert "from 2 to 4" in proposal.summary
    output = await scale.run(actx, request)
    assert output.data["verified"] is True
    assert ecs.describe_services(cluster="prod", services=["api"])["services"][0]["desiredCount"] == 4


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("ec2_stop", {"instance_ids": ["web-1"]}),
        ("ec2_stop", {"instance_ids": []}),
        ("ec2_stop", {"instance_ids": [f"i-0123456789abcde{i:02d}" for i in range(6)]}),
        ("ec2_stop", {"instance_ids": ["i-0123456789abcdef0", "i-0123456789abcdef0"]}),
        ("ec2_reboot", {"instance_ids": ["i-0123456789abcdef0"], "force": True}),
        ("ecs_set_desired_count", {"cluster": "prod", "service": "api", "desired_count": 101}),
        ("ecs_set_desired_count", {"cluster": "prod;rm", "service": "api", "desired_count": 1}),
    ],
    ids=["not-an-id", "none", "too-many", "repeated", "unknown-field", "count-too-high", "bad-cluster"],
)
def test_inputs_outside_the_narrow_shapes_are_refused(name: str, arguments: dict[str, Any]) -> None:
    """Ids must look like instance ids (at most five, distinct); counts 0..100; names plain; no extra fields."""
    with pytest.raises(InvalidToolInput):
        tool(name).parse(arguments)
