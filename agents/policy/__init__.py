"""Who may do what, where: the authorization policy (``ORCH_POLICY_FILE``).

:class:`Policy` answers, without I/O, whether a person may use an agent, a runbook or an action at a place,
and who may approve an action; every answer names the rule that decided. Nothing here knows about Slack.
"""

from agents.policy._policy import ACTIONS, ANY, DM, ActionGrant, BudgetLimits, Place, Policy, Rule, Verdict

__all__ = ["ACTIONS", "ANY", "DM", "ActionGrant", "BudgetLimits", "Place", "Policy", "Rule", "Verdict"]
