"""The policy's Slack user groups, read from Slack: the core's :class:`~agents.policy.UserGroups` port.

A policy may name a Slack user group (``S…``, e.g. the on-call team) instead of listing people; the core
asks this adapter for its members every few minutes (never per request). Slack's errors are translated
here, once, into :class:`~agents.errors.UserGroupUnavailable`; the core then keeps the last members.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from slack_sdk.errors import SlackApiError

from agents.errors import UserGroupUnavailable
from bot.slack_client import slack_error

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["SlackUserGroups"]


class SlackUserGroups:
    """``usergroups.users.list`` (scope ``usergroups:read``) behind the core's port."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def members(self, group_id: str) -> frozenset[str]:
        """The user ids in the Slack user group ``group_id``."""
        try:
            response = await self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            raise UserGroupUnavailable(group_id=group_id, reason=slack_error(exc)) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UserGroupUnavailable(group_id=group_id, reason=type(exc).__name__) from exc
        users = response.get("users")
        if not isinstance(users, list):
            raise UserGroupUnavailable(group_id=group_id, reason="unexpected answer")
        return frozenset(str(user) for user in users if isinstance(user, str))
