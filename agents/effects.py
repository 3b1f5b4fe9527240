"""Write effects are never repeated: each is recorded under an idempotency key before and after it runs.

A tool whose ``effect`` is ``write`` changes something outside the bot. A task may run again after a
restart, a crash or a redelivery from the shared queue; the agent loop then continues from its last
checkpoint with the same tool calls, so the same call has the same key (request ID + the model's tool call
ID + a hash of the input). Before the tool runs, the ledger gets ``started``; after, ``done`` with the result.
On the next run:

- ``done``: the recorded result is given to the model again; the tool is not called.
- ``started`` only: the process died while the tool may have been running. Whether it took effect is
  unknown, so it is not run again; the model is told the action was interrupted and must not be assumed
  to have happened (at most once, never twice).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = ["INTERRUPTED_RESULT", "Effect", "EffectLedger", "canonical", "idempotency_key", "params_hash"]

INTERRUPTED_RESULT = (
    "This action was interrupted by a restart while it was running. It was not run again, and whether it "
    "took effect is unknown: say so, and do not claim it succeeded."
)


@dataclass(frozen=True, slots=True)
class Effect:
    """One write effect's ledger entry: ``started`` before the tool runs, ``done`` (with its result) after."""

    key: str
    request_id: str
    state: Literal["started", "done"]
    ok: bool = True
    result: str = ""


class EffectLedger(Protocol):
    """Where effects are recorded (every task journal is one)."""

    async def effect(self, key: str) -> Effect | None:
        """The entry recorded under ``key``."""
        ...

    async def put_effect(self, effect: Effect) -> None:
        """Record ``effect`` durably."""
        ...


def canonical(arguments: Any) -> str:
    """A tool call's input as canonical JSON (sorted keys, no spaces): what effects and approvals hash."""
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def params_hash(arguments: Any) -> str:
    """SHA-256 of :func:`canonical` ``arguments``, in hex."""
    return hashlib.sha256(canonical(arguments).encode()).hexdigest()


def idempotency_key(request_id: str, call_id: str, arguments: dict[str, Any]) -> str:
    """``request ID:call ID:hash of the input`` (the first 16 hex digits of :func:`params_hash`)."""
    return f"{request_id}:{call_id}:{params_hash(arguments)[:16]}"
