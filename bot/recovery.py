"""Running accepted tasks that this request did not start: after a restart, or from the shared queue.

Single process (SQLite): on start, the tasks a previous process accepted and did not finish are resumed,
at most ``max_attempts`` times in all; past that the task is marked failed and its thread is told so,
with the request ID. Several replicas (Redis): every replica consumes the shared queue, which hands a dead
replica's tasks to a live one and dead-letters a task delivered too often. Resumed tasks skip the rate
limit (they passed it when they were accepted).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.jobs import guarded, start_job
from bot.slack_client import slack_error
from bot.targets import Target, deliver, notify_bug

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.journal import TaskRecord
    from agents.orchestrator import Orchestrator
    from agents.stores import RedisTaskQueue

__all__ = ["Work", "resume_unfinished", "start_work"]

log = structlog.get_logger(__name__)


async def resume_unfinished(
    orchestrator: Orchestrator, client: AsyncWebClient, *, region: str, max_attempts: int
) -> int:
    """Start a job for every unfinished task; return how many were resumed."""
    pending = await orchestrator.unfinished()
    if not pending:
        return 0
    bot_user_id = await _bot_user_id(client)
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
                record=record,
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
        log.warning("recovery.notice_failed", error=slack_error(exc))


async def _bot_user_id(client: AsyncWebClient) -> str | None:
    try:
        return str((await client.auth_test()).get("user_id") or "") or None
    except SlackApiError as exc:
        log.warning("work.auth_failed", error=slack_error(exc))
        return None


@dataclass(slots=True)
class Work:
    """The background work a server runs besides answering Slack (the shared queue's consumer)."""

    queue: RedisTaskQueue | None = None
    consumer: asyncio.Task[None] | None = None

    async def stop(self, grace: float) -> None:
        """Let running queue tasks finish within ``grace``, then stop consuming (the rest is re-claimed)."""
        if self.queue is not None:
            await self.queue.wait_idle(grace)
            self.queue.stop()
        if self.consumer is not None:
            self.consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.consumer


async def start_work(orchestrator: Orchestrator, client: AsyncWebClient, *, region: str, max_attempts: int) -> Work:
    """Resume unfinished tasks (one process) or start consuming the shared queue (replicas)."""
    queue = orchestrator.queue
    if queue is None:
        resumed = await resume_unfinished(orchestrator, client, region=region, max_attempts=max_attempts)
        if resumed:
            log.info("recovery.resumed", tasks=resumed)
        return Work()
    bot_user_id = await _bot_user_id(client)

    async def handle(request_id: str, resumed: bool) -> None:
        loaded = await orchestrator.load(request_id)
        if loaded is None:
            log.info("queue.already_finished", request_id=request_id)
            return
        record, task = loaded
        target = Target.from_json(record.target)
        slot = orchestrator.admission.resume(task.origin.user_key)
        job = deliver(
            orchestrator,
            client,
            task,
            target,
            region=region,
            bot_user_id=bot_user_id,
            resumed=resumed or record.attempts > 0,
            record=record,
        )
        await guarded(job, request_id=request_id, slot=slot, on_bug=functools.partial(notify_bug, client, task, target))

    async def dead(request_id: str, deliveries: int) -> None:
        record = await orchestrator.journal.get(request_id)
        log.warning("queue.dead_letter", request_id=request_id, deliveries=deliveries)
        if record is not None:
            await orchestrator.give_up(record, code="dead_letter")
            await _tell_gave_up(client, record, Target.from_json(record.target))

    consumer = asyncio.create_task(queue.run(handle, dead), name="queue-consumer")
    log.info("queue.consuming", consumer=queue.consumer)
    return Work(queue=queue, consumer=consumer)
