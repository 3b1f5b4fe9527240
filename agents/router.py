"""Choosing the agent for a task.

An explicit ``agent:`` prefix always wins. Otherwise the rule-based router matches each agent's keywords
against the task's words and falls back to the registry's default; a model-based router can replace it
behind the same :class:`Router` port.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from agents.catalog import AgentRegistry, AgentSpec
    from agents.task import Task

__all__ = ["KeywordRouter", "Router", "Routing"]

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Routing:
    """The chosen agent and why, so replies can teach users the prefixes."""

    agent: AgentSpec
    reason: str
    explicit: bool


class Router(Protocol):
    """Picks an agent for a task."""

    async def route(self, task: Task) -> Routing:
        """Return the agent to run ``task``."""
        ...


class KeywordRouter:
    """Explicit prefix, else the agent whose keywords the task mentions most, else the default."""

    def __init__(self, registry: AgentRegistry) -> None:
        self._registry = registry

    async def route(self, task: Task) -> Routing:
        """Return the agent to run ``task``."""
        if task.agent is not None:
            chosen = self._registry.get(task.agent)
            if chosen is not None:
                return Routing(chosen, f"you asked for `{chosen.name}:`", explicit=True)
        words = set(_WORD.findall(task.text.lower()))
        scored = [(len(words & agent.keywords), agent) for agent in self._registry.all()]
        best_score, best = max(scored, key=lambda pair: pair[0])
        if best_score > 0:
            matched = ", ".join(sorted(words & best.keywords))
            return Routing(best, f"the task mentions {matched}", explicit=False)
        default = self._registry.default
        return Routing(default, "no specialised agent matched", explicit=False)
