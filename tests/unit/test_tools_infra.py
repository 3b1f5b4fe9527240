"""The inventory tools against moto (EC2, ECS, RDS, Lambda, Auto Scaling, Cost Explorer) over HTTP."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest

from agents.errors import ToolFailed
from agents.testing.aws_extras import AwsFault
from agents.tools.infra import infra_tools

if TYPE_CHECKING:
    from agents.testing.aws_extras import FakeAwsJson
    from agents.tools import ToolContext, ToolOutput
    from tests.unit.conftest import MotoAccount

AMI = "ami-12c6146b"  # one of moto's built-in images
TODAY = date(2026, 3, 15)
TOOLS = infra_tools(today=lambda: TODAY)


async def run(ctx: ToolContext, tool: str, **params: Any) -> ToolOutput:
    """Run one inventory tool as the runner would."""
    found = TOOLS.get(tool)
    assert found is not None
    return await found.run(ctx, found.parse(params))


def launch(moto: MotoAccount, name: str, count: int = 1, instance_type: str = "t3.micro") -> list[str]:
    """``count`` instances tagged Name=``name``; their ids."""
    reservation = moto.client("ec2").run_instances(
        ImageId=AMI,
        MinCount=count,
        MaxCount=count,
        InstanceType=instance_type,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    return [instance["InstanceId"] for instance in reservation["Instances"]]


async def test_instances_come_back_with_name_state_and_counts(ctx: ToolContext, moto: MotoAccount) -> None:
    """Every instance is listed with its Name tag, type, state, AZ and IP; counts by state sum them up."""
    web = launch(moto, "web", 2)
    (batch,) = launch(moto, "batch", instance_type="c6i.large")
    moto.client("ec2").stop_instances(InstanceIds=[batch])

    output = await run(ctx, "list_ec2_instances")

    assert output.data["by_state"] == {"running": 2, "stopped": 1}
    instances = {i["id"]: i for i in output.data["instances"]}
    assert set(instances) == {*web, batch}
    stopped = instances[batch]
    assert (stopped["name"], stopped["type"], stopped["state"]) == ("batch", "c6i.large", "stopped")
    assert "state_reason" in stopped
    assert "state_reason" not in instances[web[0]]
    assert instances[web[0]]["az"].startswith("eu-west-1")
    assert instances[web[0]]["private_ip"].count(".") == 3
    assert instances[web[0]]["launched"].endswith("Z")


async def test_instances_filter_by_state_and_name(ctx: ToolContext, moto: MotoAccount) -> None:
    """State and name_contains are applied by EC2 itself (instance-state-name and tag:Name filters)."""
    launch(moto, "api-blue", 1)
    launch(moto, "worker", 1)
    (stopped,) = launch(moto, "api-green", 1)
    moto.client("ec2").stop_instances(InstanceIds=[stopped])

    running = await run(ctx, "list_ec2_instances", state="running")
    api = await run(ctx, "list_ec2_instances", name_contains="api")

    assert sorted(i["name"] for i in running.data["instances"]) == ["api-blue", "worker"]
    assert sorted(i["name"] for i in api.data["instances"]) == ["api-blue", "api-green"]


async def test_many_instances_are_cut_with_a_count(ctx: ToolContext, moto: MotoAccount) -> None:
    """At most 50 instances are shown; the total and how many are not shown are said."""
    launch(moto, "fleet", 55)

    output = await run(ctx, "list_ec2_instances")

    assert output.data["total"] == 55
    assert len(output.data["instances"]) + output.data["more_not_shown"] == 55
    assert len(output.data["instances"]) <= 50


def create_service(moto: MotoAccount, cluster: str, name: str, desired: int = 2) -> None:
    """A cluster (if new), a task definition and a service."""
    ecs = moto.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(family=name, containerDefinitions=[{"name": name, "image": "nginx", "memory": 256}])
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=name, desiredCount=desired)


async def test_ecs_services_of_every_cluster_show_counts_and_rollouts(ctx: ToolContext, moto: MotoAccount) -> None:
    """Without names, every cluster's services are described: task counts, deployment and rollout state."""
    create_service(moto, "prod", "api", desired=3)
    create_service(moto, "prod", "worker", desired=1)
    create_service(moto, "staging", "api", desired=1)

    output = await run(ctx, "describe_ecs_services")

    assert sorted(output.data["clusters"]) == ["prod", "staging"]
    services = {(s["cluster"], s["name"]): s for s in output.data["services"]}
    assert set(services) == {("prod", "api"), ("prod", "worker"), ("staging", "api")}
    api = services["prod", "api"]
    assert (api["status"], api["desired"], api["task_definition"]) == ("ACTIVE", 3, "api:1")
    (deployment,) = api["deployments"]
    assert (deployment["status"], deployment["rollout_state"], deployment["desired"]) == ("PRIMARY", "IN_PROGRESS", 3)
    assert api["events"] == []


