"""What users read: why a task failed, and the list of their tasks."""

from __future__ import annotations

from typing import get_args

import pytest

from agents.errors import LLMThrottled, LLMUnavailable
from agents.journal import Status, TaskRecord
from agents.redaction import Redactor
from bot.home import history_blocks, status_icon
from bot.messages import describe_failure
from bot.outfilter import OutputFilter


@pytest.mark.parametrize(("attempts", "said"), [(1, "I tried once."), (2, "I tried 2 times."), (4, "I tried 4 times.")])
def test_the_number_of_tries_reads_as_english(attempts: int, said: str) -> None:
    """One try is "once", never "1 times"."""
    headline, _ = describe_failure(LLMUnavailable(attempts=attempts, last=LLMThrottled("slow down")))
    assert headline.endswith(said)


@pytest.mark.parametrize("status", list(get_args(Status)))
def test_history_lists_a_task_in_every_status(status: Status) -> None:
    """Queued and interrupted tasks (common with workers and restarts) are listed, not a KeyError."""
    record = TaskRecord(
        request_id="req-0123456789ab", workspace_id="T1", user_id="U1", text="why", started_at=0.0, status=status
    )
    text, _ = history_blocks([record], everyone=False, clean=OutputFilter(Redactor()))
    assert "`req-0123456789ab`" in text
    assert status_icon(status) in text
