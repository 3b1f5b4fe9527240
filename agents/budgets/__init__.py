"""Daily token budgets: counting tokens per person, channel, workspace and agent, and enforcing the limits.

:class:`TokenBudgets` is the counters' port (memory, SQLite in the journal's file, Redis shared by replicas);
:class:`BudgetGuard` checks the policy's limits before every model call and counts each call after it.
"""

from agents.budgets._day import BudgetDay
from agents.budgets._guard import (
    WARN_AT,
    BudgetGuard,
    BudgetLevel,
    BudgetStanding,
    BudgetWarning,
    Stage,
    UsageReport,
)
from agents.budgets._memory import MemoryTokenBudgets
from agents.budgets._port import Account, Spent, TokenBudgets, TopUsage
from agents.budgets._redis import RedisTokenBudgets
from agents.budgets._sqlite import SqliteTokenBudgets

__all__ = [
    "WARN_AT",
    "Account",
    "BudgetDay",
    "BudgetGuard",
    "BudgetLevel",
    "BudgetStanding",
    "BudgetWarning",
    "MemoryTokenBudgets",
    "RedisTokenBudgets",
    "Spent",
    "SqliteTokenBudgets",
    "Stage",
    "TokenBudgets",
    "TopUsage",
    "UsageReport",
]
