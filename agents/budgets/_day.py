"""The budget day: budgets count tokens per UTC day, so everyone's day ends at the same instant.

A UTC day is the same for every replica and every person, whatever their time zone; the edge shows its end
in each person's local time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["BudgetDay"]

_DAY_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class BudgetDay:
    """One UTC day: its key (``2026-11-03``) and the wall-clock time it ends (the next UTC midnight)."""

    key: str
    resets_at: float

    @classmethod
    def at(cls, now: float) -> BudgetDay:
        """The UTC day that the wall-clock time ``now`` (seconds since the epoch) falls in."""
        # POSIX time has no leap seconds: every UTC day is exactly 86,400 seconds, starting at a multiple of it.
        start = now - now % _DAY_SECONDS
        return cls(key=time.strftime("%Y-%m-%d", time.gmtime(start)), resets_at=start + _DAY_SECONDS)
