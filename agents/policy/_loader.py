"""Reading ``ORCH_POLICY_FILE``: the YAML, its shape, its meaning, and every problem as ``path:line: problem``.

An authorization file must never load half-understood: an unknown key is a typo that would silently grant
or withhold something, so it is an error, and so is an unknown ``@group``, action or agent, a malformed
Slack id, a rule that grants nothing or names nobody, an action rule without approvers and a negative
budget. A file either loads completely or yields every problem at once (with its line, through
:mod:`agents.yamllines`).

Runbook names are only *warned* about: team runbooks come and go at run time (``ORCH_RUNBOOKS_DIR`` is
reloaded on change), so a policy may name a runbook before its file lands, and a broken runbook file must
not take the whole policy down with it. Agents are fixed when the process starts, so an unknown agent is
an error. A rule must say ``users`` and ``channels`` explicitly (``["*"]`` for any): in an authorization
file, a forgotten line should not mean "everyone, everywhere".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.policy._policy import ACTIONS, ANY, DM, BudgetLimits, Policy, Rule
from agents.task import CHANNEL_ID_PATTERN
from agents.yamllines import KeyPath, LinedYaml, LineProblem, dotted, read_lined_yaml, shape_problems

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = ["PolicyLoad", "load_policy_text", "read_policy_file"]

MAX_FILE_BYTES = 256 * 1024
#: The longest an approval request may stay open (a week): longer is almost certainly a unit mistake.
MAX_EXPIRES_AFTER = 7 * 24 * 3600

_USER = re.compile(r"^[UW][A-Z0-9]{2,20}\Z")
_USERGROUP = re.compile(r"^S[A-Z0-9]{2,20}\Z")
_CHANNEL = re.compile(CHANNEL_ID_PATTERN.removesuffix("$") + r"\Z")
_GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")

_Names = list[Annotated[str, Field(min_length=1, max_length=80)]]


class _RuleShape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    agents: _Names = []
    runbooks: _Names = []
    actions: _Names = []
    users: _Names
    channels: _Names
    approvers: _Names = []
    allow_self_approval: bool = False
    expires_after: Annotated[float, Field(gt=0, le=MAX_EXPIRES_AFTER)] | None = None


class _BudgetShape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    per_user: Annotated[int, Field(ge=0)] | None = None
    per_channel: Annotated[int, Field(ge=0)] | None = None
    workspace: Annotated[int, Field(ge=0)] | None = None


class _PolicyShape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    admins: _Names = []
    groups: dict[str, _Names] = {}
    rules: list[_RuleShape]
    budgets: _BudgetShape = _BudgetShape()


@dataclass(frozen=True, slots=True)
class PolicyLoad:
    """What reading a policy file gave: the policy (only when there are no ``problems``), and ``warnings``."""

    policy: Policy | None
    problems: tuple[LineProblem, ...] = ()
    warnings: tuple[LineProblem, ...] = ()


def read_policy_file(file: Path, *, agents: frozenset[str], runbooks: frozenset[str] | None = None) -> PolicyLoad:
    """Load the policy file from disk (bounded in size); see :func:`load_policy_text`."""
    shown = str(file)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            return PolicyLoad(None, (LineProblem(shown, 1, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB"),))
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return PolicyLoad(None, (LineProblem(shown, 1, "the file is not UTF-8 text"),))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return PolicyLoad(None, (LineProblem(shown, 1, f"cannot read the file: {reason}"),))
    return load_policy_text(text, path=shown, agents=agents, runbooks=runbooks)


def load_policy_text(
    text: str, *, path: str, agents: frozenset[str], runbooks: frozenset[str] | None = None
) -> PolicyLoad:
    """Parse and check a policy file's text.

    ``agents`` are the registered agent names (others are errors); ``runbooks``, when given, the runbook
    names there are now (others are warnings). Rules are located as ``path:line`` for the audit log.
    """
    document = read_lined_yaml(text, path=path)
    if isinstance(document, LineProblem):
        return PolicyLoad(None, (document,))
    if not isinstance(document.data, dict):
        message = "a policy is a mapping with admins, groups, rules and budgets"
        return PolicyLoad(None, (LineProblem(path, document.line(()), message),))
    try:
        shape = _PolicyShape.model_validate(document.data)
    except ValidationError as exc:
        return PolicyLoad(None, tuple(shape_problems(exc, path, document, hint=_hint)))
    check = _Check(path, document, agents=agents, runbooks=runbooks)
    policy = check.policy(shape)
    problems = tuple(sorted(set(check.problems)))
    return PolicyLoad(None if problems else policy, problems, tuple(sorted(set(check.warnings))))


def _hint(loc: KeyPath, kind: str) -> str | None:
    """The policy's own wording for a missing ``rules``, ``users`` or ``channels``."""
    if kind != "missing" or not loc:
        return None
    if loc[-1] == "rules":
        return 'missing: a policy needs rules (e.g. `- {agents: ["*"], users: ["*"], channels: ["*"]}`)'
    if loc[-1] in {"users", "channels"}:
        return f'missing: say whom it covers (`{loc[-1]}: ["*"]` for any)'
    return None


