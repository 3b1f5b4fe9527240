"""The monitoring tools against moto (alarms, metrics) and the JSON fake (AWS Health, faults), over HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from agents.errors import ToolFailed
from agents.testing.aws_extras import AwsFault, FakeAwsJson
from agents.tools.monitor import monitor_tools

if TYPE_CHECKING:
    from agents.tools import ToolContext, ToolOutput
    from tests.unit.conftest import MotoAccount

# Minute-aligned, so each datapoint falls in its own one-minute period.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
TOOLS = monitor_tools(now=lambda: NOW)


async def run(ctx: ToolContext, tool: str, **params: Any) -> ToolOutput:
    """Run one monitoring tool as the runner would."""
    found = TOOLS.get(tool)
    assert found is not None
    return await found.run(ctx, found.parse(params))


def put_alarm(moto: MotoAccount, name: str, *, state: str = "ALARM", reason: str = "Threshold crossed") -> None:
    """An EC2 CPU alarm forced into ``state`` (moto never evaluates alarms)."""
    cloudwatch = moto.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/EC2",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "InstanceId", "Value": "i-0abc"}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=3,
        Threshold=80.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def put_points(moto: MotoAccount, namespace: str, metric: str, dimensions: dict[str, str], values: list[float]) -> None:
    """One datapoint per minute, the last one a minute before NOW (each mid-minute)."""
    moto.client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Timestamp": NOW - timedelta(minutes=len(values) - i, seconds=-30),
                "Value": value,
            }
            for i, value in enumerate(values)
        ],
    )


async def test_alarming_alarms_come_back_newest_first_with_what_they_watch(ctx: ToolContext, moto: MotoAccount) -> None:
    """Only ALARM alarms are listed by default, newest state change first, with reason, metric and threshold."""
    put_alarm(moto, "api-cpu-high", reason="3 datapoints above 80")
    put_alarm(moto, "quiet", state="OK")
    await asyncio.sleep(0.01)  # moto stamps state changes to the millisecond
    put_alarm(moto, "worker-cpu-high")

    output = await run(ctx, "list_alarms")

    alarms = output.data["alarms"]
    assert [a["name"] for a in alarms] == ["worker-cpu-high", "api-cpu-high"]
    api = alarms[1]
    assert api["state"] == "ALARM"
    assert api["reason"] == "3 datapoints above 80"
    assert (api["metric"], api["namespace"], api["dimensions"]) == (
        "CPUUtilization",
        "AWS/EC2",
        {"InstanceId": "i-0abc"},
    )
    assert (api["threshold"], api["comparison"]) == (80.0, "GreaterThanThreshold")
    assert datetime.fromisoformat(api["since"]) >= NOW - timedelta(minutes=5)
    assert output.data["total"] == 2
    assert "more_not_shown" not in output.data


async def test_any_state_and_name_prefix_filter_alarms(ctx: ToolContext, moto: MotoAccount) -> None:
    """state=ANY lists every state; name_prefix narrows by name."""
    put_alarm(moto, "db-connections", state="OK")
    put_alarm(moto, "db-storage", state="INSUFFICIENT_DATA")
    put_alarm(moto, "api-5xx")

    output = await run(ctx, "list_alarms", state="ANY", name_prefix="db-")

    assert sorted((a["name"], a["state"]) for a in output.data["alarms"]) == [
        ("db-connections", "OK"),
        ("db-storage", "INSUFFICIENT_DATA"),
    ]


async def test_a_long_alarm_list_is_cut_with_a_count_of_the_rest(ctx: ToolContext, moto: MotoAccount) -> None:
    """At most 50 alarms are shown; the rest are counted and the model is told how to narrow."""
    for i in range(55):
        put_alarm(moto, f"alarm-{i:02d}")

    output = await run(ctx, "list_alarms")

    shown = len(output.data["alarms"])
    assert shown <= 50
    assert output.data["total"] == 55
    assert output.data["more_not_shown"] == 55 - shown
    assert "name_prefix" in output.data["note"]


async def test_denied_access_names_the_missing_permission(
    ctx: ToolContext, extras: FakeAwsJson, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An AccessDenied from CloudWatch becomes a ToolFailed naming the IAM action, not a botocore error."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", extras.url)
    extras.on(
        "GraniteServiceVersion20100801.DescribeAlarms",
        AwsFault("AccessDenied", "User: arn:aws:sts::123:assumed-role/orch is not authorized", 403),
    )
    with pytest.raises(ToolFailed) as failed:
        await run(ctx, "list_alarms")

    assert failed.value.source == "CloudWatch alarms"
    assert failed.value.reason == "AccessDenied: the bot's role lacks cloudwatch:DescribeAlarms"
    assert not failed.value.retryable


async def test_ec2_defaults_are_cpu_and_status_checks_summarised(ctx: ToolContext, moto: MotoAccount) -> None:
    """EC2 gets CPUUtilization (Average) and StatusCheckFailed (Maximum): min, max and when, avg, last."""
    put_points(moto, "AWS/EC2", "CPUUtilization", {"InstanceId": "i-0abc"}, [10, 20, 95, 30, 40])
    put_points(moto, "AWS/EC2", "StatusCheckFailed", {"InstanceId": "i-0abc"}, [0, 0, 0, 0, 0])

    output = await run(ctx, "get_metric_statistics", resource_type="ec2", resource_ids=["i-0abc"], minutes=30)

    cpu, status = output.data["results"]
    assert (cpu["metric"], cpu["stat"], status["metric"], status["stat"]) == (
        "CPUUtilization",
        "Average",
        "StatusCheckFailed",
        "Maximum",
    )
    assert cpu["datapoints"] == 5
    assert (cpu["min"], cpu["max"], cpu["avg"], cpu["last"]) == (10, 95, 39, 40)
    assert cpu["max_at"] == (NOW - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [value for _, value in cpu["series"]] == [10, 20, 95, 30, 40]
    assert status["max"] == 0
    assert output.data["period_seconds"] == 60
    assert output.data["window"]["end"] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_ecs_metrics_use_cluster_and_service_dimensions(ctx: ToolContext, moto: MotoAccount) -> None:
    """An ECS id "cluster/service" becomes the ClusterName and ServiceName dimensions."""
    put_points(moto, "AWS/ECS", "MemoryUtilization", {"ClusterName": "prod", "ServiceName": "api"}, [50, 70])

    output = await run(ctx, "get_metric_statistics", resource_type="ecs", resource_ids=["prod/api"])

    by_metric = {r["metric"]: r for r in output.data["results"]}
    assert by_metric["MemoryUtilization"]["max"] == 70
    assert by_metric["CPUUtilization"] == {
        "resource": "prod/api",
        "metric": "CPUUtilization",
        "stat": "Average",
        "datapoints": 0,
    }
    assert "note" not in output.data


async def test_alb_arns_become_the_load_balancer_dimension(ctx: ToolContext, moto: MotoAccount) -> None:
    """An ALB is named by its ARN or by app/<name>/<id>; 5xx counts are summed."""
    put_points(
        moto, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", {"LoadBalancer": "app/web/50dc6c495c0c9188"}, [3, 4]
    )
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"

    output = await run(
        ctx, "get_metric_statistics", resource_type="alb", resource_ids=[arn], metrics=["HTTPCode_Target_5XX_Count"]
    )

    (result,) = output.data["results"]
    assert (result["stat"], result["datapoints"], result["max"]) == ("Sum", 2, 4)


async def test_a_long_series_is_averaged_into_twelve_buckets(ctx: ToolContext, moto: MotoAccount) -> None:
    """Two hours of minutes come back as 12 points, while max and max_at still pinpoint the spike."""
    values = [5.0] * 120
    values[100] = 99.0
    put_points(moto, "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "orders"}, values)

    output = await run(
        ctx,
        "get_metric_statistics",
        resource_type="rds",
        resource_ids=["orders"],
        metrics=["CPUUtilization"],
        minutes=120,
        period_seconds=60,
    )

    (cpu,) = output.data["results"]
    assert cpu["datapoints"] == 120
    assert len(cpu["series"]) == 12
    assert cpu["max"] == 99
    assert cpu["max_at"] == (NOW - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_no_datapoints_at_all_says_what_to_check(ctx: ToolContext, moto: MotoAccount) -> None:
    """When nothing matched, the result says so instead of returning silent zeros."""
    output = await run(ctx, "get_metric_statistics", resource_type="lambda", resource_ids=["checkout"])

    assert [r["metric"] for r in output.data["results"]] == ["Errors", "Duration", "Throttles"]
    assert "no datapoints" in output.data["note"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"resource_type": "ecs", "resource_ids": ["api"]}, "expected cluster/service"),
        ({"resource_type": "s3", "resource_ids": ["bucket"]}, "resource_type"),
        (
            {
                "resource_type": "ec2",
                "resource_ids": ["i-1"],
                "start": "2026-01-02T00:00:00Z",
                "end": "2026-01-01T00:00:00Z",
            },
            "is not before end",
        ),
        ({"resource_type": "ec2", "resource_ids": ["i-1"], "minutes": 60 * 24 * 40}, "longer than 31 days"),
        ({"resource_type": "ec2", "resource_id": "i-1"}, "resource_id"),
    ],
)
async def test_bad_input_is_explained_before_any_aws_call(
    ctx: ToolContext, params: dict[str, Any], expected: str
) -> None:
    """Malformed ids, unknown types, empty or too long windows and unknown keys come back as fixable reasons."""
    with pytest.raises(ToolFailed) as failed:
        await run(ctx, "get_metric_statistics", **params)
    assert expected in failed.value.reason


def health_event(index: int, *, service: str = "EC2", updated_minutes_ago: int = 0) -> dict[str, Any]:
    """An AWS Health event as the API returns it (timestamps as epoch seconds)."""
    updated = NOW - timedelta(minutes=updated_minutes_ago)
    return {
        "arn": f"arn:aws:health:eu-west-1::event/{service}/AWS_{service}_ISSUE/e{index}",
        "service": service,
        "eventTypeCode": f"AWS_{service}_OPERATIONAL_ISSUE",
        "eventTypeCategory": "issue",
        "region": "eu-west-1",
        "startTime": (updated - timedelta(hours=1)).timestamp(),
        "lastUpdatedTime": updated.timestamp(),
        "statusCode": "open",
        "eventScopeCode": "PUBLIC",
    }


def paged(events: list[dict[str, Any]]):
    """A DescribeEvents handler paging ``events`` by the request's maxResults, as the service does."""

    def describe_events(body: dict[str, Any]) -> dict[str, Any]:
        start = int(body.get("nextToken", "page0").removeprefix("page"))
        end = start + body.get("maxResults", 10)
        page: dict[str, Any] = {"events": events[start:end]}
        if end < len(events):
            page["nextToken"] = f"page{end}"
        return page

    return describe_events


