"""Monitoring tools: what is alarming, what the metrics say, and what AWS itself reports.

They answer the first questions of any incident ("what's alarming?", "are 5xx up on the api?", "is it
AWS?") from CloudWatch alarms, CloudWatch metrics and AWS Health. Results are summarised for a model to
read: per metric min/max/avg/last and a short series rather than every datapoint, alarms newest first.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from agents.errors import ToolFailed
from agents.tools._aws import aws_errors, us_east_1_client
from agents.tools._base import Tool, ToolContext, ToolOutput, Toolset
from agents.tools._params import ToolInput
from agents.tools._probe import Probe
from agents.tools._shape import MAX_SHOWN, clip, collect, compact, listing
from agents.tools._time import Window, WindowInput, iso, utc_now

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "ALARMS_SOURCE",
    "HEALTH_SOURCE",
    "METRICS_SOURCE",
    "MONITOR_TOOLS",
    "monitor_tools",
]

ALARMS_SOURCE = "CloudWatch alarms"
METRICS_SOURCE = "CloudWatch metrics"
HEALTH_SOURCE = "AWS Health"

_SCAN_LIMIT = 500  # items read before giving up on counting the rest
_SERIES_POINTS = 12
_TARGET_DATAPOINTS = 60  # per metric, when choosing a period
_HEALTH_DETAILS = 10  # DescribeEventDetails takes at most 10 ARNs


# --- list_alarms ---------------------------------------------------------------------------------------


class ListAlarmsInput(ToolInput):
    """Input of ``list_alarms``."""

    state: Literal["ALARM", "OK", "INSUFFICIENT_DATA", "ANY"] = Field(default="ALARM", description="ANY: every alarm.")
    name_prefix: str | None = Field(default=None, min_length=1, max_length=255)


async def _list_alarms(ctx: ToolContext, request: ListAlarmsInput) -> ToolOutput:
    query: dict[str, Any] = {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
    if request.state != "ANY":
        query["StateValue"] = request.state
    if request.name_prefix:
        query["AlarmNamePrefix"] = request.name_prefix
    with aws_errors(ALARMS_SOURCE, "cloudwatch"):
        cloudwatch = await ctx.aws.client("cloudwatch")
        pages = cloudwatch.get_paginator("describe_alarms").paginate(**query)
        found = await collect(pages, _alarms_in, limit=_SCAN_LIMIT)
    alarms = [_alarm(raw) for raw in sorted(found.items, key=_changed_at, reverse=True)]
    data = {
        "region": ctx.region,
        "state": request.state,
        **listing("alarms", alarms, complete=found.complete, narrow="filter with name_prefix"),
    }
    return ToolOutput(data=data, summary=f"{len(alarms)} alarms ({request.state})")


def _alarms_in(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*page.get("MetricAlarms", ()), *page.get("CompositeAlarms", ())]


def _changed_at(raw: Mapping[str, Any]) -> datetime:
    # StateTransitionedTimestamp is when the state last changed; StateUpdatedTimestamp also moves when only
    # the reason text changes, so it is the fallback.
    changed: datetime | None = raw.get("StateTransitionedTimestamp") or raw.get("StateUpdatedTimestamp")
    return changed or datetime.min.replace(tzinfo=UTC)


def _alarm(raw: Mapping[str, Any]) -> dict[str, Any]:
    metric_math = [
        query.get("Expression") or query.get("MetricStat", {}).get("Metric", {}).get("MetricName")
        for query in raw.get("Metrics", ())
    ]
    return compact(
        {
            "name": raw["AlarmName"],
            "state": raw["StateValue"],
            "since": iso(_changed_at(raw)),
            "reason": clip(raw.get("StateReason"), 300),
            "type": "composite" if "AlarmRule" in raw else None,
            "rule": clip(raw.get("AlarmRule"), 300),
            "metric": raw.get("MetricName"),
            "namespace": raw.get("Namespace"),
            "dimensions": {d["Name"]: d["Value"] for d in raw.get("Dimensions", ())} or None,
            "metric_math": [m for m in metric_math if m] or None,
            "statistic": raw.get("Statistic") or raw.get("ExtendedStatistic"),
            "comparison": raw.get("ComparisonOperator"),
            "threshold": raw.get("Threshold"),
            "period_s": raw.get("Period"),
            "evaluation_periods": raw.get("EvaluationPeriods"),
        }
    )


def _alarms_progress(ctx: ToolContext, request: ListAlarmsInput) -> str:
    which = "" if request.state == "ANY" else f" in {request.state}"
    return f"Listing CloudWatch alarms{which} in {ctx.region}…"


# --- get_metric_statistics -----------------------------------------------------------------------------

ResourceType = Literal["ec2", "ecs", "rds", "alb", "lambda"]
Statistic = Literal["Average", "Sum", "Minimum", "Maximum", "SampleCount", "p50", "p90", "p95", "p99"]


@dataclass(frozen=True, slots=True)
class _Kind:
    """How one resource type maps to CloudWatch: namespace, dimensions from an id, default metrics."""

    namespace: str
    dimensions: Callable[[str], dict[str, str] | None]
    defaults: tuple[str, ...]
    id_format: str


def _single(name: str) -> Callable[[str], dict[str, str] | None]:
    return lambda resource_id: {name: resource_id}


def _ecs_service(resource_id: str) -> dict[str, str] | None:
    # "cluster/service", or a service ARN ("arn:aws:ecs:…:service/cluster/service").
    path = resource_id.split(":service/", 1)[1] if resource_id.startswith("arn:") else resource_id
    cluster, _, service = path.partition("/")
    if not cluster or not service or "/" in service:
        return None
    return {"ClusterName": cluster, "ServiceName": service}


def _load_balancer(resource_id: str) -> dict[str, str] | None:
    # The dimension is "app/<name>/<id>", the tail of the load balancer's ARN.
    value = resource_id.split(":loadbalancer/", 1)[-1]
    return {"LoadBalancer": value} if value.startswith("app/") and value.count("/") == 2 else None  # noqa: PLR2004


_KINDS: dict[str, _Kind] = {
    "ec2": _Kind("AWS/EC2", _single("InstanceId"), ("CPUUtilization", "StatusCheckFailed"), "i-0123abcd"),
    "ecs": _Kind("AWS/ECS", _ecs_service, ("CPUUtilization", "MemoryUtilization"), "cluster/service or a service ARN"),
    "rds": _Kind(
        "AWS/RDS",
        _single("DBInstanceIdentifier"),
        ("CPUUtilization", "DatabaseConnections", "FreeStorageSpace"),
        "DB instance identifier",
    ),
    "alb": _Kind(
        "AWS/ApplicationELB",
        _load_balancer,
        ("HTTPCode_Target_5XX_Count", "TargetResponseTime", "RequestCount"),
        "app/<name>/<id> or the load balancer ARN",
    ),
    "lambda": _Kind("AWS/Lambda", _single("FunctionName"), ("Errors", "Duration", "Throttles"), "function name"),
}

_STATISTIC = {
    "CPUUtilization": "Average",
    "MemoryUtilization": "Average",
    "StatusCheckFailed": "Maximum",
    "DatabaseConnections": "Average",
    "FreeStorageSpace": "Minimum",
    "TargetResponseTime": "Average",
    "Duration": "Average",
}
_SUMMED_SUFFIXES = ("Count", "Errors", "Throttles", "Invocations")


def _statistic_for(metric: str) -> str:
    if metric in _STATISTIC:
        return _STATISTIC[metric]
    return "Sum" if metric.endswith(_SUMMED_SUFFIXES) else "Average"


class MetricsInput(WindowInput):
    """Input of ``get_metric_statistics``."""

    resource_type: ResourceType
    resource_ids: tuple[str, ...] = Field(
        min_length=1,
        max_length=10,
        description=(
            "ec2: instance ids; ecs: cluster/service; rds: DB instance identifiers; "
            "alb: app/<name>/<id> or load balancer ARNs; lambda: function names."
        ),
    )
    metrics: tuple[str, ...] | None = Field(
        default=None,
        min_length=1,
        max_length=8,
        # Which ones are the defaults is not needed to fill the input: any metric can be named, and the
        # result names what was read.
        description="CloudWatch metric names; default: the type's usual ones (CPU, errors, latency…).",
    )
    stat: Statistic | None = Field(default=None, description="For every metric; default: each metric's usual one.")
    period_seconds: int | None = Field(
        default=None, ge=60, le=86_400, multiple_of=60, description="Datapoint period; chosen if omitted."
    )


@dataclass(frozen=True, slots=True)
class _Query:
    id: str
    resource: str
    metric: str
    stat: str


async def _get_metric_statistics(ctx: ToolContext, request: MetricsInput, *, now: Callable[[], datetime]) -> ToolOutput:
    current = now()
    window = request.window(now=current, default_minutes=60, max_minutes=31 * 24 * 60, source=METRICS_SOURCE)
    kind = _KINDS[request.resource_type]
    period = _period(window, request.period_seconds, now=current)
    queries: list[_Query] = []
    definitions: list[dict[str, Any]] = []
    for resource in request.resource_ids:
        dimensions = kind.dimensions(resource)
        if dimensions is None:
            raise ToolFailed(
                source=METRICS_SOURCE,
                reason=f"{resource!r} is not a {request.resource_type} id; expected {kind.id_format}",
            )
        for metric in request.metrics or kind.defaults:
            query = _Query(f"m{len(queries)}", resource, metric, request.stat or _statistic_for(metric))
            queries.append(query)
            definitions.append(_definition(query, kind.namespace, dimensions, period))
    with aws_errors(METRICS_SOURCE, "cloudwatch"):
        cloudwatch = await ctx.aws.client("cloudwatch")
        pages = cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=definitions,
            StartTime=window.start,
            EndTime=window.end,
            ScanBy="TimestampAscending",
        )
        found = await collect(pages, lambda page: page.get("MetricDataResults", ()), limit=10_000, max_pages=20)
    points: dict[str, list[tuple[datetime, float]]] = {query.id: [] for query in queries}
    for result in found.items:
        points.setdefault(result["Id"], []).extend(zip(result["Timestamps"], result["Values"], strict=True))
    results = [{"resource": q.resource, "metric": q.metric, "stat": q.stat, **_summary(points[q.id])} for q in queries]
    data: dict[str, Any] = {
        "resource_type": request.resource_type,
        "namespace": kind.namespace,
        "window": window.as_dict(),
        "period_seconds": period,
        "series_format": f"[time, value]; longer series are averaged into {_SERIES_POINTS} buckets",
        "results": results,
    }
    if not any(points.values()):
        data["note"] = "no datapoints in the window: check the ids and the window, or the metric names"
    return ToolOutput(data=data, summary=f"{len(queries)} metric series over {window.seconds / 60:.0f} min")


def _definition(query: _Query, namespace: str, dimensions: dict[str, str], period: int) -> dict[str, Any]:
    metric = {
        "Namespace": namespace,
        "MetricName": query.metric,
        "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions.items()],
    }
    return {
        "Id": query.id,
        "Label": f"{query.resource} {query.metric}",
        "MetricStat": {"Metric": metric, "Period": period, "Stat": query.stat},
        "ReturnData": True,
    }


def _period(window: Window, requested: int | None, *, now: datetime) -> int:
    """A period giving about 60 datapoints, rounded to what CloudWatch keeps for data of that age."""
    age = now - window.start
    # CloudWatch keeps 1-minute data for 15 days, 5-minute data for 63 days, then hourly.
    granularity = 3600 if age > timedelta(days=63) else 300 if age > timedelta(days=15) else 60
    wanted = requested or window.seconds / _TARGET_DATAPOINTS
    return max(granularity, math.ceil(wanted / granularity) * granularity)


def _summary(points: list[tuple[datetime, float]]) -> dict[str, Any]:
    if not points:
        return {"datapoints": 0}
    points = sorted(points)
    values = [value for _, value in points]
    peak_at, peak = max(points, key=lambda point: point[1])
    return {
        "datapoints": len(points),
        "min": _number(min(values)),
        "max": _number(peak),
        "max_at": iso(peak_at),
        "avg": _number(statistics.fmean(values)),
        "last": _number(values[-1]),
        "last_at": iso(points[-1][0]),
        "series": _series(points),
    }


def _series(points: list[tuple[datetime, float]]) -> list[tuple[str | None, float]]:
    if len(points) <= _SERIES_POINTS:
        return [(iso(at), _number(value)) for at, value in points]
    buckets = (
        points[i * len(points) // _SERIES_POINTS : (i + 1) * len(points) // _SERIES_POINTS]
        for i in range(_SERIES_POINTS)
    )
    return [(iso(bucket[0][0]), _number(statistics.fmean(v for _, v in bucket))) for bucket in buckets]


def _number(value: float) -> float:
    return float(f"{value:.4g}")


def _metrics_progress(ctx: ToolContext, request: MetricsInput) -> str:
    ids = ", ".join(request.resource_ids[:3])
    return f"Reading CloudWatch metrics for {request.resource_type} {ids} in {ctx.region}…"


# --- list_health_events --------------------------------------------------------------------------------


class HealthInput(ToolInput):
    """Input of ``list_health_events``."""

    status: tuple[Literal["open", "upcoming", "closed"], ...] = Field(default=("open", "upcoming"), min_length=1)
    services: tuple[str, ...] | None = Field(
        default=None, min_length=1, description="Health service codes, e.g. EC2, RDS, LAMBDA, ELASTICLOADBALANCING."
    )
    regions: tuple[str, ...] | None = Field(default=None, min_length=1, description="All if omitted.")
    days: int | None = Field(default=None, ge=1, le=90, description="Only events updated in the last N days.")


async def _list_health_events(ctx: ToolContext, request: HealthInput, *, now: Callable[[], datetime]) -> ToolOutput:
    event_filter: dict[str, Any] = {"eventStatusCodes": list(request.status)}
    if request.services:
        event_filter["services"] = list(request.services)
    if request.regions:
        event_filter["regions"] = list(request.regions)
    if request.days:
        event_filter["lastUpdatedTimes"] = [{"from": now() - timedelta(days=request.days)}]
    with aws_errors(HEALTH_SOURCE, "health"):
        async with us_east_1_client(ctx, "health") as health:
            pages = health.get_paginator("describe_events").paginate(
                filter=event_filter, PaginationConfig={"PageSize": 100}
            )
            found = await collect(pages, lambda page: page.get("events", ()), limit=_SCAN_LIMIT)
            raw_events = sorted(
                found.items,
                key=lambda event: iso(event.get("lastUpdatedTime") or event.get("startTime")) or "",
                reverse=True,
            )
            arns = [event["arn"] for event in raw_events[:_HEALTH_DETAILS]]
            details = await health.describe_event_details(eventArns=arns) if arns else {}
    descriptions = {
        item["event"]["arn"]: item.get("eventDescription", {}).get("latestDescription")
        for item in details.get("successfulSet", ())
    }
    events = [_health_event(event, descriptions.get(event["arn"])) for event in raw_events]
    data = {
        "status": list(request.status),
        **listing("events", events, complete=found.complete, show=MAX_SHOWN, narrow="filter by services"),
    }
    return ToolOutput(data=data, summary=f"{len(events)} AWS Health events")


def _health_event(raw: Mapping[str, Any], description: str | None) -> dict[str, Any]:
    return compact(
        {
            "service": raw.get("service"),
            "type": raw.get("eventTypeCode"),
            "category": raw.get("eventTypeCategory"),
            "status": raw.get("statusCode"),
            "region": raw.get("region"),
            "availability_zone": raw.get("availabilityZone"),
            "scope": raw.get("eventScopeCode"),
            "start": iso(raw.get("startTime")),
            "end": iso(raw.get("endTime")),
            "last_updated": iso(raw.get("lastUpdatedTime")),
            "description": clip(description, 600),
            "arn": raw["arn"],
        }
    )


def _health_progress(_ctx: ToolContext, _request: HealthInput) -> str:
    return "Checking AWS Health for events affecting the account…"


# --- the toolset ---------------------------------------------------------------------------------------


def monitor_tools(*, now: Callable[[], datetime] = utc_now) -> Toolset:
    """The monitoring agent's tools; ``now`` is the clock that relative windows are measured from."""
    return Toolset(
        tools=(
            Tool(
                name="list_alarms",
                description=(
                    "List CloudWatch alarms in a state, newest state change first: name, state, since when, "
                    "reason, and the metric, dimensions and threshold watched."
                ),
                input_model=ListAlarmsInput,
                effect="read",
                source=ALARMS_SOURCE,
                progress=_alarms_progress,
                run=_list_alarms,
            ),
            Tool(
                name="get_metric_statistics",
                description=(
                    "Summarise CloudWatch metrics of EC2 instances, ECS services, RDS instances, ALBs or "
                    "Lambda functions over a window: per metric min, max (and when), average, last value and "
                    "a short series."
                ),
                input_model=MetricsInput,
                effect="read",
                source=METRICS_SOURCE,
                progress=_metrics_progress,
                run=functools.partial(_get_metric_statistics, now=now),
            ),
            Tool(
                name="list_health_events",
                description=(
                    "List AWS Health events (AWS-side outages, scheduled maintenance, retirements), newest "
                    "first, with AWS's description of the latest. Needs a Business or Enterprise support plan."
                ),
                input_model=HealthInput,
                effect="read",
                source=HEALTH_SOURCE,
                progress=_health_progress,
                run=functools.partial(_list_health_events, now=now),
            ),
        ),
        probes=(
            Probe(ALARMS_SOURCE, "cloudwatch", "describe_alarms", "cloudwatch:DescribeAlarms", {"MaxRecords": 1}),
            Probe(
                METRICS_SOURCE,
                "cloudwatch",
                "get_metric_data",
                "cloudwatch:GetMetricData",
                {
                    "MetricDataQueries": [
                        {
                            "Id": "probe",
                            "MetricStat": {
                                "Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization"},
                                "Period": 300,
                                "Stat": "Average",
                            },
                        }
                    ],
                    "StartTime": datetime(2020, 1, 1, tzinfo=UTC),
                    "EndTime": datetime(2020, 1, 1, 0, 10, tzinfo=UTC),
                },
            ),
            Probe(
                HEALTH_SOURCE,
                "health",
                "describe_events",
                "health:DescribeEvents",
                {"maxResults": 10},
                global_api=True,
                required=False,
                optional_because=(
                    "AWS Health needs a Business or Enterprise support plan; the monitor agent works without it"
                ),
            ),
        ),
        iam_actions=frozenset(
            {
                "cloudwatch:DescribeAlarms",
                "cloudwatch:GetMetricData",
                "health:DescribeEvents",
                "health:DescribeEventDetails",
            }
        ),
    )


#: The monitoring tools with the production clock.
MONITOR_TOOLS = monitor_tools()
