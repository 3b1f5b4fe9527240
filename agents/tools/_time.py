"""Time windows as the model asks for them, and timestamps as the model reads them.

Models phrase time both ways, "the last 60 minutes" and "since 14:00"; accepting ``minutes`` as well as ISO
``start``/``end`` (with a sensible default window per tool) saves a round trip of validation errors. Output
timestamps are ISO 8601 strings in UTC, which models read reliably, unlike epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pydantic import Field

from agents.errors import ToolFailed
from agents.tools._params import ToolInput

__all__ = ["Window", "WindowInput", "from_epoch_ms", "iso", "utc_now", "utc_today"]


def utc_now() -> datetime:
    """The current time in UTC (the production clock tools are built with)."""
    return datetime.now(UTC)


def utc_today() -> date:
    """Today's date in UTC (the production calendar tools are built with)."""
    return datetime.now(UTC).date()


def iso(value: datetime | None) -> str | None:
    """``value`` as an ISO 8601 UTC string to the second, e.g. ``2026-03-01T14:05:00Z``."""
    if value is None:
        return None
    return _aware(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_epoch_ms(value: int | None) -> datetime | None:
    """A UTC datetime from epoch milliseconds, as CloudWatch Logs reports time."""
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """A closed time interval in UTC."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        """The window's length in seconds."""
        return (self.end - self.start).total_seconds()

    def as_dict(self) -> dict[str, str | None]:
        """``{"start": …, "end": …}`` as ISO strings, to echo back what was queried."""
        return {"start": iso(self.start), "end": iso(self.end)}


class WindowInput(ToolInput):
    """Input fields for a time window; tools that take one subclass this."""

    # Tersely described: these fields ride on every call of every windowed tool (the format says ISO 8601).
    minutes: int | None = Field(default=None, ge=1, description="Window back from end; default 60.")
    start: datetime | None = Field(default=None, description="Overrides minutes.")
    end: datetime | None = Field(default=None, description="Default: now.")

    def window(self, *, now: datetime, default_minutes: int, max_minutes: int, source: str) -> Window:
        """The window asked for, or the last ``default_minutes``; ToolFailed if empty or too long."""
        end = _aware(self.end) if self.end is not None else now
        if self.start is not None:
            start = _aware(self.start)
        else:
            start = end - timedelta(minutes=self.minutes or default_minutes)
        if start >= end:
            raise ToolFailed(source=source, reason=f"start {iso(start)} is not before end {iso(end)}")
        if end - start > timedelta(minutes=max_minutes):
            raise ToolFailed(
                source=source,
                reason=f"the window is longer than {_duration(max_minutes)}: ask for a shorter one",
            )
        return Window(start, end)


def _aware(value: datetime) -> datetime:
    # A timestamp without an offset is read as UTC, the only zone the tools speak.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _duration(minutes: int) -> str:
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)} days"
    if minutes % 60 == 0:
        return f"{minutes // 60} hours"
    return f"{minutes} minutes"
