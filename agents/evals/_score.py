"""Deterministic checks of one run of a case: facts present, tools called, claims absent, within budget."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from agents.evals._case import Expectations

__all__ = ["Check", "matches", "score_answer"]

_REGEX_PREFIX = "re:"


@dataclass(frozen=True, slots=True)
class Check:
    """The deterministic verdict on one run: ``problems`` lists each expectation it missed."""

    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """Whether every expectation held."""
        return not self.problems


def matches(pattern: str, text: str) -> bool:
    """Whether ``text`` contains ``pattern``, case-insensitively; ``re:…`` is a regular expression."""
    if pattern.startswith(_REGEX_PREFIX):
        return re.search(pattern[len(_REGEX_PREFIX) :], text, re.IGNORECASE) is not None
    return pattern.casefold() in text.casefold()


def score_answer(
    expect: Expectations,
    *,
    answer: str,
    tools_called: Iterable[str],
    model_calls: int,
    tokens: int,
    failure: str | None = None,
) -> Check:
    """Check one run's ``answer`` and what it took against ``expect``."""
    problems: list[str] = []
    if failure is not None:
        problems.append(f"the task failed: {failure}")
    problems += [f"missing fact {fact!r}" for fact in expect.facts if not matches(fact, answer)]
    called = set(tools_called)
    problems += [f"tool {tool} was not called" for tool in expect.tools if tool not in called]
    problems += [f"claims {claim!r}" for claim in expect.not_claims if matches(claim, answer)]
    if expect.max_model_calls is not None and model_calls > expect.max_model_calls:
        problems.append(f"{model_calls} model calls (at most {expect.max_model_calls})")
    if expect.max_tokens is not None and tokens > expect.max_tokens:
        problems.append(f"{tokens:,} tokens (at most {expect.max_tokens:,})")
    return Check(tuple(problems))
