"""Who may use which agent, runbook and action, where: a loaded policy, evaluated without I/O.

A request is allowed if any rule allows it (rules never deny). Each rule names who (user ids, ``@group``
names, Slack user group ids ``S…``, or ``*``), where (channel ids, ``dm``, or ``*``) and what (agents,
runbooks, actions). Every answer names the rule that decided, for the audit log. Admins are the people a
denial points to; being an admin grants nothing by itself (separation of duties: grants are explicit rules).
Slack user groups are expanded from a membership snapshot the edge keeps fresh (:meth:`Policy.with_usergroups`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from agents.task import Origin

__all__ = [
    "ACTIONS",
    "ANY",
    "DM",
    "ActionGrant",
    "BudgetLimits",
    "Place",
    "Policy",
    "Rule",
    "Verdict",
]

#: The actions a rule may grant: the write tools orch has, by their policy names.
ACTIONS: tuple[str, ...] = ("ec2.reboot", "ec2.stop", "ec2.start", "ecs.set_desired_count")
#: Everyone, everywhere, everything.
ANY = "*"
#: The ``channels`` entry for direct messages (and the app's own pane).
DM = "dm"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a request is made: a channel, or a direct conversation with the bot."""

    channel_id: str
    is_dm: bool = False

    @classmethod
    def of(cls, origin: Origin) -> Place:
        """The place of a task's origin (a ``D…`` conversation, a DM or the agent pane is a DM)."""
        is_dm = origin.surface in {"dm", "assistant"} or origin.channel_id.startswith("D")
        return cls(origin.channel_id, is_dm=is_dm)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Allowed or not, and the rule that decided (``rules[1] (policy.yaml:9)``, or why none did)."""

    allowed: bool
    rule: str


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    """Tokens (input + output) per UTC day; ``None``: no budget at that level."""

    per_user: int | None = None
    per_channel: int | None = None
    workspace: int | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One grant. ``where`` locates it in its file (``policy.yaml:9``) for errors and the audit log."""

    where: str
    users: frozenset[str] = frozenset({ANY})
    channels: frozenset[str] = frozenset({ANY})
    agents: frozenset[str] = frozenset()
    runbooks: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    approvers: frozenset[str] = frozenset()
    allow_self_approval: bool = False
    #: Seconds an approval request of this rule's actions stays open (``None``: the configured default).
    expires_after: float | None = None


