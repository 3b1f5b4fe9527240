"""Token counters in memory: the console's (its tasks are the terminal user's own) and the tests'."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from agents.budgets._day import BudgetDay
from agents.budgets._port import Account, Spent, TopUsage

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MemoryTokenBudgets"]


class MemoryTokenBudgets:
    """Today's counters in a dict, forgotten at UTC midnight (and when the process ends)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._day = ""
        self._counts: dict[tuple[str, str], Counter[str]] = {}

    def _today(self) -> BudgetDay:
        day = BudgetDay.at(self._clock())
        if day.key != self._day:
            self._day, self._counts = day.key, {}
        return day

    def _counter(self, workspace_id: str, kind: str) -> Counter[str]:
        return self._counts.setdefault((workspace_id, kind), Counter())

    async def add(self, account: Account, tokens: int, *, agent: str) -> None:
        """Count ``tokens`` for the account's person, channel and workspace, and for ``agent``, today."""
        self._today()
        ws = account.workspace_id
        self._counter(ws, "user")[account.user_id] += tokens
        self._counter(ws, "channel")[account.channel_id] += tokens
        self._counter(ws, "agent")[agent] += tokens
        self._counter(ws, "workspace")[""] += tokens

    async def spent(self, account: Account) -> Spent:
        """What the account's person, channel and workspace have used today."""
        day = self._today()
        ws = account.workspace_id
        return Spent(
            user=self._counter(ws, "user")[account.user_id],
            channel=self._counter(ws, "channel")[account.channel_id],
            workspace=self._counter(ws, "workspace")[""],
            day=day,
        )

    async def top(self, workspace_id: str, *, limit: int) -> TopUsage:
        """The workspace's ``limit`` biggest users, channels and agents today."""
        day = self._today()
        return TopUsage(
            users=tuple(self._counter(workspace_id, "user").most_common(limit)),
            channels=tuple(self._counter(workspace_id, "channel").most_common(limit)),
            agents=tuple(self._counter(workspace_id, "agent").most_common(limit)),
            day=day,
        )
