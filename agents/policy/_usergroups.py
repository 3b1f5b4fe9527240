"""Slack user groups (``S…``) in the policy: a port the edge implements, and the snapshot the core keeps.

The core cannot ask Slack who is in a user group (it knows nothing of Slack), and must not ask on every
request. :class:`UserGroups` is the port (``bot/`` implements it with ``usergroups.users.list``);
:class:`GroupSnapshot` holds the members as last fetched, refreshed every few minutes and after every
policy reload. A failed fetch keeps that group's last known members: a Slack hiccup neither locks the
on-call team out nor lets anyone in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import structlog

from agents.errors import UserGroupUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["GroupSnapshot", "UserGroups"]

log = structlog.get_logger(__name__)


class UserGroups(Protocol):
    """Who is in a chat platform's user group."""

    async def members(self, group_id: str) -> frozenset[str]:
        """The user ids in ``group_id``; raises :class:`~agents.errors.UserGroupUnavailable` if it cannot say."""
        ...


class GroupSnapshot:
    """The members of each user group the policy names, as last fetched."""

    def __init__(self) -> None:
        self._members: dict[str, frozenset[str]] = {}

    @property
    def members(self) -> Mapping[str, frozenset[str]]:
        """Group id to member ids (a group never fetched has no entry: nobody is in it yet)."""
        return dict(self._members)

    async def refresh(self, port: UserGroups, groups: Iterable[str]) -> None:
        """Fetch every group in ``groups``; forget groups no longer named; keep the last members on failure."""
        wanted = frozenset(groups)
        fresh = {group: members for group, members in self._members.items() if group in wanted}
        for group in sorted(wanted):
            try:
                fresh[group] = await port.members(group)
            except UserGroupUnavailable as error:
                log.warning(
                    "policy.usergroup_unavailable", group=group, reason=error.reason, kept=len(fresh.get(group, ()))
                )
        self._members = fresh
