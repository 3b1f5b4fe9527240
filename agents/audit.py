"""Audit events: every policy decision and every approval decision, as one kind of log line.

An audit event is a structlog line named ``audit.<kind>`` with ``audit=True``, the person, the place, what
was asked, the decision and the rule (or reason) that decided, so one filter (``audit=true``) finds them
all in any log pipeline. Values pass the log redactor like every other line.
"""

from __future__ import annotations

from typing import Literal

import structlog

__all__ = ["audit"]

log = structlog.get_logger("orch.audit")


def audit(
    kind: str,
    *,
    user_id: str,
    channel_id: str,
    asked: str,
    decision: Literal["allowed", "denied", "approved", "rejected", "expired", "refused", "executed", "failed"],
    rule: str,
    request_id: str | None = None,
    **details: str | float | bool | None,
) -> None:
    """Log one audit event ``audit.<kind>`` (``policy``, ``approval``, ``action``…)."""
    event = f"audit.{kind}"  # structlog's event name, not a format string
    log.info(
        event,
        audit=True,
        user_id=user_id,
        channel_id=channel_id,
        asked=asked,
        decision=decision,
        rule=rule,
        **({"request_id": request_id} if request_id else {}),
        **details,
    )
