"""The policy in force: checked at start, reloaded on change and SIGHUP, the last good one kept when broken."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import TYPE_CHECKING

import pytest
import structlog

from agents.assembly import _stop_watching, _watch_files
from agents.catalog import default_registry
from agents.errors import ConfigError, UserGroupUnavailable
from agents.policy import Place, PolicySource
from agents.runbooks import RunbookLibrary

if TYPE_CHECKING:
    from pathlib import Path

AGENTS = default_registry().names()
OPS = Place("C0OPS0001")
GOOD = 'admins: [U0ADMIN01]\nrules:\n  - agents: [general]\n    users: ["*"]\n    channels: ["*"]\n'
WIDER = 'admins: [U0ADMIN01]\nrules:\n  - agents: ["*"]\n    users: ["*"]\n    channels: ["*"]\n'
BROKEN = 'admins: [U0ADMIN01]\nrules:\n  - agents: ["*"]\n    users: ["*"]\n    chanels: ["*"]\n'


def write(path: Path, text: str) -> None:
    """Replace the file's content and make sure its modification time moves (coarse clocks)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def test_a_broken_file_at_start_stops_start_up_with_every_problem(tmp_path: Path) -> None:
    """ConfigError (exit code 2 in the CLI) naming ORCH_POLICY_FILE and each path:line problem."""
    file = tmp_path / "policy.yaml"
    write(file, BROKEN)
    with pytest.raises(ConfigError) as caught:
        PolicySource(file, agents=AGENTS)
    assert caught.value.problems == [
        ("ORCH_POLICY_FILE", f'{file}:3: rules[0].channels: missing: say whom it covers (`channels: ["*"]` for any)'),
        ("ORCH_POLICY_FILE", f"{file}:5: rules[0].chanels: unknown key"),
    ]


async def test_a_changed_file_is_picked_up_at_the_next_poll(tmp_path: Path) -> None:
    """The watcher reloads when the file changes: infra becomes allowed without a restart."""
    file = tmp_path / "policy.yaml"
    write(file, GOOD)
    source = PolicySource(file, agents=AGENTS)
    assert not source.current().agent("U0ANA0001", OPS, "infra").allowed
    write(file, WIDER)
    polled_twice = asyncio.Event()
    polls = 0

    async def sleep(_: float) -> None:
        nonlocal polls
        polls += 1
        if polls > 1:  # the first poll has been handled
            polled_twice.set()
            await asyncio.Event().wait()

    watching = asyncio.create_task(source.watch(every=2, sleep=sleep))
    async with asyncio.timeout(5):
        await polled_twice.wait()
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    assert source.current().agent("U0ANA0001", OPS, "infra").allowed


def test_a_broken_reload_keeps_the_last_good_policy_and_logs_why(tmp_path: Path) -> None:
    """A typo saved later: the policy in force stays; ``policy.invalid`` lists the problem; fixing it reloads."""
    file = tmp_path / "policy.yaml"
    write(file, GOOD)
    source = PolicySource(file, agents=AGENTS)
    write(file, BROKEN)
    with structlog.testing.capture_logs() as logs:
        assert not source.reload()
    assert source.current().agent("U0ANA0001", OPS, "general").allowed
    assert not source.current().agent("U0ANA0001", OPS, "infra").allowed
    [invalid] = [line for line in logs if line["event"] == "policy.invalid"]
    assert invalid["problems"] == [
        f'{file}:3: rules[0].channels: missing: say whom it covers (`channels: ["*"]` for any)',
        f"{file}:5: rules[0].chanels: unknown key",
    ]
    assert invalid["log_level"] == "error"
    assert [str(p) for p in source.problems] == invalid["problems"]
    write(file, WIDER)
    assert source.reload()
    assert source.problems == ()
    assert source.current().agent("U0ANA0001", OPS, "infra").allowed


async def test_one_sighup_reloads_both_the_runbooks_and_the_policy(tmp_path: Path) -> None:
    """The runbooks' SIGHUP handler is shared, not replaced: one signal reloads the policy and the runbooks."""
    file = tmp_path / "policy.yaml"
    write(file, GOOD)
    folder = tmp_path / "runbooks"
    folder.mkdir()
    policy = PolicySource(file, agents=AGENTS)
    library = RunbookLibrary(agents=AGENTS, directory=folder)
    tasks = _watch_files(library, policy, every=0)  # SIGHUP only
    try:
        write(file, WIDER)
        (folder / "hup.yaml").write_text(
            "name: hup\ndescription: d\nsteps:\n  - id: a\n    agent: general\n    prompt: hi\n"
        )
        os.kill(os.getpid(), signal.SIGHUP)
        async with asyncio.timeout(5):
            while library.get("hup") is None:  # noqa: ASYNC110 - the signal handler sets no event to wait on
                await asyncio.sleep(0.01)
        assert policy.current().agent("U0ANA0001", OPS, "infra").allowed
    finally:
        await _stop_watching(library, policy, tasks)


class Groups:
    """A scripted user-group directory: members per group, or a failure."""

    def __init__(self) -> None:
        self.members_of: dict[str, frozenset[str]] = {}
        self.down = False
        self.asked: list[str] = []

    async def members(self, group_id: str) -> frozenset[str]:
        self.asked.append(group_id)
        if self.down:
            raise UserGroupUnavailable(group_id=group_id, reason="ratelimited")
        return self.members_of[group_id]


async def test_slack_user_groups_are_expanded_and_a_failed_fetch_keeps_the_last_members(tmp_path: Path) -> None:
    """Members of S-groups named in the policy come from the port; when Slack fails, the snapshot stays."""
    file = tmp_path / "policy.yaml"
    write(file, 'rules:\n  - agents: [infra]\n    users: [S0ONCALL1]\n    channels: ["*"]\n')
    groups = Groups()
    groups.members_of["S0ONCALL1"] = frozenset({"U0ONCALL1"})
    source = PolicySource(file, agents=AGENTS, usergroups=groups)
    assert not source.current().agent("U0ONCALL1", OPS, "infra").allowed  # not fetched yet
    await source.refresh_usergroups()
    assert source.current().agent("U0ONCALL1", OPS, "infra").allowed
    groups.down = True
    with structlog.testing.capture_logs() as logs:
        await source.refresh_usergroups()
    assert source.current().agent("U0ONCALL1", OPS, "infra").allowed
    assert [line["event"] for line in logs] == ["policy.usergroup_unavailable"]
    assert groups.asked == ["S0ONCALL1", "S0ONCALL1"]


async def test_a_reload_refreshes_the_user_groups_at_once(tmp_path: Path) -> None:
    """A new S-group in the file is fetched right after the reload, not at the next periodic refresh."""
    file = tmp_path / "policy.yaml"
    write(file, GOOD)
    groups = Groups()
    groups.members_of["S0NEW0001"] = frozenset({"U0NEW0001"})
    source = PolicySource(file, agents=AGENTS, usergroups=groups)
    refreshing = asyncio.create_task(source.keep_usergroups_fresh(every=3600))
    try:
        write(file, 'rules:\n  - agents: [infra]\n    users: [S0NEW0001]\n    channels: ["*"]\n')
        assert source.reload()
        async with asyncio.timeout(5):
            while not source.current().agent("U0NEW0001", OPS, "infra").allowed:  # noqa: ASYNC110 - no event
                await asyncio.sleep(0.01)
    finally:
        refreshing.cancel()
        await asyncio.gather(refreshing, return_exceptions=True)
