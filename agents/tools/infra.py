"""Inventory tools: what runs in the account, in what state, and what it costs this month.

"Which instances are stopped?", "is the api service rolling out?", "what did we spend on RDS?" need an
inventory, not metrics. Each tool lists one kind of resource with the few fields an operator looks at
first, and counts by state where a summary says more than a list. The cost tool lives in
:mod:`agents.tools.cost` and joins this toolset.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from agents.tools._aws import aws_errors
from agents.tools._base import Tool, ToolContext, ToolOutput, Toolset
from agents.tools._params import NoInput, ToolInput
from agents.tools._probe import Probe
from agents.tools._shape import clip, collect, compact, listing
from agents.tools._time import iso, utc_today
from agents.tools.cost import COST_SOURCE, cost_tools

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "ASG_SOURCE",
    "COST_SOURCE",
    "EC2_SOURCE",
    "ECS_SOURCE",
    "INFRA_TOOLS",
    "LAMBDA_SOURCE",
    "RDS_SOURCE",
    "infra_tools",
]

EC2_SOURCE = "EC2"
ECS_SOURCE = "ECS"
RDS_SOURCE = "RDS"
LAMBDA_SOURCE = "Lambda"
ASG_SOURCE = "EC2 Auto Scaling"

_SCAN_LIMIT = 1_000
_MAX_CLUSTERS = 10
_MAX_SERVICES = 50
_DESCRIBE_SERVICES_BATCH = 10  # DescribeServices takes at most 10 services per call
_SERVICE_EVENTS = 5


# --- list_ec2_instances --------------------------------------------------------------------------------


class Ec2Input(ToolInput):
    """Input of ``list_ec2_instances``."""

    state: Literal["pending", "running", "stopping", "stopped", "shutting-down", "terminated"] | None = None
    name_contains: str | None = Field(
        default=None, min_length=1, max_length=255, description="Only instances whose Name tag contains this."
    )


async def _list_ec2_instances(ctx: ToolContext, request: Ec2Input) -> ToolOutput:
    filters = []
    if request.state:
        filters.append({"Name": "instance-state-name", "Values": [request.state]})
    if request.name_contains:
        filters.append({"Name": "tag:Name", "Values": [f"*{request.name_contains}*"]})
    with aws_errors(EC2_SOURCE, "ec2"):
        ec2 = await ctx.aws.client("ec2")
        pages = ec2.get_paginator("describe_instances").paginate(Filters=filters)
        found = await collect(pages, _instances_in, limit=_SCAN_LIMIT)
    instances = [_instance(raw) for raw in found.items]
    data = {
        "region": ctx.region,
        "by_state": dict(Counter(instance["state"] for instance in instances)),
        **listing("instances", instances, complete=found.complete, narrow="filter by state or name"),
    }
    return ToolOutput(data=data, summary=f"{len(instances)} EC2 instances")


def _instances_in(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [instance for reservation in page.get("Reservations", ()) for instance in reservation["Instances"]]


def _instance(raw: Mapping[str, Any]) -> dict[str, Any]:
    tags = {tag["Key"]: tag["Value"] for tag in raw.get("Tags", ())}
    state = raw.get("State", {}).get("Name", "unknown")
    return compact(
        {
            "id": raw["InstanceId"],
            "name": tags.get("Name"),
            "type": raw.get("InstanceType"),
            "state": state,
            # Why an instance stopped ("User initiated (…)", "Server.SpotInstanceTermination") matters; for a
            # running one the field is empty or stale.
            "state_reason": clip(raw.get("StateTransitionReason"), 120) if state != "running" else None,
            "launched": iso(raw.get("LaunchTime")),
            "az": raw.get("Placement", {}).get("AvailabilityZone"),
            "private_ip": raw.get("PrivateIpAddress"),
            "public_ip": raw.get("PublicIpAddress"),
        }
    )


# --- describe_ecs_services -----------------------------------------------------------------------------


class EcsInput(ToolInput):
    """Input of ``describe_ecs_services``."""

    clusters: tuple[str, ...] | None = Field(
        default=None, min_length=1, max_length=_MAX_CLUSTERS, description="Cluster names or ARNs; all if omitted."
    )
    services: tuple[str, ...] | None = Field(
        default=None,
        min_length=1,
        max_length=_MAX_SERVICES,
        description="All if omitted.",
    )


async def _describe_ecs_services(ctx: ToolContext, request: EcsInput) -> ToolOutput:
    services: list[dict[str, Any]] = []
    missing: list[str] = []
    complete = True
    with aws_errors(ECS_SOURCE, "ecs"):
        ecs = await ctx.aws.client("ecs")
        if request.clusters:
            clusters = list(request.clusters)
        else:
            listed = await collect(
                ecs.get_paginator("list_clusters").paginate(),
                lambda page: page.get("clusterArns", ()),
                limit=_MAX_CLUSTERS,
            )
            clusters, complete = listed.items, listed.complete
        for cluster in clusters:
            room = _MAX_SERVICES - len(services)
            if room <= 0:
                complete = False
                break
            if request.services:
                names = list(request.services)
            else:
                listed = await collect(
                    ecs.get_paginator("list_services").paginate(cluster=cluster),
                    lambda page: page.get("serviceArns", ()),
                    limit=room,
                )
                names, complete = listed.items, complete and listed.complete
            for start in range(0, len(names), _DESCRIBE_SERVICES_BATCH):
                batch = names[start : start + _DESCRIBE_SERVICES_BATCH]
                described = await ecs.describe_services(cluster=cluster, services=batch)
                services.extend(_service(raw) for raw in described.get("services", ()))
                missing.extend(
                    f"{_tail(cluster)}/{_tail(failure.get('arn', ''))}: {failure.get('reason')}"
                    for failure in described.get("failures", ())
                )
    data: dict[str, Any] = {
        "clusters": [_tail(cluster) for cluster in clusters],
        **listing("services", services, complete=complete, narrow="name the clusters or services"),
    }
    if missing:
        data["not_found"] = missing
    return ToolOutput(data=data, summary=f"{len(services)} ECS services")


def _service(raw: Mapping[str, Any]) -> dict[str, Any]:
    return compact(
        {
            "cluster": _tail(raw.get("clusterArn", "")),
            "name": raw["serviceName"],
            "status": raw.get("status"),
            "desired": raw.get("desiredCount"),
            "running": raw.get("runningCount"),
            "pending": raw.get("pendingCount"),
            "launch_type": raw.get("launchType"),
            "task_definition": _tail(raw.get("taskDefinition", "")),
            "deployments": [_deployment(d) for d in raw.get("deployments", ())[:3]],
            # ECS lists service events newest first.
            "events": [
                {"at": iso(event.get("createdAt")), "message": clip(event.get("message"), 300)}
                for event in raw.get("events", ())[:_SERVICE_EVENTS]
            ],
        }
    )


def _deployment(raw: Mapping[str, Any]) -> dict[str, Any]:
    return compact(
        {
            "status": raw.get("status"),
            "rollout_state": raw.get("rolloutState"),
            "rollout_reason": clip(raw.get("rolloutStateReason"), 200),
            "task_definition": _tail(raw.get("taskDefinition", "")),
            "desired": raw.get("desiredCount"),
            "running": raw.get("runningCount"),
            "pending": raw.get("pendingCount"),
            "failed_tasks": raw.get("failedTasks"),
            "updated": iso(raw.get("updatedAt")),
        }
    )


def _tail(arn: str) -> str:
    """The name at the end of an ARN (``…:task-definition/api:7`` → ``api:7``); names pass through."""
    return arn.rsplit("/", 1)[-1]


# --- list_rds_instances --------------------------------------------------------------------------------


async def _list_rds_instances(ctx: ToolContext, _request: NoInput) -> ToolOutput:
    with aws_errors(RDS_SOURCE, "rds"):
        rds = await ctx.aws.client("rds")
        pages = rds.get_paginator("describe_db_instances").paginate()
        found = await collect(pages, lambda page: page.get("DBInstances", ()), limit=_SCAN_LIMIT)
    instances = [_db_instance(raw) for raw in found.items]
    data = {
        "region": ctx.region,
        "by_status": dict(Counter(instance["status"] for instance in instances)),
        **listing("db_instances", instances, complete=found.complete),
    }
    return ToolOutput(data=data, summary=f"{len(instances)} RDS instances")


def _db_instance(raw: Mapping[str, Any]) -> dict[str, Any]:
    endpoint = raw.get("Endpoint") or {}
    return compact(
        {
            "id": raw["DBInstanceIdentifier"],
            "engine": f"{raw.get('Engine', '')} {raw.get('EngineVersion', '')}".strip(),
            "class": raw.get("DBInstanceClass"),
            "status": raw.get("DBInstanceStatus", "unknown"),
            "multi_az": raw.get("MultiAZ"),
            "storage_gb": raw.get("AllocatedStorage"),
            "storage_type": raw.get("StorageType"),
            "endpoint": f"{endpoint['Address']}:{endpoint.get('Port')}" if "Address" in endpoint else None,
            "az": raw.get("AvailabilityZone"),
            "created": iso(raw.get("InstanceCreateTime")),
        }
    )


# --- list_lambda_functions -----------------------------------------------------------------------------


class LambdaInput(ToolInput):
    """Input of ``list_lambda_functions``."""

    name_contains: str | None = Field(default=None, min_length=1, max_length=140)


async def _list_lambda_functions(ctx: ToolContext, request: LambdaInput) -> ToolOutput:
    with aws_errors(LAMBDA_SOURCE, "lambda"):
        functions_api = await ctx.aws.client("lambda")
        pages = functions_api.get_paginator("list_functions").paginate()
        found = await collect(pages, lambda page: page.get("Functions", ()), limit=_SCAN_LIMIT)
    needle = (request.name_contains or "").lower()
    matching = (raw for raw in found.items if needle in raw["FunctionName"].lower())
    functions = [_function(raw) for raw in sorted(matching, key=_modified_at, reverse=True)]
    data = {
        "region": ctx.region,
        "order": "most recently modified first",
        **listing("functions", functions, complete=found.complete, narrow="filter with name_contains"),
    }
    return ToolOutput(data=data, summary=f"{len(functions)} Lambda functions")


def _function(raw: Mapping[str, Any]) -> dict[str, Any]:
    return compact(
        {
            "name": raw["FunctionName"],
            "runtime": raw.get("Runtime") or raw.get("PackageType"),
            "memory_mb": raw.get("MemorySize"),
            "timeout_s": raw.get("Timeout"),
            "last_modified": iso(_modified_at(raw)) if raw.get("LastModified") else None,
            "architectures": raw.get("Architectures"),
            "state": raw.get("State"),
        }
    )


def _modified_at(raw: Mapping[str, Any]) -> datetime:
    # Lambda reports "2026-03-01T14:05:00.000+0000" as a string.
    try:
        return datetime.fromisoformat(raw.get("LastModified") or "")
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


# --- list_autoscaling_groups ---------------------------------------------------------------------------


class AsgInput(ToolInput):
    """Input of ``list_autoscaling_groups``."""

    names: tuple[str, ...] | None = Field(default=None, min_length=1, max_length=50, description="All if omitted.")


async def _list_autoscaling_groups(ctx: ToolContext, request: AsgInput) -> ToolOutput:
    query = {"AutoScalingGroupNames": list(request.names)} if request.names else {}
    with aws_errors(ASG_SOURCE, "autoscaling"):
        autoscaling = await ctx.aws.client("autoscaling")
        pages = autoscaling.get_paginator("describe_auto_scaling_groups").paginate(**query)
        found = await collect(pages, lambda page: page.get("AutoScalingGroups", ()), limit=_SCAN_LIMIT)
    groups = [_group(raw) for raw in found.items]
    data = {"region": ctx.region, **listing("groups", groups, complete=found.complete, narrow="name the groups")}
    return ToolOutput(data=data, summary=f"{len(groups)} Auto Scaling groups")


def _group(raw: Mapping[str, Any]) -> dict[str, Any]:
    instances = raw.get("Instances", ())
    template = raw.get("LaunchTemplate") or raw.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {}).get(
        "LaunchTemplateSpecification"
    )
    unhealthy = [i["InstanceId"] for i in instances if i.get("HealthStatus") != "Healthy"]
    return compact(
        {
            "name": raw["AutoScalingGroupName"],
            "min": raw.get("MinSize"),
            "max": raw.get("MaxSize"),
            "desired": raw.get("DesiredCapacity"),
            "instances_by_state": dict(Counter(i.get("LifecycleState", "unknown") for i in instances)),
            "unhealthy_instances": unhealthy[:10] or None,
            "launch_template": template.get("LaunchTemplateName") if template else None,
            "launch_configuration": raw.get("LaunchConfigurationName"),
            "azs": raw.get("AvailabilityZones"),
            "suspended_processes": [p["ProcessName"] for p in raw.get("SuspendedProcesses", ())] or None,
            "status": raw.get("Status"),
        }
    )


# --- the toolset ---------------------------------------------------------------------------------------


def _progress(text: str) -> Callable[[ToolContext, ToolInput], str]:
    return lambda ctx, _request: f"{text} in {ctx.region}…"


def infra_tools(*, today: Callable[[], date] = utc_today) -> Toolset:
    """The inventory agent's tools, month-to-date cost included; ``today`` (UTC) bounds the cost period."""
    return _inventory_tools() + cost_tools(today=today)