async def test_named_ecs_services_report_the_ones_not_found(ctx: ToolContext, moto: MotoAccount) -> None:
    """Named services are described in the named cluster; a missing one is reported, not an error."""
    create_service(moto, "prod", "api")

    output = await run(ctx, "describe_ecs_services", clusters=["prod"], services=["api", "ghost"])

    assert [s["name"] for s in output.data["services"]] == ["api"]
    assert output.data["not_found"] == ["prod/ghost: MISSING"]


async def test_rds_instances_are_listed(ctx: ToolContext, moto: MotoAccount) -> None:
    """DB instances come back with engine, class, status, storage and endpoint."""
    moto.client("rds").create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        EngineVersion="16.3",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=50,
    )

    output = await run(ctx, "list_rds_instances")

    (orders,) = output.data["db_instances"]
    assert (orders["id"], orders["engine"], orders["class"], orders["storage_gb"]) == (
        "orders",
        "postgres 16.3",
        "db.t3.micro",
        50,
    )
    assert orders["status"] == "available"
    assert orders["endpoint"].endswith(":5432")
    assert output.data["by_status"] == {"available": 1}


def lambda_role(moto: MotoAccount) -> str:
    """An execution role, which moto requires before CreateFunction."""
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    iam = moto.client("iam", region="us-east-1")
    return iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def create_function(moto: MotoAccount, name: str, role: str, memory: int = 128) -> None:
    """A Python function (created, never invoked: no Docker needed)."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return 1\n")
    moto.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handle",
        Code={"ZipFile": code.getvalue()},
        MemorySize=memory,
        Timeout=30,
    )


async def test_lambda_functions_come_back_most_recently_modified_first(ctx: ToolContext, moto: MotoAccount) -> None:
    """Functions carry runtime, memory, timeout and an ISO last-modified time; name_contains filters."""
    role = lambda_role(moto)
    create_function(moto, "checkout-api", role, memory=512)
    await asyncio.sleep(0.01)  # moto stamps LastModified to the microsecond
    create_function(moto, "billing-cron", role)

    everything = await run(ctx, "list_lambda_functions")
    checkout = await run(ctx, "list_lambda_functions", name_contains="CHECKOUT")

    assert [f["name"] for f in everything.data["functions"]] == ["billing-cron", "checkout-api"]
    (function,) = checkout.data["functions"]
    assert (function["runtime"], function["memory_mb"], function["timeout_s"]) == ("python3.12", 512, 30)
    assert function["last_modified"].endswith("Z")


async def test_autoscaling_groups_count_instances_by_lifecycle_state(ctx: ToolContext, moto: MotoAccount) -> None:
    """Each group shows its capacity bounds and its instances counted by lifecycle state."""
    autoscaling = moto.client("autoscaling")
    autoscaling.create_launch_configuration(LaunchConfigurationName="web", ImageId=AMI, InstanceType="t3.micro")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchConfigurationName="web",
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=2,
        AvailabilityZones=["eu-west-1a"],
    )
    autoscaling.suspend_processes(AutoScalingGroupName="web", ScalingProcesses=["AZRebalance"])

    output = await run(ctx, "list_autoscaling_groups")

    (group,) = output.data["groups"]
    assert (group["min"], group["max"], group["desired"]) == (1, 4, 2)
    assert group["instances_by_state"] == {"InService": 2}
    assert group["launch_configuration"] == "web"
    assert group["suspended_processes"] == ["AZRebalance"]
    assert "unhealthy_instances" not in group


def cost_lines(amounts: dict[str, str]) -> dict[str, Any]:
    """One MONTHLY ResultsByTime entry grouped by SERVICE."""
    return {
        "TimePeriod": {"Start": "2026-03-01", "End": "2026-03-15"},
        "Total": {},
        "Groups": [
            {"Keys": [service], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
            for service, amount in amounts.items()
        ],
        "Estimated": True,
    }


async def test_month_to_date_cost_is_grouped_by_service_largest_first(ctx: ToolContext, moto: MotoAccount) -> None:
    """The cost from the 1st to today is totalled and split by service, largest first; sub-cent lines drop."""
    moto.seed_cost_and_usage(
        [
            {
                "ResultsByTime": [
                    cost_lines(
                        {
                            "Amazon Elastic Compute Cloud - Compute": "80.1049",
                            "Amazon Relational Database Service": "120.5",
                            "AWS Key Management Service": "0.0001",
                        }
                    )
                ]
            }
        ]
    )

    output = await run(ctx, "month_to_date_cost")

    assert output.data["period"] == {"start": "2026-03-01", "end_exclusive": "2026-03-15"}
    assert output.data["by_service"] == [
        {"service": "Amazon Relational Database Service", "amount": 120.5},
        {"service": "Amazon Elastic Compute Cloud - Compute", "amount": 80.1},
    ]
    assert (output.data["total"], output.data["currency"], output.data["estimated"]) == (200.6, "USD", True)
    assert output.summary == "200.60 USD month to date"


@pytest.fixture
def cost_explorer(extras: FakeAwsJson, aws_env: str, monkeypatch: pytest.MonkeyPatch) -> FakeAwsJson:
    """The JSON fake as Cost Explorer."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_COST_EXPLORER", extras.url)
    return extras


