"""Logging: structured, request-scoped, and incapable of leaking a secret or a traceback.

Every log line goes through structlog, including those of the libraries we use (Bolt, aiohttp,
botocore) via the standard library bridge. Two processors guard the output: one replaces exception
info by the exception's type and message (no stack traces in logs), the other is the log's one
redaction pass: every string in the event, nested ones and the exception's message included, goes
through :class:`Redactor` just before rendering (and only then is the message shortened, so no cut
leaves part of a secret unrecognised). The task's ``request_id`` is bound with contextvars, so every line
logged while a task runs carries it.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, Literal

import structlog

from agents.redaction import Redactor

if TYPE_CHECKING:
    from collections.abc import MutableMapping

__all__ = ["configure_logging"]

_MAX_ERROR_CHARS = 500
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(
    *,
    fmt: Literal["json", "console"] = "json",
    level: str = "info",
    secrets: tuple[str, ...] = (),
    stream: Any = None,
) -> None:
    """Route all logging through structlog with redaction; call once at start-up."""
    redactor = Redactor(secrets)

    def drop_tracebacks(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        exc_info = event.pop("exc_info", None)
        event.pop("stack", None)
        event.pop("exception", None)
        if exc_info:
            exc = sys.exc_info()[1] if exc_info is True else _exception_of(exc_info)
            if exc is not None:
                event["error_type"] = type(exc).__name__
                event["error"] = str(exc)
        return event

    def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in event.items():
            event[key] = _redacted(value, redactor)
        error = event.get("error")
        if isinstance(error, str) and len(error) > _MAX_ERROR_CHARS:
            event["error"] = error[:_MAX_ERROR_CHARS]
        return event

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        drop_tracebacks,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # Below the level, an event is dropped before any processor runs (timestamps, context, rendering).
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact, renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level, logging.INFO))
    # Libraries that log request bodies at DEBUG stay at INFO unless asked for explicitly.
    for noisy in ("botocore", "aiobotocore", "urllib3", "slack_sdk.web.base_client"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))


def _redacted(value: Any, redactor: Redactor) -> Any:
    """``value`` with every string in it redacted; containers keep their shape, anything else becomes a string."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redactor(value)
    if isinstance(value, dict):
        return {_redacted(key, redactor): _redacted(item, redactor) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(item, redactor) for item in value]
    return redactor(str(value))


def _exception_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:  # noqa: PLR2004 - (type, value, traceback)
        value = exc_info[1]
        return value if isinstance(value, BaseException) else None
    return None
