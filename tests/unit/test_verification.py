"""The HTTP edge's checks: Slack's signature on raw bytes, reading a verified body, Slack's own hosts."""

from __future__ import annotations

import json

import pytest

from bot.testing.slack import sign_request
from bot.verification import MalformedBody, SlackHosts, SlackSignature, parse_slack_body

SECRET = "unit-signing-secret"
NOW = 1_800_000_000


def _signature() -> SlackSignature:
    return SlackSignature(SECRET, clock=lambda: float(NOW))


def test_a_slack_signed_body_passes() -> None:
    """A body signed as Slack signs it, within the window, is accepted."""
    headers = sign_request(b"a=1", SECRET, timestamp=NOW - 299)
    assert _signature().rejects(b"a=1", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]) is None


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        (None, "bad_timestamp"),
        ("", "bad_timestamp"),
        ("abc", "bad_timestamp"),
        ("1.5", "bad_timestamp"),
        ("-1", "bad_timestamp"),
        ("\u0661\u0662", "bad_timestamp"),
        ("9" * 13, "bad_timestamp"),
        (str(NOW - 301), "stale_timestamp"),
        (str(NOW + 301), "stale_timestamp"),
    ],
)
def test_a_timestamp_that_is_not_recent_whole_seconds_is_refused_without_raising(
    timestamp: str | None, reason: str
) -> None:
    """Non-numeric, signed, fractional, non-ASCII, huge and out-of-window timestamps are refused, never raised."""
    signature = sign_request(b"a=1", SECRET, timestamp=NOW)["X-Slack-Signature"]
    assert _signature().rejects(b"a=1", timestamp, signature) == reason


@pytest.mark.parametrize(
    "mutate",
    [
        lambda _s: None,
        lambda _s: "",
        lambda s: s.upper(),
        lambda s: s[:-1],
        lambda s: "v1=" + s[3:],
        lambda s: s + "0",
        lambda _s: sign_request(b"a=1", "other-secret", timestamp=NOW)["X-Slack-Signature"],
    ],
)
def test_a_wrong_or_misshapen_signature_is_refused(mutate: object) -> None:
    """Missing, empty, re-cased, truncated, re-versioned, extended and wrongly keyed signatures fail."""
    good = sign_request(b"a=1", SECRET, timestamp=NOW)["X-Slack-Signature"]
    assert callable(mutate)
    assert _signature().rejects(b"a=1", str(NOW), mutate(good)) == "bad_signature"


def test_a_body_changed_after_signing_is_refused() -> None:
    """One flipped bit in the body fails the check."""
    headers = sign_request(b"text=hello", SECRET, timestamp=NOW)
    refused = _signature().rejects(b"text=hellp", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert refused == "bad_signature"


def test_a_form_is_read_field_by_field_and_handed_to_bolt_as_json() -> None:
    """A slash command's form becomes its fields, even when its text contains the word payload."""
    text, body = parse_slack_body(
        b"command=%2Forchestrate&text=show+payload+sizes", "application/x-www-form-urlencoded"
    )
    assert body == {"command": "/orchestrate", "text": "show payload sizes"}
    assert json.loads(text) == body


def test_an_interactivity_form_is_read_from_its_payload_field() -> None:
    """``payload=<json>`` is the JSON object it carries."""
    _, body = parse_slack_body(b"payload=%7B%22type%22%3A%22block_actions%22%7D", "application/x-www-form-urlencoded")
    assert body == {"type": "block_actions"}


def test_a_json_event_is_handed_to_bolt_unchanged() -> None:
    """An Events API body is passed on as it came (no re-encoding)."""
    raw = b'{"type":"event_callback","event":{"type":"app_mention"}}'
    text, body = parse_slack_body(raw, "application/json")
    assert text == raw.decode()
    assert body["type"] == "event_callback"


@pytest.mark.parametrize(
    ("raw", "content_type", "reason"),
    [
        (b"", "application/json", "empty"),
        (b"{", "application/json", "not_json"),
        (b"[1]", "application/json", "not_an_object"),
        (b'"x"', "application/json", "not_an_object"),
        (b"text=\xff", "application/x-www-form-urlencoded", "not_utf8"),
        (b"payload=nope", "application/x-www-form-urlencoded", "not_json"),
        (b"payload=%5B%5D", "application/x-www-form-urlencoded", "not_an_object"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "too_deep"),
    ],
)
def test_an_unreadable_verified_body_is_malformed_with_a_reason(raw: bytes, content_type: str, reason: str) -> None:
    """Every way a body cannot be a Slack payload raises MalformedBody with a loggable reason."""
    with pytest.raises(MalformedBody) as caught:
        parse_slack_body(raw, content_type)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/commands/T1/2/abc", True),
        ("https://hooks.slack-gov.com/commands/T1/2/abc", True),
        ("http://127.0.0.1:4567/response/abc", True),
        ("http://hooks.slack.com/commands/T1/2/abc", False),
        ("https://hooks.slack.com.evil.example/commands", False),
        ("https://evil.example/?u=https://hooks.slack.com/", False),
        ("https://user@hooks.slack.com/commands", False),
        ("http://127.0.0.1:4568/response/abc", False),
        ("http://127.0.0.1:99999/x", False),
        ("http://localhost:4567/response/abc", False),
        (None, False),
        (["https://hooks.slack.com/commands"], False),
    ],
)
def test_only_slack_hosts_may_be_posted_to(url: object, *, allowed: bool) -> None:
    """Slack's hooks hosts over https, or exactly the configured API's scheme, host and port."""
    assert SlackHosts("http://127.0.0.1:4567/api/").allows(url) is allowed
