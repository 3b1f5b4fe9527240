"""Where the current policy comes from: ``ORCH_POLICY_FILE``, checked at start, reloaded on change or SIGHUP.

:class:`PolicySource` answers :meth:`~PolicySource.current` without I/O (every submit asks). A broken file
at start is a :class:`~agents.errors.ConfigError` (the process does not start with a policy it cannot
read); a broken file later keeps the last good policy and logs ``policy.invalid`` with every problem, so a
typo saved in production never opens or closes the bot. Without a file it is :meth:`Policy.default`.
Slack user groups named by the policy are expanded from a :class:`GroupSnapshot`, refreshed every few
minutes and right after each reload.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import structlog

from agents.errors import ConfigError
from agents.policy._loader import read_policy_file
from agents.policy._policy import Policy
from agents.policy._usergroups import GroupSnapshot

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from agents.policy._usergroups import UserGroups
    from agents.yamllines import LineProblem

__all__ = ["USERGROUPS_REFRESH_SECONDS", "PolicySource"]

log = structlog.get_logger(__name__)

#: How often the members of the policy's Slack user groups are fetched again.
USERGROUPS_REFRESH_SECONDS = 300.0


class PolicySource:
    """The policy in force, the problems of the last load, and how to reload it."""

    def __init__(
        self,
        path: Path | None,
        *,
        agents: frozenset[str],
        runbooks: Callable[[], frozenset[str]] | None = None,
        usergroups: UserGroups | None = None,
    ) -> None:
        """Load ``path`` now; raises :class:`ConfigError` listing every ``path:line: problem`` if it is broken."""
        self._path = path
        self._agents = agents
        self._runbooks = runbooks
        self._port = usergroups
        self._snapshot = GroupSnapshot()
        self._stale = asyncio.Event()
        self._stamp: tuple[int, int] | None = None
        self._policy = Policy.default()
        self._problems: tuple[LineProblem, ...] = ()
        self._warnings: tuple[LineProblem, ...] = ()
        if path is not None and not self.reload():
            raise ConfigError([("ORCH_POLICY_FILE", str(problem)) for problem in self.problems])

    @classmethod
    def fixed(cls, policy: Policy) -> PolicySource:
        """A source that always answers ``policy`` (tests, and front ends without a file)."""
        source = cls(None, agents=frozenset())
        source._policy = policy
        return source

    @property
    def path(self) -> Path | None:
        """``ORCH_POLICY_FILE``, if one is configured."""
        return self._path

    @property
    def problems(self) -> tuple[LineProblem, ...]:
        """The problems of the last load (the policy in force is then the last good one)."""
        return self._problems

    @property
    def warnings(self) -> tuple[LineProblem, ...]:
        """The warnings of the last good load (unknown runbooks, no admins)."""
        return self._warnings

    def current(self) -> Policy:
        """The policy in force, with the user groups' members as last fetched."""
        members = self._snapshot.members
        return self._policy.with_usergroups(members) if members else self._policy

    def reload(self) -> bool:
        """Read the file again; whether it loaded. A broken file keeps the policy in force."""
        if self._path is None:
            return False
        self._stamp = self._fingerprint()
        runbooks = self._runbooks() if self._runbooks is not None else None
        loaded = read_policy_file(self._path, agents=self._agents, runbooks=runbooks)
        self._problems = loaded.problems
        if loaded.policy is None:
            log.error(
                "policy.invalid",
                source=str(self._path),
                problems=[str(problem) for problem in loaded.problems],
                kept=self._policy.source,
            )
            return False
        self._policy, self._warnings = loaded.policy, loaded.warnings
        for warning in loaded.warnings:
            log.warning("policy.warning", problem=str(warning))
        log.info(
            "policy.loaded",
            source=loaded.policy.source,
            rules=len(loaded.policy.rules),
            admins=len(loaded.policy.admins),
            usergroups=len(loaded.policy.slack_usergroups()),
        )
        self._stale.set()
        return True

    def _fingerprint(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            stat = self._path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def changed_on_disk(self) -> bool:
        """Whether the file was modified (or removed, or restored) since the last load."""
        return self._path is not None and self._fingerprint() != self._stamp

    async def watch(self, *, every: float = 2.0, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Reload whenever the file changes, until cancelled."""
        while True:
            await sleep(every)
            if self.changed_on_disk():
                self.reload()  # one small file: read inline, between two polls

    async def refresh_usergroups(self) -> None:
        """Fetch the members of every Slack user group the policy names (a failed fetch keeps the last)."""
        if self._port is not None:
            await self._snapshot.refresh(self._port, self._policy.slack_usergroups())

    async def keep_usergroups_fresh(self, *, every: float = USERGROUPS_REFRESH_SECONDS) -> None:
        """Refresh the user groups now, every ``every`` seconds, and right after each reload; until cancelled."""
        while True:
            self._stale.clear()
            await self.refresh_usergroups()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stale.wait(), every)

    @property
    def watches_usergroups(self) -> bool:
        """Whether there is a port to fetch user groups through."""
        return self._port is not None
