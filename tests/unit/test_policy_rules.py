"""Evaluating a loaded policy: users, groups, Slack user groups, places, approvers, self-approval and expiry."""

from __future__ import annotations

import textwrap

import pytest

from agents.catalog import default_registry
from agents.policy import Place, Policy
from agents.policy._loader import load_policy_text

POLICY = textwrap.dedent("""\
    admins: [U0ADMIN01]
    groups:
      sre: [U0SRE0001, U0SRE0002, S0ONCALL1]
    rules:
      - agents: [general]
        users: ["*"]
        channels: ["*"]
      - agents: [infra, logs]
        runbooks: [incident-triage]
        users: ["@sre"]
        channels: [C0OPS0001, dm]
      - agents: [monitor]
        users: [U0ANA0001]
        channels: [C0OPS0001]
      - actions: [ec2.stop, ec2.start]
        users: ["@sre"]
        channels: [C0OPS0001]
        approvers: ["@sre"]
        expires_after: 120
      - actions: [ec2.reboot]
        users: [U0SRE0001]
        channels: [C0OPS0001]
        approvers: [U0SRE0001]
        allow_self_approval: true
    """)
OPS = Place("C0OPS0001")
RANDOM = Place("C0RANDOM1")
DM = Place("D0DM00001", is_dm=True)


def policy() -> Policy:
    """The policy above, with the Slack user group S0ONCALL1 holding U0ONCALL1."""
    loaded = load_policy_text(POLICY, path="policy.yaml", agents=default_registry().names())
    assert loaded.policy is not None, loaded.problems
    return loaded.policy.with_usergroups({"S0ONCALL1": frozenset({"U0ONCALL1"})})


@pytest.mark.parametrize(
    ("user", "place", "agent", "allowed", "rule"),
    [
        ("U0ANYONE1", RANDOM, "general", True, "rules[0] (policy.yaml:5)"),
        ("U0ANYONE1", DM, "general", True, "rules[0] (policy.yaml:5)"),
        ("U0ANYONE1", OPS, "infra", False, "no rule allows it"),
        ("U0SRE0001", OPS, "infra", True, "rules[1] (policy.yaml:8)"),
        ("U0SRE0002", DM, "logs", True, "rules[1] (policy.yaml:8)"),
        ("U0SRE0001", RANDOM, "infra", False, "no rule allows it"),
        ("U0ONCALL1", OPS, "infra", True, "rules[1] (policy.yaml:8)"),
        ("U0ANA0001", OPS, "monitor", True, "rules[2] (policy.yaml:12)"),
        ("U0ANA0001", DM, "monitor", False, "no rule allows it"),
        ("U0SRE0001", OPS, "monitor", False, "no rule allows it"),
    ],
)
def test_agents_are_granted_by_user_group_usergroup_and_place(
    user: str, place: Place, agent: str, *, allowed: bool, rule: str
) -> None:
    """``*``, ids, ``@group`` and S-group members; channel ids, ``dm`` and ``*``; the deciding rule is named."""
    verdict = policy().agent(user, place, agent)
    assert (verdict.allowed, verdict.rule) == (allowed, rule)


def test_runbooks_are_granted_only_by_rules_naming_them() -> None:
    """incident-triage for the sre group in ops; nothing grants cost-report, nobody gets it by ``agents: *``."""
    assert policy().runbook("U0SRE0001", OPS, "incident-triage").allowed
    assert not policy().runbook("U0SRE0001", OPS, "cost-report").allowed
    assert not policy().runbook("U0ANYONE1", OPS, "incident-triage").allowed


def test_a_usergroup_member_loses_access_when_the_snapshot_drops_them() -> None:
    """The S-group is expanded from the last fetched membership, not remembered per person."""
    refreshed = policy().with_usergroups({"S0ONCALL1": frozenset()})
    assert not refreshed.agent("U0ONCALL1", OPS, "infra").allowed


@pytest.mark.parametrize(
    ("user", "place", "action", "rule", "expires_after"),
    [
        ("U0SRE0002", OPS, "ec2.stop", "rules[3] (policy.yaml:15)", 120),
        ("U0SRE0001", OPS, "ec2.reboot", "rules[4] (policy.yaml:20)", None),
        ("U0SRE0002", OPS, "ec2.reboot", None, None),
        ("U0SRE0001", RANDOM, "ec2.stop", None, None),
        ("U0ANYONE1", OPS, "ec2.start", None, None),
        ("U0SRE0001", OPS, "ecs.set_desired_count", None, None),
    ],
)
def test_action_grants_carry_their_rule_and_expiry(
    user: str, place: Place, action: str, rule: str | None, expires_after: float | None
) -> None:
    """Who may ask for which action where; a grant says its rule and its own ``expires_after``."""
    grant = policy().action(user, place, action)
    if rule is None:
        assert grant is None
        return
    assert grant is not None
    assert (grant.rule, grant.expires_after) == (rule, expires_after)


@pytest.mark.parametrize(
    ("approver", "requester", "action", "allowed", "rule"),
    [
        ("U0SRE0002", "U0SRE0001", "ec2.stop", True, "rules[3] (policy.yaml:15)"),
        ("U0SRE0001", "U0SRE0001", "ec2.stop", False, "self-approval is not allowed"),
        ("U0ONCALL1", "U0SRE0001", "ec2.stop", True, "rules[3] (policy.yaml:15)"),
        ("U0ANYONE1", "U0SRE0001", "ec2.stop", False, "not an approver for this action here"),
        ("U0SRE0001", "U0SRE0001", "ec2.reboot", True, "rules[4] (policy.yaml:20)"),
        ("U0ADMIN01", "U0SRE0001", "ec2.stop", False, "not an approver for this action here"),
    ],
)
def test_approvers_and_self_approval(approver: str, requester: str, action: str, *, allowed: bool, rule: str) -> None:
    """Approvers come from the granting rule; self-approval only where it says so; admins approve nothing by rank."""
    verdict = policy().approval(approver, requester_id=requester, place=OPS, action=action)
    assert (verdict.allowed, verdict.rule) == (allowed, rule)


def test_without_a_file_everyone_may_use_everything_but_actions() -> None:
    """The default policy: every agent and runbook for everyone everywhere; no actions; no budgets."""
    default = Policy.default()
    assert default.agent("U0ANYONE1", DM, "infra").allowed
    assert default.runbook("U0ANYONE1", RANDOM, "cost-report").allowed
    assert default.action("U0ANYONE1", OPS, "ec2.stop") is None
    assert (default.budgets.per_user, default.budgets.per_channel, default.budgets.workspace) == (None, None, None)
