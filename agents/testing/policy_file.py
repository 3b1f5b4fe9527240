"""A test-only reader of the policy file's shape (``ORCH_TEST_POLICY_FILE``), until the real loader is wired in.

The validated loader with ``path:line`` errors and reload (``ORCH_POLICY_FILE``) is its own piece of
work; the action tests need a policy in the real process before it lands. This reads the same YAML shape
without validation, and only when ``ORCH_TEST_TOOLS`` is on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agents.policy import ANY, Policy, Rule

__all__ = ["read_policy"]


def _names(raw: dict[str, Any], key: str, default: frozenset[str]) -> frozenset[str]:
    found = raw.get(key)
    return default if found is None else frozenset(str(item) for item in found)


def read_policy(path: str) -> Policy:
    """The policy in the YAML file ``path`` (the issue's shape), unvalidated."""
    data: dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    rules = tuple(
        Rule(
            where=f"{Path(path).name}:rules[{index}]",
            users=_names(raw, "users", frozenset({ANY})),
            channels=_names(raw, "channels", frozenset({ANY})),
            agents=_names(raw, "agents", frozenset()),
            runbooks=_names(raw, "runbooks", frozenset()),
            actions=_names(raw, "actions", frozenset()),
            approvers=_names(raw, "approvers", frozenset()),
            allow_self_approval=bool(raw.get("allow_self_approval", False)),
            expires_after=float(raw["expires_after"]) if raw.get("expires_after") is not None else None,
        )
        for index, raw in enumerate(data.get("rules") or ())
    )
    groups = {str(name): frozenset(str(m) for m in members) for name, members in (data.get("groups") or {}).items()}
    return Policy(admins=frozenset(data.get("admins") or ()), groups=groups, rules=rules, source=path)
