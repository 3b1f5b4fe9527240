"""Month-to-date cost from Cost Explorer: "what did we spend on RDS this month?", and against last month.

Cost Explorer answers only in us-east-1 and bills every request (USD 0.01), so the tool pages at most a
few times and the model is told to call it once per period. The period runs from the 1st to today
(exclusive): today's costs are still accruing. ``period="last_month_same_days"`` reads last month over the
same days (the 1st to the same day of the month), so a change against last month compares like with like;
``"last_month"`` reads the whole of last month.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from agents.tools._aws import aws_errors, us_east_1_client
from agents.tools._base import Tool, ToolContext, ToolOutput, Toolset
from agents.tools._params import ToolInput
from agents.tools._probe import Probe
from agents.tools._time import utc_today

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import date

__all__ = ["COST_SOURCE", "cost_tools"]

COST_SOURCE = "Cost Explorer"

_TOP_COST_LINES = 20
_MAX_COST_PAGES = 10  # AWS bills every Cost Explorer API request ($0.01 each)


class CostPeriod(ToolInput):
    """Which month's cost to read."""

    # The tool's description says what each period is; the schema carries the default.
    period: Literal["month_to_date", "last_month_same_days", "last_month"] = "month_to_date"


def _period(day: date, which: str) -> tuple[date, date]:
    """``(start, end exclusive)`` of the period ``which``, seen on ``day`` (UTC)."""
    first = day.replace(day=1)
    if which == "month_to_date":
        return first, day
    last_month_first = (first - timedelta(days=1)).replace(day=1)
    if which == "last_month":
        return last_month_first, first
    # The same days as this month so far (the 1st up to, not including, this day of the month), capped at the
    # end of last month when it was shorter.
    return last_month_first, min(last_month_first + timedelta(days=day.day - 1), first)


async def _month_to_date_cost(ctx: ToolContext, request: CostPeriod, *, today: Callable[[], date]) -> ToolOutput:
    day = today()
    start, end = _period(day, request.period)
    # Cost Explorer's end date is exclusive, and today's costs are still accruing: the period ends today.
    period = {"start": start.isoformat(), "end_exclusive": end.isoformat()}
    if start == end:
        note = (
            "today is the 1st: this month has no complete day of cost data yet "
            "(Cost Explorer shows today's costs from tomorrow)"
        )
        return ToolOutput(data={"period": period, "note": note}, summary="no cost data yet this month")
    results: list[Mapping[str, Any]] = []
    with aws_errors(COST_SOURCE, "ce"):
        async with us_east_1_client(ctx, "ce") as cost_explorer:
            query: dict[str, Any] = {
                "TimePeriod": {"Start": period["start"], "End": period["end_exclusive"]},
                "Granularity": "MONTHLY",
                "Metrics": ["UnblendedCost"],
                "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
            }
            # Cost Explorer has no paginator; it pages with NextPageToken.
            for _ in range(_MAX_COST_PAGES):
                page = await cost_explorer.get_cost_and_usage(**query)
                results.extend(page.get("ResultsByTime", ()))
                if not page.get("NextPageToken"):
                    break
                query["NextPageToken"] = page["NextPageToken"]
    return _cost_output(period, results, label=request.period.replace("_", " "))


def _cost_output(period: dict[str, str], results: list[Mapping[str, Any]], *, label: str) -> ToolOutput:
    amounts: dict[str, float] = {}
    units: set[str] = set()
    for result in results:
        for group in result.get("Groups", ()):
            cost = group.get("Metrics", {}).get("UnblendedCost", {})
            service = " ".join(group.get("Keys", ())) or "(no service)"
            amounts[service] = amounts.get(service, 0.0) + float(cost.get("Amount", 0))
            units.add(cost.get("Unit", "USD"))
    ranked = sorted(
        ((service, amount) for service, amount in amounts.items() if round(amount, 2) != 0),
        key=lambda line: line[1],
        reverse=True,
    )
    top, rest = ranked[:_TOP_COST_LINES], ranked[_TOP_COST_LINES:]
    currency = units.pop() if len(units) == 1 else "mixed units"
    total = sum(amounts.values())
    data: dict[str, Any] = {
        "period": period,
        "currency": currency,
        "metric": "UnblendedCost",
        "total": round(total, 2),
        "estimated": any(result.get("Estimated") for result in results),
        "by_service": [{"service": service, "amount": round(amount, 2)} for service, amount in top],
    }
    if rest:
        data["other_services"] = {"count": len(rest), "amount": round(sum(amount for _, amount in rest), 2)}
    return ToolOutput(data=data, summary=f"{total:,.2f} {currency} {label}")


def _probe_params(today: Callable[[], date]) -> dict[str, Any]:
    day = today()
    return {
        "TimePeriod": {"Start": (day - timedelta(days=1)).isoformat(), "End": day.isoformat()},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
    }


def cost_tools(*, today: Callable[[], date] = utc_today) -> Toolset:
    """``month_to_date_cost``; ``today`` (UTC) bounds the period."""
    return Toolset(
        tools=(
            Tool(
                name="month_to_date_cost",
                description=(
                    "AWS cost (unblended, UTC), total and by service, largest first: this month so far by default, "
                    "or last month (whole, or over the same days, to compare). AWS bills each call (USD 0.01): "
                    "call it once per period."
                ),
                input_model=CostPeriod,
                effect="read",
                source=COST_SOURCE,
                progress=lambda _ctx, request: f"Reading {request.period.replace('_', ' ')} cost from Cost Explorer…",
                run=functools.partial(_month_to_date_cost, today=today),
            ),
        ),
        # The cheapest real question: one day, one metric, no grouping (still USD 0.01 per call).
        probes=(
            Probe(
                COST_SOURCE,
                "ce",
                "get_cost_and_usage",
                "ce:GetCostAndUsage",
                functools.partial(_probe_params, today),
                global_api=True,
                required=False,
                optional_because="only month_to_date_cost needs it; the infra agent answers everything else",
            ),
        ),
        iam_actions=frozenset({"ce:GetCostAndUsage"}),
    )
