"""What must hold before a byte of an HTTP request from "Slack" is acted on.

Bolt's own check ran only after its adapter had decoded and parsed the body, and a non-numeric
timestamp made it raise instead of answering 401, which sent forged bodies to the error handler (and
it logged every rejected body in full). So the HTTP edge checks here, once, in this order, and stops
at the first failure; Bolt's check is off because nothing reaches Bolt unverified:

1. :class:`SlackSignature` checks ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` against the raw
   bytes (HMAC-SHA256 of ``v0:{timestamp}:{body}``, 5-minute window), before anything parses them.
   A failure is 401 and nothing else: the body is never decoded, logged, or acted on.
2. :func:`parse_slack_body` decodes a verified body (JSON, a form, or a form carrying a ``payload`` JSON),
   refusing what Bolt would choke on (not UTF-8, not JSON, not an object, nested past the recursion limit).
   A failure is 400 with a log line naming the reason, never the body.
3. :class:`SlackHosts` says whether a URL is Slack's to post to (``response_url``): Slack's hooks hosts or
   the configured API host (GovSlack, proxies, tests). Nothing is ever posted anywhere else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MalformedBody", "SlackHosts", "SlackSignature", "parse_slack_body"]

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_SLACK_HOOK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})


class SlackSignature:
    """Slack's request signature, checked on the raw body with a constant-time comparison."""

    def __init__(self, signing_secret: str, *, window: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self._key = signing_secret.encode()
        self._window = window
        self._clock = clock

    def rejects(self, raw: bytes, timestamp: str | None, signature: str | None) -> str | None:
        """Why the request is not Slack's (``None`` when it is): a reason for metrics, never request content."""
        if not timestamp or not _TIMESTAMP.fullmatch(timestamp):
            return "bad_timestamp"
        if abs(self._clock() - int(timestamp)) > self._window:
            return "stale_timestamp"
        if not signature or not _SIGNATURE.fullmatch(signature):
            return "bad_signature"
        expected = hmac.new(self._key, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest("v0=" + expected, signature):
            return "bad_signature"
        return None


class MalformedBody(ValueError):
    """A verified body that cannot be read as a Slack payload; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_slack_body(raw: bytes, content_type: str | None) -> tuple[str, dict[str, Any]]:
    """``(text for Bolt, body)`` of a verified request; raises :class:`MalformedBody`.

    A JSON body (events) is an object; a form (slash commands) is its fields, unless it has a ``payload``
    field (interactivity), which must be a JSON object. The text for Bolt is always JSON: Bolt reads any
    form that merely *contains* the word "payload" (``/orchestrate show payload sizes``) as an empty body.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("not_utf8") from None
    if not text.strip():
        raise MalformedBody("empty")
    if text.lstrip().startswith("{") or content_type == "application/json":
        body = _json_object(text)
        return (text if text.startswith("{") else json.dumps(body)), body
    form = dict(parse_qsl(text, keep_blank_values=True))
    body = _json_object(form["payload"]) if "payload" in form else form
    return json.dumps(body), body


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except RecursionError:  # nested past the interpreter's limit: no Slack payload is
        raise MalformedBody("too_deep") from None
    except ValueError:
        raise MalformedBody("not_json") from None
    if not isinstance(value, dict):
        raise MalformedBody("not_an_object")
    return value


@dataclass(frozen=True)
class SlackHosts:
    """The hosts a ``response_url`` may point at: Slack's hooks hosts, or the configured API's host."""

    api_url: str

    def allows(self, url: object) -> bool:
        """True for an https URL on Slack's hooks hosts, or any URL on the configured API's scheme, host and port."""
        if not isinstance(url, str):
            return False
        try:
            parts = urlsplit(url)
            api = urlsplit(self.api_url)
            port, api_port = parts.port, api.port
        except ValueError:
            return False
        if parts.username is not None or parts.password is not None:
            return False
        if parts.scheme == "https" and parts.hostname in _SLACK_HOOK_HOSTS and port in (None, 443):
            return True
        return (parts.scheme, parts.hostname, port) == (api.scheme, api.hostname, api_port)
