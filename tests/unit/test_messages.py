"""What users read when a task fails."""

from __future__ import annotations

import pytest

from agents.errors import LLMThrottled, LLMUnavailable
from bot.messages import describe_failure


@pytest.mark.parametrize(("attempts", "said"), [(1, "I tried once."), (2, "I tried 2 times."), (4, "I tried 4 times.")])
def test_the_number_of_tries_reads_as_english(attempts: int, said: str) -> None:
    """One try is "once", never "1 times"."""
    headline, _ = describe_failure(LLMUnavailable(attempts=attempts, last=LLMThrottled("slow down")))
    assert headline.endswith(said)
