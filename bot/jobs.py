"""Background work started by listeners, with the edge's one catch-all around it.

Listeners answer Slack fast and hand the slow part (posting, the model, delivery) to a job here. A job
that fails with a bug still leaves the user a message with the request ID, and the log gets the
error's type without a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine
    from typing import Any

    from agents.admission import Slot
    from agents.orchestrator import Orchestrator

__all__ = ["guarded", "start_job"]

log = structlog.get_logger(__name__)


async def guarded(
    job: Coroutine[Any, Any, None], *, request_id: str, slot: Slot, on_bug: Callable[[], Awaitable[None]]
) -> None:
    """Await ``job`` holding ``slot``; if it crashes, tell the user (the edge's outermost handler)."""
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        await job
    except Exception as exc:  # noqa: BLE001 - the edge's outermost handler: report, never crash
        log.error("task.crashed", error_type=type(exc).__name__)  # noqa: TRY400 - no tracebacks in logs
        try:
            await on_bug()
        except Exception as again:  # noqa: BLE001 - telling the user failed too; the log is all that is left
            log.error("task.crash_report_failed", error_type=type(again).__name__)  # noqa: TRY400
    finally:
        slot.release()


def start_job(
    orchestrator: Orchestrator,
    job: Coroutine[Any, Any, None],
    *,
    request_id: str,
    slot: Slot,
    on_bug: Callable[[], Awaitable[None]],
) -> None:
    """Run ``job`` in the background, holding ``slot`` until it ends, telling the user if it crashes."""
    orchestrator.spawn(guarded(job, request_id=request_id, slot=slot, on_bug=on_bug), name=request_id)
