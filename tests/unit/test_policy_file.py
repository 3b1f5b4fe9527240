"""The policy file: the issue's example loads exactly, and every problem is reported as ``path:line: problem``."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest

from agents.catalog import default_registry
from agents.policy import BudgetLimits, Policy, Rule
from agents.policy._loader import load_policy_text, read_policy_file

if TYPE_CHECKING:
    from pathlib import Path

AGENTS = default_registry().names()
RUNBOOKS = frozenset({"incident-triage", "deploy-check", "cost-report"})

ISSUE_EXAMPLE = """\
admins: [U0ADMIN01]                 # Slack user ids
groups:                             # named sets of Slack user ids; Slack user group ids (S…) also accepted
  sre: [U0SRE0001, U0SRE0002]
rules:                              # a request is allowed if any rule allows it
  - agents: ["*"]                   # agent names, or "*"
    runbooks: ["*"]                 # runbook names, or "*"
    users: ["*"]                    # user ids, "@group" names, or "*"
    channels: ["*"]                 # channel ids, "dm", or "*"
  - actions: [ec2.reboot, ec2.stop, ec2.start, ecs.set_desired_count]
    users: ["@sre"]                 # who may ask for these actions
    channels: [C0OPS0001]
    approvers: ["@sre"]             # who may approve them
    allow_self_approval: false      # default false: the requester may not approve their own action
budgets:                            # tokens per UTC day (input + output); any may be omitted
  per_user: 200000
  per_channel: 1000000
  workspace: 5000000
