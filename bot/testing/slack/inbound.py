"""What Slack sends the app: signed slash-command forms and Events API envelopes, exactly as Slack sends them.

For tests and benchmarks that drive the bot's HTTP endpoints (and Socket Mode payloads, which carry the
same envelopes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from bot.testing.slack.api import APP_ID

__all__ = [
    "app_mention_event",
    "block_actions_form",
    "dm_message_event",
    "event_callback",
    "sign_request",
    "slash_command_form",
]


def sign_request(body: bytes, signing_secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    """Slack's request-signing headers for ``body`` (``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``)."""
    ts = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{ts}:".encode() + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def slash_command_form(
    *,
    command: str = "/orchestrate",
    text: str,
    user_id: str = "U0ANA",
    user_name: str = "ana",
    channel_id: str = "C0OPS",
    team_id: str = "T0TEST",
    response_url: str,
    trigger_id: str = "1.2.3",
) -> bytes:
    """A slash command's ``application/x-www-form-urlencoded`` body, field for field as Slack posts it."""
    fields = {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": "test",
        "channel_id": channel_id,
        "channel_name": "directmessage" if channel_id.startswith("D") else channel_id.lower(),
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return urlencode(fields).encode()


def _event_context(event: dict[str, Any], team_id: str, api_app_id: str) -> str:
    """Slack's opaque ``event_context``: ``4-`` + base64 of a small JSON descriptor."""
    descriptor = {"et": event.get("type"), "tid": team_id, "aid": api_app_id, "cid": event.get("channel")}
    return "4-" + base64.b64encode(json.dumps(descriptor, separators=(",", ":")).encode()).decode()


def event_callback(
    event: dict[str, Any],
    *,
    event_id: str,
    team_id: str = "T0TEST",
    api_app_id: str = APP_ID,
    bot_user_id: str = "UBOT",
    event_time: int | None = None,
) -> dict[str, Any]:
    """The Events API ``event_callback`` envelope around ``event`` (HTTP body or Socket Mode payload)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": _event_context(event, team_id, api_app_id),
    }


def _message_like(kind: str, *, text: str, user: str, channel: str, ts: str, thread_ts: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "client_msg_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"slack:{channel}:{ts}")),
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def app_mention_event(
    *, text: str, user: str = "U0ANA", channel: str = "C0OPS", ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    """An ``app_mention`` event (``text`` should contain ``<@UBOT>`` as Slack's does)."""
    return _message_like("app_mention", text=text, user=user, channel=channel, ts=ts, thread_ts=thread_ts)


def dm_message_event(
    *, text: str, user: str = "U0ANA", channel: str = "D0ANA", ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    """A ``message`` event in a direct message with the bot (``channel_type`` ``im``)."""
    event = _message_like("message", text=text, user=user, channel=channel, ts=ts, thread_ts=thread_ts)
    event["channel_type"] = "im"
    return event


def block_actions_form(
    *,
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    thread_ts: str | None = None,
    response_url: str,
    team_id: str = "T0TEST",
    block_id: str = "orch_approval",
) -> bytes:
    """A button click (``block_actions``) as Slack posts it: a form whose one field, ``payload``, is the JSON."""
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "text": "", "user": "UBOT"}
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": False},
        "trigger_id": f"{uuid.uuid4().int % 10**10}.{uuid.uuid4().int % 10**10}",
        "team": {"id": team_id, "domain": "test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_id.lower()},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": "Approve", "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()
