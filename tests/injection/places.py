"""Where attackers can write, and how the corpus gets there: moto (logs, ECS events, EC2 tags) and the fake Slack.

Each function plants one batch of lines (payloads and secrets) in a new resource of its own and returns
the name the scripted model's read tool will ask for. moto keeps ECS service events but has no API that
writes them (real ECS writes them itself), so they are appended to moto's own service record, in this
process (the moto server runs in a thread of the test process): DescribeServices then returns them over
the wire like any other field.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "MAX_TAG_VALUE",
    "REGION",
    "SERVICE_EVENTS",
    "aws",
    "plant_ec2_names",
    "plant_ecs_events",
    "plant_log_events",
]

REGION = "us-east-1"  # the bot's AWS_REGION in tests
MAX_TAG_VALUE = 256  # EC2 tag values are at most 256 characters
SERVICE_EVENTS = 5  # describe_ecs_services shows a service's 5 latest events


def aws(moto_url: str, service: str) -> Any:
    """A boto3 client for ``service`` in moto."""
    return boto3.client(
        service, region_name=REGION, endpoint_url=moto_url, aws_access_key_id="t", aws_secret_access_key="t"
    )


def plant_log_events(moto_url: str, name: str, lines: Sequence[str]) -> str:
    """A CloudWatch Logs group ``name`` holding one event per line; returns the group name."""
    logs = aws(moto_url, "logs")
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="app")
    now_ms = int(time.time() * 1000)
    events = [{"timestamp": now_ms - 10_000 + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=name, logStreamName="app", logEvents=events)
    return name


def plant_ecs_events(moto_url: str, cluster: str, lines: Sequence[str]) -> str:
    """An ECS cluster whose services carry ``lines`` as their service events (5 a service); returns the cluster."""
    ecs = aws(moto_url, "ecs")
    ecs.create_cluster(clusterName=cluster)
    family = ecs.register_task_definition(
        family=cluster, containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}]
    )["taskDefinition"]["taskDefinitionArn"]
    backend = ecs_backends[DEFAULT_ACCOUNT_ID][REGION]
    now = datetime.now(UTC)
    for index in range(0, len(lines), SERVICE_EVENTS):
        name = f"{cluster}-{index // SERVICE_EVENTS}"
        ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=family, desiredCount=1)
        backend.services[f"{cluster}:{name}"].events.extend(
            {"id": str(uuid.uuid4()), "createdAt": now - timedelta(seconds=n), "message": line}
            for n, line in enumerate(lines[index : index + SERVICE_EVENTS])
        )
    return cluster


def plant_ec2_names(moto_url: str, token: str, lines: Sequence[str]) -> list[str]:
    """One running instance per line, named ``"<token> <line>"``; returns their ids."""
    ec2 = aws(moto_url, "ec2")
    reservation = ec2.run_instances(ImageId="ami-12c6146b", MinCount=len(lines), MaxCount=len(lines))
    ids = [instance["InstanceId"] for instance in reservation["Instances"]]
    for instance, line in zip(ids, lines, strict=True):
        ec2.create_tags(Resources=[instance], Tags=[{"Key": "Name", "Value": f"{token} {line}"[:MAX_TAG_VALUE]}])
    return ids
