"""How often the bot may call Slack's streaming and editing methods in one workspace.

Slack limits each Web API method per app and workspace, by the minute, in tiers: ``chat.startStream`` and
``chat.stopStream`` are Tier 2 (20 a minute), ``chat.update`` Tier 3 (50), ``chat.appendStream`` Tier 4
(100). Every answer streaming at the same time in a workspace draws on the same minute, so one answer's
appends are spaced by how many answers are in flight: alone, at most one append each 0.6 s; with ten
answers, one each 6 s per answer, each carrying more text. A ``ratelimited`` answer that gets past the
SDK's own retries is shared too: every answer in the workspace holds that method until Slack's
``Retry-After`` is over, rather than each finding out with a 429 of its own.

The budget is per process: replicas of the bot do not share it (each counts only its own answers), which
is why the spacing leaves the 429 path in place rather than trusting the arithmetic alone.
"""

from __future__ import annotations

import time
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["PER_MINUTE", "SlackBudget", "workspace_budget"]

#: Calls a minute per workspace, by method: Slack's tiers (Tier 2: 20, Tier 3: 50, Tier 4: 100).
PER_MINUTE: Mapping[str, float] = {
    "chat.startStream": 20.0,
    "chat.stopStream": 20.0,
    "chat.update": 50.0,
    "chat.appendStream": 100.0,
}


class SlackBudget:
    """One workspace's share of Slack's per-minute method limits, split between the answers in flight.

    An answer :meth:`join` s when it starts calling a paced method and :meth:`leave` s when it is done (an
    answer dropped without leaving stops counting when it is garbage collected). :meth:`spacing` is the
    least time between two calls of a method by one answer; :meth:`blocked_for` is what is left of a
    ``Retry-After`` that Slack gave any answer in the workspace. Tasks chunks are remembered here too: a
    workspace whose Slack refused them once is not asked again.
    """

    def __init__(
        self, *, per_minute: Mapping[str, float] = PER_MINUTE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._answers: weakref.WeakSet[object] = weakref.WeakSet()
        self._blocked_until: dict[str, float] = {}
        #: False once this workspace's Slack refused ``task_update`` chunks (an older Slack, an older plan).
        self.task_chunks = True

    def join(self, answer: object) -> None:
        """Count ``answer`` among those calling Slack in this workspace."""
        self._answers.add(answer)

    def leave(self, answer: object) -> None:
        """``answer`` is done."""
        self._answers.discard(answer)

    @property
    def answers(self) -> int:
        """Answers in flight in this workspace."""
        return len(self._answers)

    def spacing(self, method: str) -> float:
        """Seconds one answer waits between two calls of ``method`` so the workspace stays within its minute."""
        rate = self._per_minute.get(method)
        if rate is None:
            return 0.0
        return max(1, len(self._answers)) * 60.0 / rate

    def blocked_for(self, method: str) -> float:
        """Seconds until Slack takes ``method`` again after a ``ratelimited`` answer (0 when it does)."""
        until = self._blocked_until.get(method)
        return 0.0 if until is None else max(0.0, until - self._clock())

    def rate_limited(self, method: str, retry_after: float) -> None:
        """Slack answered ``ratelimited`` to ``method``: hold it for ``retry_after`` seconds, in every answer."""
        until = self._clock() + retry_after
        self._blocked_until[method] = max(until, self._blocked_until.get(method, until))


_BUDGETS: dict[str, SlackBudget] = {}


def workspace_budget(team_id: str) -> SlackBudget:
    """The process's budget for workspace ``team_id`` (one per workspace, created on first use)."""
    budget = _BUDGETS.get(team_id)
    if budget is None:
        budget = _BUDGETS[team_id] = SlackBudget()
    return budget