async def test_cost_pages_are_followed_and_small_services_summed(ctx: ToolContext, cost_explorer: FakeAwsJson) -> None:
    """NextPageToken pages are read from us-east-1; beyond the top 20 services the rest is one line."""
    services = {f"Service {i:02d}": f"{i + 1}.00" for i in range(25)}
    first, second = dict(list(services.items())[:15]), dict(list(services.items())[15:])

    def get_cost_and_usage(body: dict[str, Any]) -> dict[str, Any]:
        if "NextPageToken" not in body:
            return {"ResultsByTime": [cost_lines(first)], "NextPageToken": "page-2"}
        return {"ResultsByTime": [cost_lines(second)]}

    cost_explorer.on("AWSInsightsIndexService.GetCostAndUsage", get_cost_and_usage)

    output = await run(ctx, "month_to_date_cost")

    first_call, second_call = cost_explorer.calls
    assert (first_call.region, first_call.signing_service) == ("us-east-1", "ce")
    assert first_call.body["TimePeriod"] == {"Start": "2026-03-01", "End": "2026-03-15"}
    assert first_call.body["GroupBy"] == [{"Type": "DIMENSION", "Key": "SERVICE"}]
    assert second_call.body["NextPageToken"] == "page-2"
    assert len(output.data["by_service"]) == 20
    assert output.data["by_service"][0] == {"service": "Service 24", "amount": 25.0}
    assert output.data["other_services"] == {"count": 5, "amount": 15.0}
    assert output.data["total"] == 325.0


async def test_on_the_first_of_the_month_no_empty_period_is_asked(ctx: ToolContext, cost_explorer: FakeAwsJson) -> None:
    """On the 1st, Start would equal End (which Cost Explorer rejects): the tool says so without calling."""
    first_of_month = infra_tools(today=lambda: date(2026, 4, 1)).get("month_to_date_cost")
    assert first_of_month is not None

    output = await first_of_month.run(ctx, first_of_month.parse({}))

    assert cost_explorer.calls == []
    assert "total" not in output.data  # not "$0": there is no data yet
    assert "no complete day" in output.data["note"]


async def test_cost_explorer_access_denied_names_the_permission(ctx: ToolContext, cost_explorer: FakeAwsJson) -> None:
    """AccessDeniedException from Cost Explorer is a ToolFailed naming ce:GetCostAndUsage."""
    cost_explorer.on("AWSInsightsIndexService.GetCostAndUsage", AwsFault("AccessDeniedException", "denied"))

    with pytest.raises(ToolFailed) as failed:
        await run(ctx, "month_to_date_cost")

    assert (failed.value.source, failed.value.reason) == (
        "Cost Explorer",
        "AccessDeniedException: the bot's role lacks ce:GetCostAndUsage",
    )


async def test_unknown_input_is_rejected_by_name(ctx: ToolContext) -> None:
    """A tool that takes no input says which key it did not expect."""
    with pytest.raises(ToolFailed) as failed:
        await run(ctx, "list_rds_instances", engine="postgres")

    assert failed.value.reason.startswith("invalid input: engine: Extra inputs are not permitted")


@pytest.mark.parametrize(
    ("today", "period", "expected"),
    [
        (date(2026, 3, 15), "month_to_date", ("2026-03-01", "2026-03-15")),
        (date(2026, 3, 15), "last_month_same_days", ("2026-02-01", "2026-02-15")),
        (date(2026, 3, 15), "last_month", ("2026-02-01", "2026-03-01")),
        (date(2026, 3, 31), "last_month_same_days", ("2026-02-01", "2026-03-01")),
        (date(2026, 1, 20), "last_month", ("2025-12-01", "2026-01-01")),
    ],
)
async def test_last_months_cost_is_read_over_the_same_days_or_whole(
    ctx: ToolContext, cost_explorer: FakeAwsJson, today: date, period: str, expected: tuple[str, str]
) -> None:
    """Last month, over the same days as this month so far (capped at its end) or whole, for a like-for-like change."""
    cost_explorer.on(
        "AWSInsightsIndexService.GetCostAndUsage", lambda _body: {"ResultsByTime": [cost_lines({"S": "1"})]}
    )
    tool = infra_tools(today=lambda: today).get("month_to_date_cost")
    assert tool is not None

    output = await tool.run(ctx, tool.parse({"period": period}))

    (call,) = cost_explorer.calls
    assert (call.body["TimePeriod"]["Start"], call.body["TimePeriod"]["End"]) == expected
    assert output.data["period"] == {"start": expected[0], "end_exclusive": expected[1]}
    assert output.summary == f"1.00 USD {period.replace('_', ' ')}"