def _inventory_tools() -> Toolset:
    return Toolset(
        tools=(
            Tool(
                name="list_ec2_instances",
                description=(
                    "List EC2 instances: id, name, type, state (and why it stopped), launch time, AZ and IPs, "
                    "with counts by state."
                ),
                input_model=Ec2Input,
                effect="read",
                source=EC2_SOURCE,
                progress=_progress("Listing EC2 instances"),
                run=_list_ec2_instances,
            ),
            Tool(
                name="describe_ecs_services",
                description=(
                    "Describe ECS services: desired/running/pending tasks, status, deployments with rollout "
                    "state, the 5 latest service events."
                ),
                input_model=EcsInput,
                effect="read",
                source=ECS_SOURCE,
                progress=_progress("Describing ECS services"),
                run=_describe_ecs_services,
            ),
            Tool(
                name="list_rds_instances",
                description=("List RDS DB instances: engine and version, class, status, Multi-AZ, storage, endpoint."),
                input_model=NoInput,
                effect="read",
                source=RDS_SOURCE,
                progress=_progress("Listing RDS instances"),
                run=_list_rds_instances,
            ),
            Tool(
                name="list_lambda_functions",
                description=(
                    "List Lambda functions, most recently modified first: runtime, memory, timeout, last modified."
                ),
                input_model=LambdaInput,
                effect="read",
                source=LAMBDA_SOURCE,
                progress=_progress("Listing Lambda functions"),
                run=_list_lambda_functions,
            ),
            Tool(
                name="list_autoscaling_groups",
                description=(
                    "List EC2 Auto Scaling groups: min/max/desired capacity, instances by lifecycle state, "
                    "unhealthy instances, launch template, suspended processes."
                ),
                input_model=AsgInput,
                effect="read",
                source=ASG_SOURCE,
                progress=_progress("Listing Auto Scaling groups"),
                run=_list_autoscaling_groups,
            ),
        ),
        probes=(
            Probe(EC2_SOURCE, "ec2", "describe_instances", "ec2:DescribeInstances", {"MaxResults": 5}),
            Probe(ECS_SOURCE, "ecs", "list_clusters", "ecs:ListClusters", {"maxResults": 1}),
            Probe(RDS_SOURCE, "rds", "describe_db_instances", "rds:DescribeDBInstances", {"MaxRecords": 20}),
            Probe(LAMBDA_SOURCE, "lambda", "list_functions", "lambda:ListFunctions", {"MaxItems": 1}),
            Probe(
                ASG_SOURCE,
                "autoscaling",
                "describe_auto_scaling_groups",
                "autoscaling:DescribeAutoScalingGroups",
                {"MaxRecords": 1},
            ),
        ),
        iam_actions=frozenset(
            {
                "ec2:DescribeInstances",
                "ecs:ListClusters",
                "ecs:ListServices",
                "ecs:DescribeServices",
                "rds:DescribeDBInstances",
                "lambda:ListFunctions",
                "autoscaling:DescribeAutoScalingGroups",
            }
        ),
    )


#: The inventory tools with the production clock.
INFRA_TOOLS = infra_tools()
