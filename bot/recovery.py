"""Resuming, after a restart, the tasks a previous process accepted and did not finish.

Single-process mode only: with Redis, replicas share the work through the queue, which reassigns a dead
replica's tasks itself. A task is resumed at most ``max_attempts`` times in all; past that it is marked
failed and its thread is told so, with the request ID. Resumed tasks skip the rate limit (they passed it
when they were accepted).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import structlog
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.jobs import start_job
from bot.targets import Target, deliver, notify_bug

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.journal import TaskRecord
    from agents.orchestrator import Orchestrator

__all__ = ["resume_unfinished"]

log = structlog.get_logger(__name__)


async def resume_unfinished(
    orchestrator: Orchestrator, client: AsyncWebClient, *, region: str, max_attempts: int
) -> int:
    """Start a job for every unfinished task; return how many were resumed."""
    pending = await orchestrator.unfinished()
    if not pending:
        return 0
    bot_user_id: str | None = None
    try:
        bot_user_id = str((await client.auth_test()).get("user_id") or "") or None
    except SlackApiError as exc:
        log.warning("recovery.auth_failed", error=exc.response.get("error") if exc.response is not None else None)
    resumed = 0
    for record, task in pending:
        target = Target.from_json(record.target)
        if record.attempts >= max_attempts:
            await orchestrator.give_up(record, code="interrupted")
            await _tell_gave_up(client, record, target)
            continue
        slot = orchestrator.admission.resume(task.origin.user_key)
        log.info("task.resuming", request_id=task.request_id, attempts=record.attempts, status=record.status)
        start_job(
            orchestrator,
            deliver(
                orchestrator,
                client,
                task,
                target,
                region=region,
                bot_user_id=bot_user_id,
                resumed=record.attempts > 0,
            ),
            request_id=task.request_id,
            slot=slot,
            on_bug=functools.partial(notify_bug, client, task, target),
        )
        resumed += 1
    return resumed


async def _tell_gave_up(client: AsyncWebClient, record: TaskRecord, target: Target) -> None:
    text = (
        f":warning: Restarts interrupted this task {record.attempts} time(s), so I stopped trying.\n"
        f"Please ask again.\nRequest ID: `{record.request_id}`"
    )
    try:
        if target.thread_ts is not None and not target.private:
            await client.chat_postMessage(channel=target.channel, thread_ts=target.thread_ts, text=text)
        elif target.response_url:
            await AsyncRespond(response_url=target.response_url)(text=text, response_type="ephemeral")
    except SlackApiError as exc:
        log.warning("recovery.notice_failed", error=exc.response.get("error") if exc.response is not None else None)
