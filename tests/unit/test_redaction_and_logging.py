"""Secrets and tracebacks never reach a log line; every line of a task carries its request ID."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from agents.observability import configure_logging
from agents.redaction import Redactor

SECRETS = {
    "slack bot token": "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
    "slack user token": "xoxp-1234567890-0987654321-AbCdEfGhIjKl",
    "slack app token": "xapp-1-A0TEST-1234567890-abcdef0123456789",
    "aws key id": "AKIAIOSFODNN7EXAMPLE",
    "aws secret": "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "bearer": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijk",
    "url password": "postgres://admin:hunter2hunter2@db.internal:5432/app",
    "password field": "password=Sup3rS3cret!",
    "private key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----",
}
SECRET_FRAGMENTS = [
    "AbCdEfGhIjKlMnOp",
    "AbCdEfGhIjKl",
    "abcdef0123456789",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI",
    "eyJhbGciOiJIUzI1NiJ9",
    "hunter2hunter2",
    "Sup3rS3cret",
    "MIIEowIBAAKCAQEA7",
]


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_each_secret_pattern_is_redacted(name: str) -> None:
    """Every planted secret is replaced, and the text around it survives."""
    redacted = Redactor()(f"before {SECRETS[name]} after")
    assert redacted.startswith("before ")
    assert redacted.endswith(" after")
    assert "[REDACTED" in redacted
    assert not any(fragment in redacted for fragment in SECRET_FRAGMENTS)


def test_known_secret_values_are_redacted_whatever_their_shape() -> None:
    """The process's own signing secret has no pattern; it is removed by value."""
    assert Redactor(["8f14e45fceea167a5a36dedd4bea2543"])("sig 8f14e45fceea167a5a36dedd4bea2543!") == "sig [REDACTED]!"


def test_ordinary_text_is_left_alone() -> None:
    """Redaction does not mangle normal operational text."""
    text = "ALB 5xx rose to 12% at 14:02 on api-prod; p99 latency 2300 ms; see https://example.com/d/1"
    assert Redactor()(text) == text


@pytest.fixture
def log_output() -> io.StringIO:
    """Logging configured as in production (JSON), writing to a buffer."""
    buffer = io.StringIO()
    configure_logging(fmt="json", level="info", secrets=("my-signing-secret-value",), stream=buffer)
    yield buffer
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_logs_are_json_with_request_id_and_no_secrets(log_output: io.StringIO) -> None:
    """Structlog and stdlib lines alike: JSON, bound request ID, secrets redacted."""
    structlog.contextvars.bind_contextvars(request_id="req-0123456789ab")
    structlog.get_logger("t").info("task.accepted", text=f"deploy with {SECRETS['slack bot token']}")
    logging.getLogger("slack_bolt").warning("token %s and my-signing-secret-value", SECRETS["slack app token"])
    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["req-0123456789ab"] * 2
    joined = log_output.getvalue()
    assert not any(fragment in joined for fragment in SECRET_FRAGMENTS)
    assert "my-signing-secret-value" not in joined


def test_exceptions_are_logged_without_tracebacks(log_output: io.StringIO) -> None:
    """A logged exception leaves its type and redacted message, never a stack trace."""
    try:
        raise RuntimeError(f"boom {SECRETS['aws key id']}")  # noqa: TRY301 - the test needs a live exception
    except RuntimeError:
        logging.getLogger("slack_bolt").exception("listener failed")
        structlog.get_logger("t").exception("task.crashed")
    out = log_output.getvalue()
    assert "Traceback" not in out
    assert 'File "' not in out
    assert "AKIAIOSFODNN7EXAMPLE" not in out
    lines = [json.loads(line) for line in out.splitlines()]
    assert all(line["error_type"] == "RuntimeError" for line in lines)
