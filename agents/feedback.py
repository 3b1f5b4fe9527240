"""What people thought of an answer: one rating per person and task, the latest click winning.

Chat surfaces let people rate an answer (Slack's feedback buttons toggle, and send no "un-click"), so a
task keeps, per person, only the rating given last, by the time the person gave it: a click that arrives
late (two replicas, a retried delivery) never overwrites a newer one. A 👎 may carry a short "what was
wrong?" text, redacted before it is stored, which ``orch-bot eval export`` turns into an expectation.

The edge passes only ids it read from the platform's signed payload (the request ID from the button,
the clicker, the workspace and channel of the message): :func:`check_feedback` holds them against the
journal's record of the task, so a button value naming another workspace's or channel's task, or none,
is refused (and logged), never stored. Counts per agent and model feed the App Home, ``usage`` and the
``orch_feedback_total`` metric.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from agents.task import REQUEST_ID_PATTERN

if TYPE_CHECKING:
    from agents.journal import TaskRecord

__all__ = [
    "MAX_FEEDBACK_TEXT",
    "Feedback",
    "FeedbackCount",
    "FeedbackRefused",
    "Rating",
    "check_feedback",
    "is_request_id",
    "tally",
]

Rating = Literal["up", "down"]
#: Characters of a "what was wrong?" text kept (the modal takes no more either).
MAX_FEEDBACK_TEXT = 2_000
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


@dataclass(frozen=True, slots=True)
class Feedback:
    """One person's rating of one task's answer, as last given.

    ``at`` is when the person gave it (wall-clock seconds; the platform's time of the click), which
    decides which of two ratings is the latest. ``agent`` and ``model_id`` are the task's, copied so
    counts need no join; ``text`` is the redacted "what was wrong?" (empty when none was given).
    """

    request_id: str
    user_id: str
    rating: Rating
    at: float
    workspace_id: str
    agent: str = ""
    model_id: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True)
class FeedbackCount:
    """Ratings of one agent and model's answers: the latest rating of each person and task."""

    agent: str
    model_id: str
    up: int = 0
    down: int = 0


@dataclass(frozen=True, slots=True)
class FeedbackRefused:
    """A rating that was not stored, and why (for the log; the person is not told about a forged click)."""

    reason: Literal["malformed_request_id", "unknown_task", "other_workspace", "other_channel", "not_finished"]


def is_request_id(value: str) -> bool:
    """Whether ``value`` has a request ID's shape (a forged value is refused before any store is asked)."""
    return _REQUEST_ID.fullmatch(value) is not None


def check_feedback(
    record: TaskRecord | None, request_id: str, *, workspace_id: str, channel_id: str
) -> FeedbackRefused | None:
    """Why a rating of ``request_id`` from ``workspace_id``/``channel_id`` must be refused, if it must.

    Only an answered task can be rated: the buttons are on its final message, so a rating for a task
    still running (or failed) did not come from them.
    """
    if not is_request_id(request_id):
        return FeedbackRefused("malformed_request_id")
    if record is None:
        return FeedbackRefused("unknown_task")
    if record.workspace_id != workspace_id:
        return FeedbackRefused("other_workspace")
    if record.channel_id != channel_id:
        return FeedbackRefused("other_channel")
    if record.status != "succeeded":
        return FeedbackRefused("not_finished")
    return None


def tally(ratings: list[Feedback]) -> list[FeedbackCount]:
    """Count ``ratings`` per agent and model, most rated first (then by name, for a stable order)."""
    counts: dict[tuple[str, str], list[int]] = {}
    for rating in ratings:
        pair = counts.setdefault((rating.agent, rating.model_id), [0, 0])
        pair[0 if rating.rating == "up" else 1] += 1
    ordered = sorted(counts.items(), key=lambda item: (-sum(item[1]), item[0]))
    return [FeedbackCount(agent, model, up, down) for (agent, model), (up, down) in ordered]
