"""The ``TokenBudgets`` port: tokens counted per person, channel, workspace and agent, per UTC day.

Backends: :class:`MemoryTokenBudgets` (the console, tests), :class:`SqliteTokenBudgets` (the embedded store,
in the journal's file) and :class:`RedisTokenBudgets` (shared by every replica). Each takes ``clock=`` (the
wall clock), so tests cross UTC midnight without sleeping. Counting is all they do: what the limits are, and
what happens past them, is :class:`~agents.budgets.BudgetGuard`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from agents.budgets._day import BudgetDay
    from agents.task import Origin

__all__ = ["Account", "Spent", "TokenBudgets", "TopUsage"]


@dataclass(frozen=True, slots=True)
class Account:
    """Whose tokens these are: one person, in one channel, of one workspace."""

    workspace_id: str
    user_id: str
    channel_id: str

    @classmethod
    def of(cls, origin: Origin) -> Account:
        """The account a task's tokens are counted under."""
        return cls(origin.workspace_id, origin.user_id, origin.channel_id)


@dataclass(frozen=True, slots=True)
class Spent:
    """Tokens counted today for an account, at each level, and the day they were counted in."""

    user: int
    channel: int
    workspace: int
    day: BudgetDay


@dataclass(frozen=True, slots=True)
class TopUsage:
    """A workspace's biggest users, channels and agents today: ``(name, tokens)``, most first."""

    users: tuple[tuple[str, int], ...]
    channels: tuple[tuple[str, int], ...]
    agents: tuple[tuple[str, int], ...]
    day: BudgetDay


class TokenBudgets(Protocol):
    """Today's token counters. Store failures raise :class:`~agents.errors.StoreUnavailable`."""

    async def add(self, account: Account, tokens: int, *, agent: str) -> None:
        """Count ``tokens`` for the account's person, channel and workspace, and for ``agent``, today."""
        ...

    async def spent(self, account: Account) -> Spent:
        """What the account's person, channel and workspace have used today."""
        ...

    async def top(self, workspace_id: str, *, limit: int) -> TopUsage:
        """The workspace's ``limit`` biggest users, channels and agents today."""
        ...