"""


def problems(text: str) -> list[str]:
    """The problems of ``text`` as a file called ``p.yaml`` (a file with problems never yields a policy)."""
    loaded = load_policy_text(textwrap.dedent(text), path="p.yaml", agents=AGENTS, runbooks=RUNBOOKS)
    assert (loaded.policy is None) == bool(loaded.problems)
    return [str(p) for p in loaded.problems]


def test_the_issues_example_loads_exactly_as_written() -> None:
    """The contract: admins, the sre group, both rules (located at their lines) and all three budgets."""
    loaded = load_policy_text(ISSUE_EXAMPLE, path="policy.yaml", agents=AGENTS, runbooks=RUNBOOKS)
    assert loaded.problems == ()
    assert loaded.warnings == ()
    assert loaded.policy == Policy(
        admins=frozenset({"U0ADMIN01"}),
        groups={"sre": frozenset({"U0SRE0001", "U0SRE0002"})},
        rules=(
            Rule(
                where="policy.yaml:5",
                users=frozenset({"*"}),
                channels=frozenset({"*"}),
                agents=frozenset({"*"}),
                runbooks=frozenset({"*"}),
            ),
            Rule(
                where="policy.yaml:9",
                users=frozenset({"@sre"}),
                channels=frozenset({"C0OPS0001"}),
                actions=frozenset({"ec2.reboot", "ec2.stop", "ec2.start", "ecs.set_desired_count"}),
                approvers=frozenset({"@sre"}),
                allow_self_approval=False,
            ),
        ),
        budgets=BudgetLimits(per_user=200000, per_channel=1000000, workspace=5000000),
        source="policy.yaml",
    )


def test_budgets_and_groups_may_be_omitted_and_expires_after_is_read() -> None:
    """A minimal file: no groups, no budgets (no limits), and an action rule's own expiry in seconds."""
    loaded = load_policy_text(
        textwrap.dedent("""\
            admins: [U0ADMIN01]
            rules:
              - actions: [ec2.stop]
                users: [U0SRE0001]
                channels: [dm]
                approvers: [S0ONCALL1]
                expires_after: 300
            budgets: {per_user: 1000}
            """),
        path="p.yaml",
        agents=AGENTS,
    )
    assert loaded.problems == ()
    assert loaded.policy is not None
    assert loaded.policy.budgets == BudgetLimits(per_user=1000)
    assert loaded.policy.rules[0].expires_after == 300
    assert loaded.policy.slack_usergroups() == {"S0ONCALL1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            """\
            admins: [U0ADMIN01]
            rule:
              - agents: ["*"]
            """,
            [
                'p.yaml:1: rules: missing: a policy needs rules (e.g. `- {agents: ["*"], users: ["*"], channels: ["*"]}`)',
                "p.yaml:2: rule: unknown key",
            ],
            id="unknown top-level key (a typo)",
        ),
        pytest.param(
            """\
            rules:
              - agents: ["*"]
                user: ["*"]
                channels: ["*"]
            """,
            [
                'p.yaml:2: rules[0].users: missing: say whom it covers (`users: ["*"]` for any)',
                "p.yaml:3: rules[0].user: unknown key",
            ],
            id="unknown rule key",
        ),
        pytest.param(
            """\
            groups:
              sre: [U0SRE0001]
            rules:
              - agents: ["*"]
                users: ["@sres"]
                channels: ["*"]
            """,
            ["p.yaml:5: rules[0].users[0]: unknown group '@sres' (groups: @sre)"],
            id="unknown group",
        ),
        pytest.param(
            """\
            rules:
              - actions: [ec2.terminate]
                users: ["*"]
                channels: ["*"]
                approvers: [U0ADMIN01]
            """,
            [
                (
                    "p.yaml:2: rules[0].actions[0]: unknown action 'ec2.terminate' "
                    "(known: ec2.reboot, ec2.start, ec2.stop, ecs.set_desired_count)"
                )
            ],
            id="unknown action",
        ),
        pytest.param(
            """\
            rules:
              - agents: [infra, infrastructure]
                users: ["*"]
                channels: ["*"]
            """,
            ["p.yaml:2: rules[0].agents[1]: unknown agent 'infrastructure' (known: general, infra, logs, monitor)"],
            id="unknown agent",
        ),
        pytest.param(
            """\
            admins: [ana]
            groups:
              sre: [U0SRE0001, "@ops"]
            rules:
              - agents: ["*"]
                users: [u0lower]
                channels: [general, C0OPS0001]
            """,
            [
                "p.yaml:1: admins[0]: 'ana' is not a Slack user id (U…)",
                "p.yaml:3: groups.sre[1]: '@ops' is not a Slack user id (U…) or user group id (S…)",
                'p.yaml:6: rules[0].users[0]: \'u0lower\' is not a user id (U…), user group id (S…), "@group" or "*"',
                'p.yaml:7: rules[0].channels[0]: \'general\' is not a channel id (C…, G…, D…), "dm" or "*"',
            ],
            id="malformed ids",
        ),
        pytest.param(
            """\
            rules:
              - actions: [ec2.stop]
                users: ["*"]
                channels: ["*"]
            """,
            ['p.yaml:2: rules[0].actions: an action rule needs approvers (e.g. approvers: ["@sre"])'],
            id="action rule without approvers",
        ),
        pytest.param(
            """\
            rules:
              - agents: ["*"]
                users: ["*"]
                channels: ["*"]
                approvers: [U0ADMIN01]
                expires_after: 60
            """,
            [
                "p.yaml:5: rules[0].approvers: only applies to a rule with actions",
                "p.yaml:6: rules[0].expires_after: only applies to a rule with actions",
            ],
            id="approval settings without actions",
        ),
        pytest.param(
            """\
            rules:
              - agents: ["*"]
                users: ["*"]
                channels: ["*"]
              - users: ["*"]
                channels: ["*"]
            """,
            ["p.yaml:5: rules[1]: the rule grants nothing: give it agents, runbooks or actions"],
            id="empty rule",
        ),
        pytest.param(
            """\
            rules:
              - agents: ["*"]
                users: []
                channels: ["*"]
            """,
            ['p.yaml:3: rules[0].users: names nobody: list user ids, "@group" names, or "*"'],
            id="rule naming nobody",
        ),
        pytest.param(
            """\
            rules:
              - agents: ["*"]
                users: ["*"]
                channels: ["*"]
            budgets:
              per_user: -5
              per_chanel: 10
            """,
            ["p.yaml:6: budgets.per_user: must not be negative", "p.yaml:7: budgets.per_chanel: unknown key"],
            id="negative budget and a budget typo",
        ),
        pytest.param(
            """\
            rules:
              - actions: [ec2.stop]
                users: ["*"]
                channels: ["*"]
                approvers: ["*"]
                allow_self_approval: "no"
                expires_after: -1
            """,
            [
                "p.yaml:6: rules[0].allow_self_approval: must be true or false",
                "p.yaml:7: rules[0].expires_after: must be more than 0",
            ],
            id="wrong value types",
        ),
        pytest.param(
            """\
            rules:
              - agents: "*"
                users: ["*"]
                channels: ["*"]
            """,
            ["p.yaml:2: rules[0].agents: must be a list, e.g. [a, b]"],
            id="a string where a list belongs",
        ),
        pytest.param(
            """\
            rules:
              - agents: ["*"]
                users: ["*"]
                users: ["*"]
                channels: ["*"]
            """,
            ["p.yaml:4: duplicate key 'users'"],
            id="duplicate key",
        ),
        pytest.param(
            "rules: [\n",
            ["p.yaml:2: not valid YAML: expected the node content, but found '<stream end>'"],
            id="not YAML",
        ),
        pytest.param(
            "- just\n- a list\n",
            ["p.yaml:1: a policy is a mapping with admins, groups, rules and budgets"],
            id="not a mapping",
        ),
        pytest.param("# nothing\n", ["p.yaml:1: the file is empty"], id="empty file"),
    ],
)
def test_each_problem_is_reported_at_its_line(text: str, expected: list[str]) -> None:
    """Typos, unknown names, malformed ids, rules that grant nothing or lack approvers, negative budgets."""
    assert problems(text) == expected


def test_unknown_runbooks_and_missing_admins_are_warnings_not_errors() -> None:
    """A runbook may be added to ORCH_RUNBOOKS_DIR after the policy names it: the policy still loads."""
    loaded = load_policy_text(
        'rules:\n  - runbooks: [incident-triage, weekly-report]\n    users: ["*"]\n    channels: ["*"]\n',
        path="p.yaml",
        agents=AGENTS,
        runbooks=RUNBOOKS,
    )
    assert loaded.policy is not None
    assert [str(w) for w in loaded.warnings] == [
        "p.yaml:1: admins: no admins: denials cannot say whom to ask for access",
        (
            "p.yaml:2: rules[0].runbooks[1]: unknown runbook 'weekly-report' "
            "(known: cost-report, deploy-check, incident-triage); the rule covers it once it exists"
        ),
    ]


def test_an_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    """A missing or non-UTF-8 file is reported at line 1 with the reason, never a traceback."""
    missing = read_policy_file(tmp_path / "nope.yaml", agents=AGENTS)
    assert [str(p) for p in missing.problems] == [
        f"{tmp_path / 'nope.yaml'}:1: cannot read the file: No such file or directory"
    ]
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00rules")
    assert [p.message for p in read_policy_file(binary, agents=AGENTS).problems] == ["the file is not UTF-8 text"]