@pytest.fixture
def health(extras: FakeAwsJson, aws_env: str, monkeypatch: pytest.MonkeyPatch) -> FakeAwsJson:
    """The JSON fake as AWS Health."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_HEALTH", extras.url)
    return extras


async def test_health_events_come_back_newest_first_with_descriptions(ctx: ToolContext, health: FakeAwsJson) -> None:
    """Open and upcoming events are asked of us-east-1, sorted newest first, with AWS's description."""
    events = [health_event(1, updated_minutes_ago=30), health_event(2, service="RDS", updated_minutes_ago=5)]
    health.on("AWSHealth_20160804.DescribeEvents", paged(events))
    health.on(
        "AWSHealth_20160804.DescribeEventDetails",
        lambda body: {
            "successfulSet": [
                {"event": {"arn": arn}, "eventDescription": {"latestDescription": f"We are investigating {arn[-2:]}"}}
                for arn in body["eventArns"]
            ],
            "failedSet": [],
        },
    )

    output = await run(ctx, "list_health_events")

    first, second = output.data["events"]
    assert (first["service"], second["service"]) == ("RDS", "EC2")
    assert first["description"] == "We are investigating e2"
    assert first["last_updated"] == (NOW - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (call, details) = health.calls
    assert call.body["filter"] == {"eventStatusCodes": ["open", "upcoming"]}
    assert (call.region, call.signing_service) == ("us-east-1", "health")
    assert details.body["eventArns"] == [first["arn"], second["arn"]]


async def test_health_events_are_paged_and_bounded(ctx: ToolContext, health: FakeAwsJson) -> None:
    """Events beyond one page are read; at most 50 are shown, details are asked for the 10 newest only."""
    health.on("AWSHealth_20160804.DescribeEvents", paged([health_event(i, updated_minutes_ago=i) for i in range(120)]))
    health.on("AWSHealth_20160804.DescribeEventDetails", {"successfulSet": [], "failedSet": []})

    output = await run(ctx, "list_health_events", services=["EC2"], days=7)

    assert len(health.calls_to("DescribeEvents")) == 2
    assert output.data["total"] == 120
    assert len(output.data["events"]) + output.data["more_not_shown"] == 120
    assert len(health.calls_to("DescribeEventDetails")[0].body["eventArns"]) == 10
    sent = health.calls_to("DescribeEvents")[0].body["filter"]
    assert sent["services"] == ["EC2"]
    assert sent["lastUpdatedTimes"] == [{"from": (NOW - timedelta(days=7)).timestamp()}]


async def test_health_without_a_support_plan_says_which_plan_is_needed(ctx: ToolContext, health: FakeAwsJson) -> None:
    """SubscriptionRequiredException becomes a reason naming the support plans that include the API."""
    health.on(
        "AWSHealth_20160804.DescribeEvents",
        AwsFault("SubscriptionRequiredException", "The AWS Health API is only available to Business support"),
    )

    with pytest.raises(ToolFailed) as failed:
        await run(ctx, "list_health_events")

    assert failed.value.source == "AWS Health"
    assert failed.value.reason.startswith("SubscriptionRequiredException: the AWS Health API needs a Business")
    assert not failed.value.retryable
