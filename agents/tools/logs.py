"""Log tools: find the right log group, then search it or run a Logs Insights query over it.

"Why are 5xx up since 14:00?" usually ends in the logs. Finding the group comes first (names are rarely
known by heart); ``filter_log_events`` then answers "show me the errors", and Logs Insights answers
"count them by path". Insights queries run asynchronously on AWS's side: the tool polls with a growing
interval under an overall deadline and stops the query when the deadline passes, so a slow query costs
neither the task's time budget nor scanning charges after nobody waits for it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import Field

from agents.errors import ToolFailed
from agents.tools._aws import aws_errors
from agents.tools._base import Tool, ToolContext, ToolOutput, Toolset
from agents.tools._params import ToolInput
from agents.tools._probe import Probe
from agents.tools._shape import clip, collect, compact, listing
from agents.tools._time import WindowInput, from_epoch_ms, iso, utc_now

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping
    from datetime import datetime

__all__ = ["INSIGHTS_SOURCE", "LOGS_SOURCE", "LOGS_TOOLS", "Polling", "logs_tools"]

LOGS_SOURCE = "CloudWatch Logs"
INSIGHTS_SOURCE = "CloudWatch Logs Insights"

_MAX_GROUPS_SCANNED = 1_000
_MAX_ROWS = 200
_MAX_EVENTS = 200
_MAX_FILTER_PAGES = 50  # FilterLogEvents may return many empty pages while it scans a large group
_VALUE_CHARS = 500
_UNFINISHED = frozenset({"Scheduled", "Running"})


# --- find_log_groups -----------------------------------------------------------------------------------


class FindLogGroupsInput(ToolInput):
    """Input of ``find_log_groups``."""

    prefix: str | None = Field(
        default=None, min_length=1, max_length=512, description="Name prefix, e.g. /aws/lambda/checkout."
    )
    contains: str | None = Field(default=None, min_length=1, max_length=512, description="Case-insensitive.")


async def _find_log_groups(ctx: ToolContext, request: FindLogGroupsInput) -> ToolOutput:
    query: dict[str, Any] = {}
    # The API takes a prefix or a pattern, not both: with both, the pattern is applied here.
    if request.prefix:
        query["logGroupNamePrefix"] = request.prefix
    elif request.contains:
        query["logGroupNamePattern"] = request.contains
    with aws_errors(LOGS_SOURCE, "logs"):
        logs = await ctx.aws.client("logs")
        pages = logs.get_paginator("describe_log_groups").paginate(**query)
        found = await collect(pages, lambda page: page.get("logGroups", ()), limit=_MAX_GROUPS_SCANNED)
    needle = (request.contains or "").lower()
    groups = [_log_group(group) for group in found.items if needle in group["logGroupName"].lower()]
    data = listing("log_groups", groups, complete=found.complete, narrow="use a longer prefix")
    return ToolOutput(data=data, summary=f"{len(groups)} log groups")


def _log_group(raw: Mapping[str, Any]) -> dict[str, Any]:
    retention = raw.get("retentionInDays")
    stored = int(raw.get("storedBytes") or 0)
    return compact(
        {
            "name": raw["logGroupName"],
            "stored_bytes": stored,
            "stored": _size(stored),
            "retention": f"{retention} days" if retention else "never expires",
            "class": raw.get("logGroupClass"),
            "created": iso(from_epoch_ms(raw.get("creationTime"))),
        }
    )


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:  # noqa: PLR2004
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def _groups_progress(ctx: ToolContext, request: FindLogGroupsInput) -> str:
    name = request.prefix or request.contains
    matching = f" matching {name!r}" if name else ""
    return f"Finding log groups{matching} in {ctx.region}…"


# --- logs_insights_query -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Polling:
    """How ``logs_insights_query`` waits: first interval, doubling up to ``max_interval``, overall deadline.

    ``clock`` and ``sleep`` are injected so tests run the whole schedule instantly and assert it exactly.
    """

    deadline: float = 30.0
    first_interval: float = 0.5
    max_interval: float = 4.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class InsightsInput(WindowInput):
    """Input of ``logs_insights_query``."""

    log_groups: tuple[str, ...] = Field(min_length=1, max_length=50)
    query: str = Field(
        min_length=1,
        max_length=10_000,
        description=("e.g. `filter @message like /ERROR/ | stats count(*) by bin(5m)`"),
    )


async def _logs_insights_query(
    ctx: ToolContext, request: InsightsInput, *, now: Callable[[], datetime], polling: Polling
) -> ToolOutput:
    window = request.window(now=now(), default_minutes=60, max_minutes=14 * 24 * 60, source=INSIGHTS_SOURCE)
    with aws_errors(INSIGHTS_SOURCE, "logs"):
        logs = await ctx.aws.client("logs")
        started = await logs.start_query(
            logGroupNames=list(request.log_groups),
            startTime=int(window.start.timestamp()),
            endTime=int(window.end.timestamp()),
            queryString=request.query,
            limit=_MAX_ROWS,
        )
        response, stopped = await _wait_for(logs, started["queryId"], polling)
    status = response.get("status", "Unknown")
    rows = [_row(row) for row in response.get("results", ())]
    if stopped and not rows:
        raise ToolFailed(
            source=INSIGHTS_SOURCE,
            reason=(
                f"the query did not finish within {polling.deadline:g} s and was stopped: "
                "query a shorter window or fewer log groups, or filter earlier in the query"
            ),
            retryable=True,
        )
    if not stopped and status != "Complete":
        raise ToolFailed(source=INSIGHTS_SOURCE, reason=f"the query ended with status {status}")
    data: dict[str, Any] = {
        "status": f"stopped after {polling.deadline:g} s: partial results" if stopped else status,
        "log_groups": list(request.log_groups),
        "window": window.as_dict(),
        "statistics": _statistics(response.get("statistics", {})),
        **listing("rows", rows, show=_MAX_ROWS, narrow="add a filter or a `| limit` to the query"),
    }
    return ToolOutput(data=data, summary=f"{len(rows)} rows" + (" (partial)" if stopped else ""))


async def _wait_for(logs: Any, query_id: str, polling: Polling) -> tuple[dict[str, Any], bool]:
    """Poll until the query ends, or stop it at the deadline; ``(last response, stopped)``."""
    give_up = polling.clock() + polling.deadline
    interval = polling.first_interval
    while True:
        await polling.sleep(max(0.0, min(interval, give_up - polling.clock())))
        response: dict[str, Any] = await logs.get_query_results(queryId=query_id)
        if response.get("status") not in _UNFINISHED:
            return response, False
        if polling.clock() >= give_up:
            await _stop(logs, query_id)
            return response, True
        interval = min(interval * 2, polling.max_interval)


async def _stop(logs: Any, query_id: str) -> None:
    try:
        await logs.stop_query(queryId=query_id)
    except ClientError as exc:
        # The query may have ended since the last poll; it then cannot be stopped, and nothing is lost.
        if exc.response.get("Error", {}).get("Code") != "InvalidParameterException":
            raise


def _row(fields: list[Mapping[str, str]]) -> dict[str, str | None]:
    return {f["field"]: clip(f.get("value"), _VALUE_CHARS) for f in fields if f.get("field") != "@ptr"}


def _statistics(raw: Mapping[str, Any]) -> dict[str, int]:
    names = {"recordsMatched": "records_matched", "recordsScanned": "records_scanned", "bytesScanned": "bytes_scanned"}
    return {name: int(raw[key]) for key, name in names.items() if key in raw}


def _insights_progress(ctx: ToolContext, request: InsightsInput) -> str:
    groups = ", ".join(request.log_groups[:3])
    return f"Running a Logs Insights query over {groups} in {ctx.region}…"


# --- filter_log_events ---------------------------------------------------------------------------------


class FilterEventsInput(WindowInput):
    """Input of ``filter_log_events``."""

    log_group: str = Field(min_length=1, max_length=512)
    filter_pattern: str | None = Field(
        default=None,
        max_length=1024,
        description='e.g. `ERROR`, `?ERROR ?Exception`, `{ $.level = "error" }`',
    )
    stream_prefix: str | None = Field(default=None, min_length=1, max_length=512)


async def _filter_log_events(
    ctx: ToolContext, request: FilterEventsInput, *, now: Callable[[], datetime]
) -> ToolOutput:
    window = request.window(now=now(), default_minutes=60, max_minutes=7 * 24 * 60, source=LOGS_SOURCE)
    query: dict[str, Any] = {
        "logGroupName": request.log_group,
        "startTime": int(window.start.timestamp() * 1000),
        "endTime": int(window.end.timestamp() * 1000),
    }
    if request.filter_pattern:
        query["filterPattern"] = request.filter_pattern
    if request.stream_prefix:
        query["logStreamNamePrefix"] = request.stream_prefix
    with aws_errors(LOGS_SOURCE, "logs"):
        logs = await ctx.aws.client("logs")
        pages = logs.get_paginator("filter_log_events").paginate(**query)
        found = await collect(
            pages, lambda page: page.get("events", ()), limit=_MAX_EVENTS, max_pages=_MAX_FILTER_PAGES
        )
    events = [_event(event) for event in sorted(found.items, key=lambda event: event.get("timestamp", 0))]
    data = {
        "log_group": request.log_group,
        "filter_pattern": request.filter_pattern,
        "window": window.as_dict(),
        **listing(
            "events",
            events,
            complete=found.complete,
            show=_MAX_EVENTS,
            narrow="events are oldest first: start the window later, or narrow the filter pattern",
        ),
    }
    return ToolOutput(data=data, summary=f"{len(events)} log events")


def _event(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "at": iso(from_epoch_ms(raw.get("timestamp"))),
        "stream": raw.get("logStreamName"),
        "message": clip(str(raw.get("message", "")).rstrip(), _VALUE_CHARS),
    }


def _filter_progress(ctx: ToolContext, request: FilterEventsInput) -> str:
    pattern = request.filter_pattern
    matching = f" for {pattern!r}" if pattern else ""
    return f"Searching {request.log_group}{matching} in {ctx.region}…"


# --- the toolset ---------------------------------------------------------------------------------------


def logs_tools(*, now: Callable[[], datetime] = utc_now, polling: Polling | None = None) -> Toolset:
    """The log agent's tools; ``now`` anchors relative windows, ``polling`` paces Insights queries."""
    return Toolset(
        tools=(
            Tool(
                name="find_log_groups",
                description=(
                    "Find CloudWatch Logs log groups by name: name, stored size, retention, creation time. "
                    "Use it first when the exact group name is not known."
                ),
                input_model=FindLogGroupsInput,
                effect="read",
                source=LOGS_SOURCE,
                progress=_groups_progress,
                run=_find_log_groups,
            ),
            Tool(
                name="logs_insights_query",
                description=(
                    "Run a CloudWatch Logs Insights query over log groups and a window; up to 200 result rows. "
                    "Best for counting, grouping and finding patterns."
                ),
                input_model=InsightsInput,
                effect="read",
                source=INSIGHTS_SOURCE,
                progress=_insights_progress,
                run=functools.partial(_logs_insights_query, now=now, polling=polling or Polling()),
            ),
            Tool(
                name="filter_log_events",
                description=(
                    "Read one log group's events matching a filter pattern over a window, oldest first, at "
                    "most 200: time, stream, message."
                ),
                input_model=FilterEventsInput,
                effect="read",
                source=LOGS_SOURCE,
                progress=_filter_progress,
                run=functools.partial(_filter_log_events, now=now),
            ),
        ),
        probes=(Probe(LOGS_SOURCE, "logs", "describe_log_groups", "logs:DescribeLogGroups", {"limit": 1}),),
        iam_actions=frozenset(
            {
                "logs:DescribeLogGroups",
                "logs:FilterLogEvents",
                "logs:StartQuery",
                "logs:GetQueryResults",
                "logs:StopQuery",
            }
        ),
    )


#: The log tools with the production clock and polling.
LOGS_TOOLS = logs_tools()
