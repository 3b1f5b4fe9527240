"""Who clicked a button, where, and how to answer them privately: shared by every ``block_actions`` listener.

Identity comes only from Slack's signed payload (``user``, ``team``, ``channel``/``container``), never from a
button's value. A signed payload may still be oddly shaped: anything that is not what Slack sends reads as
empty, and a listener refuses quietly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from bot.delivery.slack import WebClientSlack

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["Clicker", "clicked_action", "tell_clicker"]

log = structlog.get_logger(__name__)


def _part(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Clicker:
    """The person who clicked, their workspace, the channel and the thread of the clicked message."""

    user_id: str
    team_id: str
    channel_id: str
    thread_ts: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> Clicker:
        """Read from a ``block_actions`` payload."""
        user, team, channel = _part(body, "user"), _part(body, "team"), _part(body, "channel")
        container, message = _part(body, "container"), _part(body, "message")
        return cls(
            user_id=str(user.get("id") or ""),
            team_id=str(team.get("id") or user.get("team_id") or ""),
            channel_id=str(channel.get("id") or container.get("channel_id") or ""),
            thread_ts=str(
                message.get("thread_ts")
                or container.get("thread_ts")
                or message.get("ts")
                or container.get("message_ts")
                or ""
            ),
        )


def clicked_action(body: dict[str, Any]) -> dict[str, Any]:
    """The action that was clicked (the first of ``actions``), or an empty one."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    return first if isinstance(first, dict) else {}


async def tell_clicker(client: AsyncWebClient, clicker: Clicker, text: str) -> None:
    """Say ``text`` to the clicker only, in the clicked message's thread (a failure is logged)."""
    if not clicker.channel_id or not clicker.user_id:
        return
    outcome = await WebClientSlack(client).post_ephemeral(
        channel=clicker.channel_id, user=clicker.user_id, thread_ts=clicker.thread_ts, text=text
    )
    if not outcome.ok:
        log.warning("slack.clicker_not_told", error=outcome.error)
