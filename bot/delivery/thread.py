"""A task's events rendered in a Slack thread: the progress view and the answer stream, put together.

:class:`ThreadDelivery` only routes the core's events (:mod:`agents.events`) to the two pieces and
decides where a step shows: as a task card in the streamed answer where Slack takes them
(:mod:`bot.delivery.answer`), as an italic line in the streamed answer, else as the placeholder or the
assistant status (:mod:`bot.delivery.progress_view`). The pieces reach Slack through
:class:`~bot.delivery.port.SlackPort`; here that is slack_sdk's client
(:class:`~bot.delivery.slack.WebClientSlack`) unless a port is given.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from slack_sdk.web.async_client import AsyncWebClient

from agents.events import (
    AgentRouted,
    AnswerDelta,
    AnswerReset,
    RunbookStarted,
    StepFinished,
    StepStarted,
    TaskFailed,
    TaskStarted,
    TaskSucceeded,
    TaskSuspended,
    ToolFinished,
    ToolStarted,
)
from bot.delivery.answer import AnswerStream
from bot.delivery.final import FinalMessage
from bot.delivery.message import ThreadMessage
from bot.delivery.progress_view import ProgressView
from bot.delivery.runbook import PLAN_DISPLAY_MODE, RunbookProgress
from bot.delivery.slack import WebClientSlack
from bot.delivery.stream import SlackStream
from bot.slack_budget import SlackBudget, workspace_budget

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agents.approvals import Approval
    from agents.events import TaskEvent
    from bot.delivery.port import SlackPort
    from bot.outfilter import OutputFilter

__all__ = ["ThreadDelivery"]


class ThreadDelivery:
    """Delivers one task's events into ``channel``/``thread_ts``, streaming the answer as it is written.

    Progress goes to a placeholder message (channels) or the assistant status (DMs). With
    ``placeholder=False`` (a slash command, whose visible parent message already names the task and its
    request ID) the placeholder is posted only when there is progress to show. The answer streams,
    batched to at most one append per ``flush_interval``, or less often when other answers stream in the
    same workspace (``budget``). The final message waits out Slack's rate limits (``answer_patience``),
    then goes to the requester privately. Everything sent passes ``clean``. ``client`` is slack_sdk's
    client or any :class:`~bot.delivery.port.SlackPort`.
    """

    def __init__(
        self,
        client: AsyncWebClient | SlackPort,
        *,
        clean: OutputFilter,
        channel: str,
        thread_ts: str,
        region: str,
        recipient_team_id: str,
        recipient_user_id: str,
        assistant_status: bool = False,
        placeholder: bool = True,
        flush_interval: float = 0.5,
        answer_patience: float = 120.0,
        budget: SlackBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        post_card: Callable[[Approval, str, str], Awaitable[None]] | None = None,
    ) -> None:
        # Posts an action card (approval, channel, thread) when the task waits for one.
        self._post_card = post_card
        self._where = (channel, thread_ts)
        slack: SlackPort = WebClientSlack(client) if isinstance(client, AsyncWebClient) else client
        budget = budget if budget is not None else workspace_budget(recipient_team_id)
        message = ThreadMessage(channel, thread_ts)
        self._progress = ProgressView(
            slack,
            message,
            clean=clean,
            region=region,
            assistant_status=assistant_status,
            placeholder=placeholder,
            clock=clock,
        )
        stream = SlackStream(
            slack,
            message,
            recipient=(recipient_team_id, recipient_user_id),
            budget=budget,
            patience=answer_patience,
            clock=clock,
            sleep=sleep,
        )
        final = FinalMessage(
            slack, message, clean=clean, user=recipient_user_id, patience=answer_patience, clock=clock, sleep=sleep
        )
        self._steps = RunbookProgress(slack, clean, channel, thread_ts, region)
        self._answer = AnswerStream(
            slack,
            message,
            stream=stream,
            final=final,
            clean=clean,
            budget=budget,
            flush_interval=flush_interval,
            clock=clock,
            on_streaming=self._progress.remove_placeholder,
            region=region,
        )

    async def emit(self, event: TaskEvent) -> None:
        """Show ``event`` in the thread."""
        if isinstance(event, TaskStarted):
            await self._progress.started()
        elif isinstance(event, AgentRouted):
            await self._progress.routed(event.routing.agent.name, event.task.request_id)
        elif isinstance(event, ToolStarted):
            await self._answer.end_turn()
            await self._tool_started(event)
        elif isinstance(event, ToolFinished):
            chunk = self._progress.card_finished(
                _tool_key(event.tool, event.source), ok=event.ok, seconds=event.seconds
            )
            if chunk is not None and self._answer.takes_cards and self._answer.streaming:
                await self._answer.card(chunk)
        elif isinstance(event, RunbookStarted | StepStarted | StepFinished):
            await self._step(event)
        elif isinstance(event, AnswerDelta):
            await self._answer.text(event.text)
        elif isinstance(event, AnswerReset):
            await self._answer.reset(event.text)
        elif isinstance(event, TaskSucceeded | TaskFailed | TaskSuspended):
            await self._end(event)

    async def _end(self, event: TaskSucceeded | TaskFailed | TaskSuspended) -> None:
        """The run is over (answered, failed, or waiting for a decision): the answer's message is finished."""
        try:
            if isinstance(event, TaskSucceeded):
                await self._answer.succeed(event)
            elif isinstance(event, TaskFailed):
                await self._answer.fail(event)
            else:
                await self._answer.pause(event)
                if event.approval is not None and self._post_card is not None:
                    await self._post_card(event.approval, *self._where)
            if self._steps.steps and not isinstance(event, TaskSuspended):
                await self._steps.attach_outputs(event.task.request_id)
        finally:
            self._answer.done()

    async def _step(self, event: RunbookStarted | StepStarted | StepFinished) -> None:
        """A runbook's step: a card in the plan where Slack takes them, else the checklist message."""
        steps, answer = self._steps, self._answer
        if isinstance(event, RunbookStarted):
            chunks = steps.begin(event)
            if answer.takes_cards:
                await answer.cards(chunks, display_mode=PLAN_DISPLAY_MODE)
        else:
            chunk = steps.started(event) if isinstance(event, StepStarted) else steps.finished(event)
            if chunk is not None and answer.takes_cards:
                await answer.card(chunk)
        if not answer.shows_cards:
            await steps.show_checklist()

    async def _tool_started(self, event: ToolStarted) -> None:
        answer = self._answer
        if answer.takes_cards:
            await answer.card(
                self._progress.card_started(_tool_key(event.tool, event.source), event.progress, source=event.source)
            )
            if answer.shows_cards:
                return
        if answer.takes_notes:
            self._progress.remember(event.progress)
            await answer.note(event.progress)
        else:
            await self._progress.show(event.progress, in_message=not answer.streaming)


def _tool_key(tool: str, source: str) -> str:
    return f"{tool}\x00{source}"
