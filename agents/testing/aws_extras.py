"""A fake for the AWS JSON APIs that moto lacks or cannot script: Logs Insights, AWS Health, faults.

Why it exists: moto's Logs Insights ignores ``filter``/``stats`` and finishes at once, moto has no AWS
Health, and moto cannot be told to deny access. Patching the client would skip what breaks in production
(botocore's serialisation, endpoint resolution, error parsing, pagination), so this aiohttp server speaks the
real wire protocol instead: awsJson 1.0/1.1, ``POST /`` with ``X-Amz-Target: <prefix>.<Operation>``, errors as
``{"__type": code, "message": …}`` plus ``x-amzn-ErrorType``. Tools run unchanged with
``AWS_ENDPOINT_URL_<SERVICE>`` (``_CLOUDWATCH_LOGS``, ``_HEALTH``, ``_COST_EXPLORER``, ``_CLOUDWATCH``…)
pointed at :attr:`FakeAwsJson.url`.

Tests script each operation with :meth:`FakeAwsJson.on`: a reply, a :class:`AwsFault`, or a function of the
request body returning either. Unscripted operations answer ``UnknownOperationException``, so an unexpected
call fails the test. :attr:`FakeAwsJson.calls` records every request with the region it was signed for.
Limits the real services enforce, and that tools must respect, are enforced here too (:data:`LIMITS`).

Targets (from ``botocore/data/<service>/<version>/service-2.json``): ``Logs_20140328.StartQuery``,
``Logs_20140328.GetQueryResults``, ``Logs_20140328.StopQuery``, ``AWSHealth_20160804.DescribeEvents``,
``AWSHealth_20160804.DescribeEventDetails``, ``AWSInsightsIndexService.GetCostAndUsage``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["LIMITS", "AwsFault", "Call", "FakeAwsJson"]

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")


@dataclass(frozen=True, slots=True)
class AwsFault:
    """An error answer: the AWS error code, its message and HTTP status."""

    code: str
    message: str = ""
    status: int = 400


@dataclass(frozen=True, slots=True)
class Call:
    """One request the fake received."""

    target: str
    body: dict[str, Any]
    region: str
    signing_service: str

    @property
    def operation(self) -> str:
        """The operation name, e.g. ``StartQuery``."""
        return self.target.rsplit(".", 1)[-1]


Reply = dict[str, Any] | AwsFault
Handler = Callable[[dict[str, Any]], Reply]


# The limits the real services enforce (their API references).
_MAX_LOG_GROUPS = 50
_MAX_QUERY_LIMIT = 10_000
_MAX_HEALTH_RESULTS = 100
_MAX_EVENT_ARNS = 10


def _start_query_limits(body: dict[str, Any]) -> AwsFault | None:
    if len(body.get("logGroupNames", ())) > _MAX_LOG_GROUPS:
        return AwsFault("InvalidParameterException", "Up to 50 log groups can be queried")
    if not 1 <= body.get("limit", 1000) <= _MAX_QUERY_LIMIT:
        return AwsFault("InvalidParameterException", "limit must be between 1 and 10000")
    if body["endTime"] < body["startTime"]:
        return AwsFault("InvalidParameterException", "End time should not be before the start time")
    return None


def _describe_events_limits(body: dict[str, Any]) -> AwsFault | None:
    if not 1 <= body.get("maxResults", 10) <= _MAX_HEALTH_RESULTS:
        return AwsFault("ValidationException", "maxResults must be between 1 and 100")
    return None


def _event_details_limits(body: dict[str, Any]) -> AwsFault | None:
    if not 1 <= len(body.get("eventArns", ())) <= _MAX_EVENT_ARNS:
        return AwsFault("ValidationException", "eventArns must hold between 1 and 10 ARNs")
    return None


def _cost_and_usage_limits(body: dict[str, Any]) -> AwsFault | None:
    period = body["TimePeriod"]
    if date.fromisoformat(period["Start"]) >= date.fromisoformat(period["End"]):
        return AwsFault("ValidationException", "Start date (and hour) should be before end date (and hour)")
    return None


#: Request checks per target: what the real service rejects.
LIMITS: dict[str, Callable[[dict[str, Any]], AwsFault | None]] = {
    "Logs_20140328.StartQuery": _start_query_limits,
    "AWSHealth_20160804.DescribeEvents": _describe_events_limits,
    "AWSHealth_20160804.DescribeEventDetails": _event_details_limits,
    "AWSInsightsIndexService.GetCostAndUsage": _cost_and_usage_limits,
}


@dataclass(slots=True)
class FakeAwsJson:
    """The fake server. Use as an async context manager; :attr:`url` is its endpoint."""

    calls: list[Call] = field(default_factory=list)
    _handlers: dict[str, Handler] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    url: str = ""

    def on(self, target: str, reply: Reply | Handler) -> None:
        """Answer ``target`` (``"<prefix>.<Operation>"``) with ``reply``, or with ``reply(body)`` if callable."""
        self._handlers[target] = reply if callable(reply) else (lambda _body: reply)

    def calls_to(self, operation: str) -> list[Call]:
        """The calls of one operation, e.g. ``"StopQuery"``, in order."""
        return [call for call in self.calls if call.operation == operation]

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        scope = _CREDENTIAL_SCOPE.search(request.headers.get("Authorization", ""))
        if scope is None:
            return _error(AwsFault("MissingAuthenticationTokenException", "Missing Authentication Token", 403))
        target = request.headers.get("X-Amz-Target", "")
        body = json.loads(await request.read() or b"{}")
        self.calls.append(Call(target, body, scope["region"], scope["service"]))
        handler = self._handlers.get(target)
        if handler is None:
            return _error(AwsFault("UnknownOperationException", f"{target} is not scripted in this test", 404))
        check = LIMITS.get(target)
        reply = (check(body) if check else None) or handler(body)
        if isinstance(reply, AwsFault):
            return _error(reply)
        return web.json_response(
            reply,
            content_type="application/x-amz-json-1.1",
            headers={"x-amzn-RequestId": str(uuid.uuid4())},
            dumps=lambda value: json.dumps(value, default=str),
        )


def _error(fault: AwsFault) -> web.Response:
    return web.json_response(
        {"__type": fault.code, "message": fault.message},
        status=fault.status,
        content_type="application/x-amz-json-1.1",
        headers={"x-amzn-ErrorType": fault.code, "x-amzn-RequestId": str(uuid.uuid4())},
    )
