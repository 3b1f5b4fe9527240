"""Enforcing the daily token budgets: checked before every model call, counted after it.

The limits come from the policy (``budgets:`` in ``ORCH_POLICY_FILE``: ``per_user``, ``per_channel``,
``workspace``; any may be left out, and no file means no budgets), read through a callable at every check so
a reloaded policy applies at once. The counters are a :class:`~agents.budgets.TokenBudgets` backend.

What counts: a call's input and output tokens as Bedrock reports them, prompt-cache reads and writes
included (``Usage.input_tokens`` already holds them). Cached reads are cheaper, but they are tokens the model
processed; counting them keeps the budget a simple, honest number that matches Bedrock's own usage figures.

The budget is soft at the edges: a check happens before each call, so calls already in flight (a task's
other steps, another replica's tasks) finish and are counted, and a day's usage can pass the limit by what
those calls used. A budget store that cannot be reached lets the call through (logged): the task journal,
in the same store, already decides whether tasks can run at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import structlog

from agents.budgets._port import Account
from agents.errors import BudgetExceeded, StoreUnavailable
from agents.policy import BudgetLimits

if TYPE_CHECKING:
    from collections.abc import Callable

    from agents.budgets._port import Spent, TokenBudgets, TopUsage
    from agents.llm import Usage
    from agents.metrics import Metrics
    from agents.task import Origin

__all__ = ["WARN_AT", "BudgetGuard", "BudgetLevel", "BudgetStanding", "BudgetWarning", "Stage", "UsageReport"]

log = structlog.get_logger(__name__)

#: The share of a budget after which answers carry a warning.
WARN_AT = 0.8

Level = Literal["user", "channel", "workspace"]
#: Where a refusal happened: when the task was submitted, or before one of its model calls.
Stage = Literal["submit", "call"]

_NAMES: dict[Level, str] = {
    "user": "your daily token budget",
    "channel": "this channel's daily token budget",
    "workspace": "the workspace's daily token budget",
}


@dataclass(frozen=True, slots=True)
class BudgetLevel:
    """One budget (the person's, the channel's or the workspace's) and how much of it is used today."""

    level: Level
    limit: int
    used: int

    @property
    def name(self) -> str:
        """How people hear of it: "your daily token budget", "this channel's…", "the workspace's…"."""
        return _NAMES[self.level]

    @property
    def percent(self) -> int:
        """Used, as a whole percentage of the limit (floored, so 80% means at least 80%)."""
        return self.used * 100 // self.limit if self.limit > 0 else 100

    @property
    def exhausted(self) -> bool:
        """No tokens left: the next model call would go past the limit."""
        return self.used >= self.limit

    @property
    def nearly_exhausted(self) -> bool:
        """At least :data:`WARN_AT` of it is used."""
        return self.used >= self.limit * WARN_AT


@dataclass(frozen=True, slots=True)
class BudgetWarning:
    """The budgets at :data:`WARN_AT` or more after a task, for the answer's footer."""

    levels: tuple[BudgetLevel, ...]
    resets_at: float


@dataclass(frozen=True, slots=True)
class BudgetStanding:
    """An account's budgets today (only those the policy sets), its usage, and when the day resets."""

    levels: tuple[BudgetLevel, ...]
    spent: Spent

    @property
    def resets_at(self) -> float:
        """When every daily budget resets: the next UTC midnight."""
        return self.spent.day.resets_at

    def exhausted(self) -> BudgetLevel | None:
        """The first used-up budget, the narrowest first (the person's, the channel's, the workspace's)."""
        return next((level for level in self.levels if level.exhausted), None)

    def warning(self) -> BudgetWarning | None:
        """The budgets at :data:`WARN_AT` or more, if any."""
        near = tuple(level for level in self.levels if level.nearly_exhausted)
        return BudgetWarning(near, self.resets_at) if near else None


@dataclass(frozen=True, slots=True)
class UsageReport:
    """``usage``: a person's own standing and, for admins, the workspace's top users, channels and agents."""

    standing: BudgetStanding
    top: TopUsage | None = None


class BudgetGuard:
    """Checks an account's budgets before a model call and counts the call's tokens after it."""

    def __init__(
        self,
        counters: TokenBudgets,
        *,
        limits: Callable[[], BudgetLimits] = BudgetLimits,
        metrics: Metrics | None = None,
    ) -> None:
        self._counters = counters
        self._limits = limits
        self._metrics = metrics

    async def standing(self, origin: Origin) -> BudgetStanding:
        """The account's usage today against the budgets the policy sets now."""
        spent = await self._counters.spent(Account.of(origin))
        limits = self._limits()
        candidates: tuple[tuple[Level, int | None, int], ...] = (
            ("user", limits.per_user, spent.user),
            ("channel", limits.per_channel, spent.channel),
            ("workspace", limits.workspace, spent.workspace),
        )
        levels = tuple(BudgetLevel(level, limit, used) for level, limit, used in candidates if limit is not None)
        return BudgetStanding(levels, spent)

    async def check(self, origin: Origin, *, stage: Stage = "call") -> None:
        """Raise :class:`BudgetExceeded` if any of the account's budgets is used up (no read without budgets)."""
        limits = self._limits()
        if limits.per_user is None and limits.per_channel is None and limits.workspace is None:
            return
        try:
            standing = await self.standing(origin)
        except StoreUnavailable as error:
            log.warning("budget.unreadable", store=error.store, reason=error.reason)
            return
        hit = standing.exhausted()
        if hit is None:
            return
        log.info("budget.exceeded", budget=hit.level, limit=hit.limit, used=hit.used, stage=stage)
        if self._metrics is not None:
            self._metrics.budget_refusals.labels(hit.level, stage).inc()
        raise BudgetExceeded(
            level=hit.level, budget=hit.name, limit=hit.limit, used=hit.used, resets_at=standing.resets_at
        )

    async def spend(self, origin: Origin, usage: Usage, *, agent: str) -> None:
        """Count a call's tokens (input, cache included, plus output) for the account and ``agent``."""
        tokens = usage.input_tokens + usage.output_tokens
        if tokens <= 0:
            return
        try:
            await self._counters.add(Account.of(origin), tokens, agent=agent)
        except StoreUnavailable as error:
            log.warning("budget.not_counted", store=error.store, reason=error.reason, tokens=tokens)

    async def warning(self, origin: Origin) -> BudgetWarning | None:
        """After a task: the budgets it left at :data:`WARN_AT` or more (``None`` without budgets)."""
        limits = self._limits()
        if limits.per_user is None and limits.per_channel is None and limits.workspace is None:
            return None
        try:
            return (await self.standing(origin)).warning()
        except StoreUnavailable as error:
            log.warning("budget.unreadable", store=error.store, reason=error.reason)
            return None

    async def report(self, origin: Origin, *, admin: bool, top: int = 5) -> UsageReport:
        """The person's standing today and, for an ``admin``, the workspace's ``top`` users, channels and agents.

        Raises :class:`StoreUnavailable` when the counters cannot be read (the edge says so).
        """
        standing = await self.standing(origin)
        ranked = await self._counters.top(origin.workspace_id, limit=top) if admin else None
        return UsageReport(standing, ranked)
