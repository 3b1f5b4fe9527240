"""The record of every tool call a task made: the evidence behind its answer.

Each call the loop runs is kept as a :class:`RecordedCall`: the tool, its validated input, its output
(redacted, then cut to :data:`MAX_OUTPUT_CHARS`), how long it took and, when it failed, why. The records
travel on :class:`agents.events.ToolFinished` and are journalled with the task (same row or hash, so
retention follows the journal's); the orchestrator hands them out for audit, eval export and an
answer's sources. The edge never reads the journal for them. A runbook step's calls carry the step's id
and reach the journal on :class:`agents.events.ToolCallRecorded` (the run shows its steps, not their tools).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MAX_OUTPUT_CHARS", "RecordedCall", "bounded", "dump_calls", "load_calls", "redacted"]

#: How much of a tool's output is kept in its record (the model saw up to ``LoopLimits.max_result_chars``).
MAX_OUTPUT_CHARS = 4_000


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One tool call: ``input`` as validated (redacted), ``output`` redacted and bounded, ``error`` if it failed.

    ``step``: the runbook step that made the call (empty for an agent task's own calls).
    """

    tool: str
    source: str
    input: dict[str, Any]
    output: str
    seconds: float
    error: str | None = None
    step: str = ""

    @property
    def ok(self) -> bool:
        """Whether the data source answered."""
        return self.error is None


def bounded(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out (the text is already redacted)."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[cut: {limit:,} of {len(text):,} characters kept]"


def redacted(value: Any, redact: Callable[[str], str]) -> Any:
    """``value`` (JSON data) with every string passed through ``redact``."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redacted(item, redact) for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item, redact) for item in value]
    return value


def dump_calls(calls: tuple[RecordedCall, ...]) -> str:
    """The journal's form (JSON); empty when there were no calls. An empty ``step`` is left out."""
    return json.dumps([_as_json(call) for call in calls], ensure_ascii=False) if calls else ""


def _as_json(call: RecordedCall) -> dict[str, Any]:
    data = asdict(call)
    if not call.step:
        del data["step"]
    return data


def load_calls(text: str) -> tuple[RecordedCall, ...]:
    """Read :func:`dump_calls`'s form back."""
    if not text:
        return ()
    return tuple(RecordedCall(**item) for item in json.loads(text))
