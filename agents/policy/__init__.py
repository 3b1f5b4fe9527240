"""Who may do what, where: the authorization policy (``ORCH_POLICY_FILE``).

:class:`Policy` answers, without I/O, whether a person may use an agent, a runbook or an action at a place,
and who may approve an action; every answer names the rule that decided. :class:`PolicySource` loads it
from ``ORCH_POLICY_FILE`` (every problem as ``path:line``), reloads it on change or SIGHUP, and expands
Slack user groups through the :class:`UserGroups` port. Nothing here knows about Slack.
"""

from agents.policy._loader import PolicyLoad, load_policy_text, read_policy_file
from agents.policy._policy import ACTIONS, ANY, DM, ActionGrant, BudgetLimits, Place, Policy, Rule, Verdict
from agents.policy._source import PolicySource
from agents.policy._usergroups import UserGroups

__all__ = [
    "ACTIONS",
    "ANY",
    "DM",
    "ActionGrant",
    "BudgetLimits",
    "Place",
    "Policy",
    "PolicyLoad",
    "PolicySource",
    "Rule",
    "UserGroups",
    "Verdict",
    "load_policy_text",
    "read_policy_file",
]