@dataclass(frozen=True, slots=True)
class ActionGrant:
    """A rule that lets this person ask for ``action`` here: who may approve it, and for how long."""

    action: str
    rule: str
    approvers: frozenset[str]
    allow_self_approval: bool
    expires_after: float | None


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated policy: admins, named groups, rules and budgets."""

    admins: frozenset[str] = frozenset()
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    budgets: BudgetLimits = BudgetLimits()
    #: Where it came from (a path, or ``default``), for logs and ``doctor``.
    source: str = "default"
    #: Members of the Slack user groups (``S…``) the policy names, as last fetched.
    usergroups: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def default(cls) -> Policy:
        """No policy file: everyone may use every agent and runbook; nobody may run actions; no budgets."""
        everything = Rule(where="default", agents=frozenset({ANY}), runbooks=frozenset({ANY}))
        return cls(rules=(everything,), source="default")

    def with_usergroups(self, usergroups: Mapping[str, frozenset[str]]) -> Policy:
        """This policy with a fresh snapshot of its Slack user groups' members."""
        return dataclasses.replace(self, usergroups=dict(usergroups))

    def slack_usergroups(self) -> frozenset[str]:
        """The Slack user group ids (``S…``) the policy names anywhere: what the edge must fetch."""
        names: set[str] = set()
        for members in self.groups.values():
            names.update(m for m in members if m.startswith("S"))
        for rule in self.rules:
            names.update(m for m in (*rule.users, *rule.approvers) if m.startswith("S"))
        return frozenset(names)

    def is_admin(self, user_id: str) -> bool:
        """Whether ``user_id`` is one of the policy's admins."""
        return user_id in self.admins

    def matches(self, user_id: str, entries: Iterable[str]) -> bool:
        """Whether ``user_id`` is named by ``entries`` (ids, ``@group``, ``S…`` user groups, ``*``)."""
        return any(self._names(user_id, entry) for entry in entries)

    def agent(self, user_id: str, place: Place, agent: str) -> Verdict:
        """May ``user_id`` use ``agent`` at ``place``?"""
        return self._first(user_id, place, lambda rule: _names_item(rule.agents, agent))

    def runbook(self, user_id: str, place: Place, runbook: str) -> Verdict:
        """May ``user_id`` run ``runbook`` at ``place``?"""
        return self._first(user_id, place, lambda rule: _names_item(rule.runbooks, runbook))

    def places(self, user_id: str, *, agent: str | None = None, runbook: str | None = None) -> frozenset[str]:
        """Where ``user_id`` may use ``agent`` (or run ``runbook``); empty: nowhere. For listings (App Home).

        The ``channels`` entries (channel ids, ``dm``, ``*``) of every rule that grants it to them.
        """
        found: set[str] = set()
        for rule in self.rules:
            grants = _names_item(rule.agents, agent) if agent is not None else False
            grants = grants or (runbook is not None and _names_item(rule.runbooks, runbook))
            if grants and self.matches(user_id, rule.users):
                found |= rule.channels
        return frozenset(found)

    def action(self, user_id: str, place: Place, action: str) -> ActionGrant | None:
        """The first rule that lets ``user_id`` ask for ``action`` at ``place`` (``None``: none does)."""
        for index, rule in enumerate(self.rules):
            if _names_item(rule.actions, action) and self._applies(rule, user_id, place):
                return ActionGrant(
                    action=action,
                    rule=_label(index, rule),
                    approvers=rule.approvers,
                    allow_self_approval=rule.allow_self_approval,
                    expires_after=rule.expires_after,
                )
        return None

    def approval(self, approver_id: str, *, requester_id: str, place: Place, action: str) -> Verdict:
        """May ``approver_id`` approve ``requester_id``'s ``action`` at ``place``, under this policy as it is?

        A rule decides if it grants the action to the requester there and names the approver among its
        approvers; the requester approves their own action only where that rule says ``allow_self_approval``.
        """
        self_approval_only = False
        for index, rule in enumerate(self.rules):
            if not (_names_item(rule.actions, action) and self._applies(rule, requester_id, place)):
                continue
            if not self.matches(approver_id, rule.approvers):
                continue
            if approver_id == requester_id and not rule.allow_self_approval:
                self_approval_only = True
                continue
            return Verdict(allowed=True, rule=_label(index, rule))
        if self_approval_only:
            return Verdict(allowed=False, rule="self-approval is not allowed")
        return Verdict(allowed=False, rule="not an approver for this action here")

    def _first(self, user_id: str, place: Place, what: Callable[[Rule], bool]) -> Verdict:
        for index, rule in enumerate(self.rules):
            if what(rule) and self._applies(rule, user_id, place):
                return Verdict(allowed=True, rule=_label(index, rule))
        return Verdict(allowed=False, rule="no rule allows it")

    def _applies(self, rule: Rule, user_id: str, place: Place) -> bool:
        return self.matches(user_id, rule.users) and _names_place(rule.channels, place)

    def _names(self, user_id: str, entry: str) -> bool:
        if entry in {ANY, user_id}:
            return True
        if entry.startswith("@"):  # a named group: ids and Slack user groups, never other groups
            return any(self._member(user_id, member) for member in self.groups.get(entry[1:], ()))
        return self._member(user_id, entry)

    def _member(self, user_id: str, entry: str) -> bool:
        if entry == user_id:
            return True
        return entry.startswith("S") and user_id in self.usergroups.get(entry, frozenset())


def _names_item(items: frozenset[str], item: str) -> bool:
    return ANY in items or item in items


def _names_place(channels: frozenset[str], place: Place) -> bool:
    return ANY in channels or place.channel_id in channels or (place.is_dm and DM in channels)


def _label(index: int, rule: Rule) -> str:
    return f"rules[{index}] ({rule.where})"
