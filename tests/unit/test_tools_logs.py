"""The log tools against moto (log groups, events) and the JSON fake (Logs Insights, faults), over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from agents.errors import ToolFailed
from agents.testing.aws_extras import AwsFault, FakeAwsJson
from agents.tools.logs import Polling, logs_tools

if TYPE_CHECKING:
    from agents.tools import ToolContext, ToolOutput, Toolset
    from tests.unit.conftest import FakeTime, MotoAccount

NOW = datetime.now(UTC).replace(microsecond=0)


def tools(fake_time: FakeTime | None = None) -> Toolset:
    """The log tools on a fixed clock; Insights polling on ``fake_time`` when given."""
    if fake_time is None:
        return logs_tools(now=lambda: NOW)
    return logs_tools(now=lambda: NOW, polling=Polling(clock=fake_time.clock, sleep=fake_time.sleep))


async def run(ctx: ToolContext, tool: str, toolset: Toolset | None = None, **params: Any) -> ToolOutput:
    """Run one log tool as the runner would."""
    found = (toolset or tools()).get(tool)
    assert found is not None
    return await found.run(ctx, found.parse(params))


def put_events(moto: MotoAccount, group: str, stream: str, messages: list[str], *, minutes_ago: int = 10) -> None:
    """``messages`` in one stream, a second apart, starting ``minutes_ago`` before NOW."""
    logs = moto.client("logs")
    existing = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    if not any(g["logGroupName"] == group for g in existing):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    start = NOW - timedelta(minutes=minutes_ago)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": int((start + timedelta(seconds=i)).timestamp() * 1000), "message": message}
            for i, message in enumerate(messages)
        ],
    )


async def test_log_groups_are_read_across_pages_and_the_rest_counted(ctx: ToolContext, moto: MotoAccount) -> None:
    """60 groups take two DescribeLogGroups pages; 50 are shown, in name order, and 10 counted."""
    logs = moto.client("logs")
    for i in range(60):
        logs.create_log_group(logGroupName=f"/ecs/service-{i:02d}")

    output = await run(ctx, "find_log_groups", prefix="/ecs/")

    names = [g["name"] for g in output.data["log_groups"]]
    assert names == [f"/ecs/service-{i:02d}" for i in range(50)]
    assert (output.data["total"], output.data["more_not_shown"]) == (60, 10)
    assert output.data["note"] == "10 more not shown: use a longer prefix"


async def test_log_groups_show_retention_size_and_filter_by_part_of_the_name(
    ctx: ToolContext, moto: MotoAccount
) -> None:
    """`contains` matches anywhere in the name, case-insensitively; retention reads as days or never."""
    logs = moto.client("logs")
    for name in ("/aws/lambda/checkout", "/aws/lambda/billing", "/ecs/Checkout-api"):
        logs.create_log_group(logGroupName=name)
    logs.put_retention_policy(logGroupName="/aws/lambda/checkout", retentionInDays=30)

    output = await run(ctx, "find_log_groups", contains="checkout")

    groups = {g["name"]: g for g in output.data["log_groups"]}
    assert sorted(groups) == ["/aws/lambda/checkout", "/ecs/Checkout-api"]
    assert groups["/aws/lambda/checkout"]["retention"] == "30 days"
    assert groups["/ecs/Checkout-api"]["retention"] == "never expires"
    assert groups["/ecs/Checkout-api"]["stored"] == "0 B"
    assert groups["/ecs/Checkout-api"]["created"].endswith("Z")


async def test_prefix_and_contains_together_narrow_both_ways(ctx: ToolContext, moto: MotoAccount) -> None:
    """With a prefix and a part of the name, both must match."""
    logs = moto.client("logs")
    for name in ("/aws/lambda/checkout", "/aws/lambda/billing", "/ecs/checkout"):
        logs.create_log_group(logGroupName=name)

    output = await run(ctx, "find_log_groups", prefix="/aws/lambda/", contains="CHECK")

    assert [g["name"] for g in output.data["log_groups"]] == ["/aws/lambda/checkout"]


async def test_matching_events_come_back_oldest_first_with_stream_and_time(ctx: ToolContext, moto: MotoAccount) -> None:
    """A filter pattern keeps only matching events, across streams, with ISO time and stream name."""
    put_events(moto, "/ecs/api", "api/1", ["GET /health 200", "ERROR db timeout\n", "GET / 200"], minutes_ago=10)
    put_events(moto, "/ecs/api", "api/2", ["ERROR pool exhausted"], minutes_ago=5)

    output = await run(ctx, "filter_log_events", log_group="/ecs/api", filter_pattern="ERROR", minutes=30)

    assert output.data["events"] == [
        {
            "at": (NOW - timedelta(minutes=10) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "stream": "api/1",
            "message": "ERROR db timeout",
        },
        {
            "at": (NOW - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "stream": "api/2",
            "message": "ERROR pool exhausted",
        },
    ]
    assert output.data["total"] == 2


async def test_events_outside_the_window_are_not_read(ctx: ToolContext, moto: MotoAccount) -> None:
    """The window (default the last 60 minutes) bounds the search."""
    put_events(moto, "/ecs/api", "old", ["ERROR from yesterday"], minutes_ago=24 * 60)
    put_events(moto, "/ecs/api", "new", ["ERROR just now"], minutes_ago=1)

    output = await run(ctx, "filter_log_events", log_group="/ecs/api")

    assert [e["message"] for e in output.data["events"]] == ["ERROR just now"]


async def test_events_stop_at_200_and_say_more_exist(ctx: ToolContext, moto: MotoAccount) -> None:
    """Reading stops after 200 events; what does not fit the size budget is counted, and a note says more exist."""
    put_events(moto, "/ecs/api", "api/1", [f"event {i:03d}" for i in range(250)])

    output = await run(ctx, "filter_log_events", log_group="/ecs/api")

    events = output.data["events"]
    assert output.data["total_at_least"] == 200
    assert len(events) + output.data.get("more_not_shown", 0) == 200
    assert events[0]["message"] == "event 000"
    assert output.data["note"].startswith("stopped reading after 200, more exist")


async def test_a_missing_log_group_is_named_in_the_failure(ctx: ToolContext, moto: MotoAccount) -> None:
    """ResourceNotFoundException comes back as a ToolFailed carrying AWS's code and message."""
    with pytest.raises(ToolFailed) as failed:
        await run(ctx, "filter_log_events", log_group="/nope")

    assert failed.value.source == "CloudWatch Logs"
    assert failed.value.reason.startswith("ResourceNotFoundException")


