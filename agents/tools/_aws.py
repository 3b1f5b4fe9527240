"""The boundary between tools and botocore: AWS errors become ToolFailed here, once.

Every tool wraps its AWS calls in :func:`aws_errors`, so no ``ClientError`` or ``BotoCoreError`` leaves a tool,
and the model (and the user, through it) always hears which data source failed and why, in words that
point at the fix: ``AccessDenied: the bot's role lacks cloudwatch:DescribeAlarms``. Throttling and
unreachable endpoints are marked retryable; permissions, credentials and missing subscriptions are not.

Some APIs answer only in us-east-1 (AWS Health, Cost Explorer): :func:`us_east_1_client` provides a
client there whatever region the bot runs in.
"""

from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from agents.errors import ToolFailed
from agents.tools._shape import clip

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from agents.tools._base import ToolContext

__all__ = ["GLOBAL_API_REGION", "aws_errors", "us_east_1_client"]

#: Where AWS Health and Cost Explorer answer.
GLOBAL_API_REGION = "us-east-1"

_FIRST_SERVER_ERROR = 500  # 5xx answers are AWS's own failures, worth retrying

_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})
_BAD_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "AuthFailure",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
    }
)
_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "LimitExceededException",
    }
)
# Codes whose fix is known and worth saying in full.
_EXPLAINED = {
    "SubscriptionRequiredException": (
        "the AWS Health API needs a Business, Enterprise On-Ramp or Enterprise Support plan on this account; "
        "without one, check the AWS Health Dashboard in the console"
    ),
    "DataUnavailableException": (
        "Cost Explorer has no data for this account yet: enable it in the Billing console "
        "(data appears within 24 hours)"
    ),
    "OptInRequired": "the account is not subscribed to this service in this region",
}

# (exception types, what to say, retryable): transport and credential failures botocore raises itself.
_BOTOCORE_FAILURES: tuple[tuple[tuple[type[BotoCoreError], ...], str, bool], ...] = (
    (
        (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError),
        "no usable AWS credentials: the standard chain (environment, profile, task or instance role) found none",
        False,
    ),
    (
        (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError),
        "could not reach the AWS endpoint",
        True,
    ),
)


@contextmanager
def aws_errors(source: str, service: str) -> Iterator[None]:
    """Translate botocore errors raised inside the block into ToolFailed for ``source``.

    ``service`` is the botocore service name (``"cloudwatch"``, ``"logs"``…); for every service the tools
    use it is also the IAM action prefix, so it names the action the bot's role lacks when access is denied.
    """
    try:
        yield
    except ClientError as exc:
        raise _from_client_error(exc, source=source, service=service) from exc
    except BotoCoreError as exc:
        raise _from_botocore_error(exc, source=source) from exc


@asynccontextmanager
async def us_east_1_client(ctx: ToolContext, service: str) -> AsyncIterator[Any]:
    """The shared client for ``service`` in us-east-1, for APIs that answer only there (Health, Cost Explorer).

    Endpoint overrides (``AWS_ENDPOINT_URL_HEALTH``, ``AWS_ENDPOINT_URL_COST_EXPLORER``…) apply.
    """
    yield await ctx.aws.client(service, region=GLOBAL_API_REGION)


def _from_client_error(exc: ClientError, *, source: str, service: str) -> ToolFailed:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "Unknown")
    message = str(error.get("Message") or "").strip()
    action = f"{service}:{exc.operation_name}"
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _ACCESS_DENIED:
        return ToolFailed(source=source, reason=f"{code}: the bot's role lacks {action}", denied_action=action)
    if code in _BAD_CREDENTIALS:
        return ToolFailed(source=source, reason=f"{code}: AWS rejected the bot's credentials ({message})")
    if code in _THROTTLED:
        return ToolFailed(
            source=source, reason=f"{code}: AWS is throttling {action}; try again shortly", retryable=True
        )
    if code in _EXPLAINED:
        return ToolFailed(source=source, reason=f"{code}: {_EXPLAINED[code]}")
    detail = f"{code}: {clip(message, 300)}" if message else f"{code} from {action}"
    return ToolFailed(source=source, reason=detail, retryable=status >= _FIRST_SERVER_ERROR)


def _from_botocore_error(exc: BotoCoreError, *, source: str) -> ToolFailed:
    for kinds, explanation, retryable in _BOTOCORE_FAILURES:
        if isinstance(exc, kinds):
            return ToolFailed(source=source, reason=f"{explanation} ({exc})", retryable=retryable)
    return ToolFailed(source=source, reason=f"{type(exc).__name__}: {exc}")