class _Check:
    """The meaning of a well-shaped policy: every name resolves, every id is one, every rule grants something."""

    def __init__(
        self, path: str, document: LinedYaml, *, agents: frozenset[str], runbooks: frozenset[str] | None
    ) -> None:
        self.path = path
        self.document = document
        self.agents = agents
        self.runbooks = runbooks
        self.problems: list[LineProblem] = []
        self.warnings: list[LineProblem] = []
        self.group_names: frozenset[str] = frozenset()

    def problem(self, loc: KeyPath, message: str) -> None:
        self.problems.append(LineProblem(self.path, self.document.line(loc), f"{dotted(loc)}: {message}"))

    def warning(self, loc: KeyPath, message: str) -> None:
        self.warnings.append(LineProblem(self.path, self.document.line(loc), f"{dotted(loc)}: {message}"))

    def policy(self, shape: _PolicyShape) -> Policy:
        for index, admin in enumerate(shape.admins):
            if not _USER.match(admin):
                self.problem(("admins", index), f"{admin!r} is not a Slack user id (U…)")
        if not shape.admins:
            self.warning(("admins",), "no admins: denials cannot say whom to ask for access")
        groups = self.groups(shape.groups)
        rules = tuple(self.rule(index, rule) for index, rule in enumerate(shape.rules))
        if not rules:
            self.warning(("rules",), "no rules: nobody may use anything")
        budgets = shape.budgets
        return Policy(
            admins=frozenset(shape.admins),
            groups=groups,
            rules=rules,
            budgets=BudgetLimits(budgets.per_user, budgets.per_channel, budgets.workspace),
            source=self.path,
        )

    def groups(self, groups: dict[str, list[str]]) -> dict[str, frozenset[str]]:
        for name, members in groups.items():
            if not _GROUP_NAME.match(name):
                self.problem(("groups", name), f"{name!r} is not a group name (letters, digits, _ . -)")
            for index, member in enumerate(members):
                if not (_USER.match(member) or _USERGROUP.match(member)):
                    self.problem(
                        ("groups", name, index), f"{member!r} is not a Slack user id (U…) or user group id (S…)"
                    )
        self.group_names = frozenset(groups)
        return {name: frozenset(members) for name, members in groups.items()}

    def rule(self, index: int, rule: _RuleShape) -> Rule:
        at: KeyPath = ("rules", index)
        if not (rule.agents or rule.runbooks or rule.actions):
            self.problem(at, "the rule grants nothing: give it agents, runbooks or actions")
        self.people((*at, "users"), rule.users)
        self.places((*at, "channels"), rule.channels)
        self.names((*at, "agents"), rule.agents, self.agents, what="agent", strict=True)
        if self.runbooks is not None:
            self.names((*at, "runbooks"), rule.runbooks, self.runbooks, what="runbook", strict=False)
        self.names((*at, "actions"), rule.actions, frozenset(ACTIONS), what="action", strict=True)
        if rule.actions:
            if not rule.approvers:
                self.problem((*at, "actions"), 'an action rule needs approvers (e.g. approvers: ["@sre"])')
            else:
                self.people((*at, "approvers"), rule.approvers)
        else:
            for key, given in (
                ("approvers", bool(rule.approvers)),
                ("allow_self_approval", rule.allow_self_approval),
                ("expires_after", rule.expires_after is not None),
            ):
                if given:
                    self.problem((*at, key), "only applies to a rule with actions")
        return Rule(
            where=f"{self.path}:{self.document.line(at)}",
            users=frozenset(rule.users),
            channels=frozenset(rule.channels),
            agents=frozenset(rule.agents),
            runbooks=frozenset(rule.runbooks),
            actions=frozenset(rule.actions),
            approvers=frozenset(rule.approvers),
            allow_self_approval=rule.allow_self_approval,
            expires_after=rule.expires_after,
        )

    def people(self, loc: KeyPath, entries: Iterable[str]) -> None:
        entries = list(entries)
        if not entries:
            self.problem(loc, 'names nobody: list user ids, "@group" names, or "*"')
        for index, entry in enumerate(entries):
            if entry == ANY or _USER.match(entry) or _USERGROUP.match(entry):
                continue
            if entry.startswith("@"):
                if entry[1:] not in self.group_names:
                    known = ", ".join(f"@{name}" for name in sorted(self.group_names)) or "none defined"
                    self.problem((*loc, index), f"unknown group {entry!r} (groups: {known})")
                continue
            self.problem((*loc, index), f'{entry!r} is not a user id (U…), user group id (S…), "@group" or "*"')

    def places(self, loc: KeyPath, entries: Iterable[str]) -> None:
        entries = list(entries)
        if not entries:
            self.problem(loc, 'names no place: list channel ids, "dm", or "*"')
        for index, entry in enumerate(entries):
            if entry not in {ANY, DM} and not _CHANNEL.match(entry):
                self.problem((*loc, index), f'{entry!r} is not a channel id (C…, G…, D…), "dm" or "*"')

    def names(self, loc: KeyPath, entries: Iterable[str], known: frozenset[str], *, what: str, strict: bool) -> None:
        for index, entry in enumerate(entries):
            if entry == ANY or entry in known:
                continue
            message = f"unknown {what} {entry!r} (known: {', '.join(sorted(known)) or 'none'})"
            if strict:
                self.problem((*loc, index), message)
            else:
                self.warning((*loc, index), message + "; the rule covers it once it exists")