@pytest.fixture
def insights(extras: FakeAwsJson, aws_env: str, monkeypatch: pytest.MonkeyPatch) -> FakeAwsJson:
    """The JSON fake as CloudWatch Logs; StartQuery answers query q-1 and StopQuery succeeds."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", extras.url)
    extras.on("Logs_20140328.StartQuery", {"queryId": "q-1"})
    extras.on("Logs_20140328.StopQuery", {"success": True})
    return extras


def query_results(statuses: list[str], rows: list[list[dict[str, str]]]):
    """A GetQueryResults handler answering ``statuses`` in turn (the last one repeats), with ``rows``."""
    remaining = list(statuses)

    def get_query_results(body: dict[str, Any]) -> dict[str, Any]:
        assert body == {"queryId": "q-1"}
        status = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return {
            "status": status,
            "results": rows,
            "statistics": {"recordsMatched": 3.0, "recordsScanned": 1200.0, "bytesScanned": 52000.0},
        }

    return get_query_results


ROWS = [
    [{"field": "path", "value": "/checkout"}, {"field": "count()", "value": "3"}, {"field": "@ptr", "value": "CmAK"}],
    [{"field": "path", "value": "/cart"}, {"field": "count()", "value": "1"}],
]


async def test_an_insights_query_is_polled_until_complete(
    ctx: ToolContext, insights: FakeAwsJson, fake_time: FakeTime
) -> None:
    """The query runs over the asked window; polling waits 0.5 s, then doubles; rows come back as objects."""
    insights.on("Logs_20140328.GetQueryResults", query_results(["Scheduled", "Running", "Complete"], ROWS))

    output = await run(
        ctx,
        "logs_insights_query",
        tools(fake_time),
        log_groups=["/ecs/api"],
        query="filter status >= 500 | stats count() by path",
        start="2026-03-01T14:00:00Z",
        end="2026-03-01T15:00:00Z",
    )

    assert output.data["status"] == "Complete"
    assert output.data["rows"] == [{"path": "/checkout", "count()": "3"}, {"path": "/cart", "count()": "1"}]
    assert output.data["statistics"] == {"records_matched": 3, "records_scanned": 1200, "bytes_scanned": 52000}
    assert fake_time.sleeps == [0.5, 1.0, 2.0]
    (start,) = insights.calls_to("StartQuery")
    assert start.body == {
        "logGroupNames": ["/ecs/api"],
        "queryString": "filter status >= 500 | stats count() by path",
        "startTime": int(datetime(2026, 3, 1, 14, tzinfo=UTC).timestamp()),
        "endTime": int(datetime(2026, 3, 1, 15, tzinfo=UTC).timestamp()),
        "limit": 200,
    }
    assert not insights.calls_to("StopQuery")


async def test_a_query_still_running_at_the_deadline_is_stopped_and_reported(
    ctx: ToolContext, insights: FakeAwsJson, fake_time: FakeTime
) -> None:
    """At the 30 s deadline the query is stopped (no scanning nobody waits for) and the failure is retryable."""
    insights.on("Logs_20140328.GetQueryResults", query_results(["Running"], []))

    with pytest.raises(ToolFailed) as failed:
        await run(ctx, "logs_insights_query", tools(fake_time), log_groups=["/ecs/api"], query="stats count()")

    assert fake_time.sleeps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 2.5]
    assert fake_time.now == 30.0
    assert [call.body for call in insights.calls_to("StopQuery")] == [{"queryId": "q-1"}]
    assert failed.value.source == "CloudWatch Logs Insights"
    assert "did not finish within 30 s and was stopped" in failed.value.reason
    assert failed.value.retryable


async def test_rows_found_before_the_deadline_are_returned_as_partial(
    ctx: ToolContext, insights: FakeAwsJson, fake_time: FakeTime
) -> None:
    """A stopped query that already found rows is a partial answer, labelled as such, not a failure."""
    insights.on("Logs_20140328.GetQueryResults", query_results(["Running"], ROWS))

    output = await run(ctx, "logs_insights_query", tools(fake_time), log_groups=["/ecs/api"], query="stats count()")

    assert output.data["status"] == "stopped after 30 s: partial results"
    assert len(output.data["rows"]) == 2
    assert output.summary == "2 rows (partial)"
    assert len(insights.calls_to("StopQuery")) == 1


async def test_a_query_that_ended_before_it_could_be_stopped_is_not_an_error(
    ctx: ToolContext, insights: FakeAwsJson, fake_time: FakeTime
) -> None:
    """StopQuery on a query that just ended answers InvalidParameterException; the rows still come back."""
    insights.on("Logs_20140328.GetQueryResults", query_results(["Running"], ROWS))
    insights.on("Logs_20140328.StopQuery", AwsFault("InvalidParameterException", "Query q-1 is not running"))

    output = await run(ctx, "logs_insights_query", tools(fake_time), log_groups=["/ecs/api"], query="stats count()")

    assert len(output.data["rows"]) == 2


async def test_a_failed_query_is_reported_with_its_status(
    ctx: ToolContext, insights: FakeAwsJson, fake_time: FakeTime
) -> None:
    """A query that ends Failed or Cancelled is a ToolFailed naming the status."""
    insights.on("Logs_20140328.GetQueryResults", query_results(["Running", "Failed"], []))

    with pytest.raises(ToolFailed) as failed:
        await run(ctx, "logs_insights_query", tools(fake_time), log_groups=["/ecs/api"], query="stats count()")

    assert failed.value.reason == "the query ended with status Failed"


async def test_insights_rows_are_bounded_by_count_and_size(
    ctx: ToolContext, insights: FakeAwsJson, fake_time: FakeTime
) -> None:
    """Long values are clipped and rows beyond the size budget are counted, not silently dropped."""
    rows = [[{"field": "@message", "value": "x" * 2000}] for _ in range(200)]
    insights.on("Logs_20140328.GetQueryResults", query_results(["Complete"], rows))

    output = await run(ctx, "logs_insights_query", tools(fake_time), log_groups=["/ecs/api"], query="fields @message")

    shown = output.data["rows"]
    assert all(len(row["@message"]) == 500 for row in shown)
    assert len(shown) + output.data["more_not_shown"] == 200
    assert output.data["total"] == 200


async def test_logs_access_denied_names_the_missing_permission(ctx: ToolContext, insights: FakeAwsJson) -> None:
    """AccessDeniedException from CloudWatch Logs becomes a ToolFailed naming logs:StartQuery."""
    insights.on("Logs_20140328.StartQuery", AwsFault("AccessDeniedException", "not authorized", 400))

    with pytest.raises(ToolFailed) as failed:
        await run(ctx, "logs_insights_query", log_groups=["/ecs/api"], query="stats count()")

    assert failed.value.reason == "AccessDeniedException: the bot's role lacks logs:StartQuery"
    assert insights.calls_to("GetQueryResults") == []
