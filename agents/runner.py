"""Running one admitted task: route it, ask the model, publish what happened.

:class:`TaskError` is the runner's vocabulary for failure: it is published as :class:`TaskFailed`.
Anything else is a bug and propagates to the edge's outermost handler.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

from agents.errors import TaskError
from agents.events import AgentRouted, TaskFailed, TaskResult, TaskStarted, TaskSucceeded
from agents.llm import ChatMessage, ModelRequest

if TYPE_CHECKING:
    from collections.abc import Callable

    from agents.catalog import AgentSpec
    from agents.events import EventSink
    from agents.llm import ChatModel
    from agents.router import Router
    from agents.task import Task

__all__ = ["TaskRunner"]

log = structlog.get_logger(__name__)


class TaskRunner:
    """Turns a :class:`Task` into events on a sink."""

    def __init__(
        self,
        *,
        router: Router,
        model: ChatModel,
        default_model_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._router = router
        self._model = model
        self._default_model_id = default_model_id
        self._clock = clock

    async def run(self, task: Task, sink: EventSink) -> None:
        """Run ``task`` to completion, publishing started, routed, and succeeded or failed."""
        started = self._clock()
        await sink.emit(TaskStarted(task))
        try:
            routing = await self._router.route(task)
            await sink.emit(AgentRouted(task, routing))
            request = self._request(task, routing.agent)
            reply = await self._model.converse(request)
        except TaskError as error:
            seconds = self._clock() - started
            log.warning("task.failed", error_code=error.code, seconds=round(seconds, 3))
            await sink.emit(TaskFailed(task, error, seconds))
            return
        result = TaskResult(
            text=reply.text,
            agent=routing.agent.name,
            routing_reason=routing.reason,
            model_id=reply.model_id,
            usage=reply.usage,
            seconds=self._clock() - started,
            attempts=reply.attempts,
        )
        log.info(
            "task.succeeded",
            agent=result.agent,
            seconds=round(result.seconds, 3),
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            attempts=result.attempts,
        )
        await sink.emit(TaskSucceeded(task, result))

    def _request(self, task: Task, agent: AgentSpec) -> ModelRequest:
        return ModelRequest(
            model_id=agent.model_id or self._default_model_id,
            system=agent.system_prompt,
            messages=(ChatMessage("user", _user_turn(task)),),
        )


def _user_turn(task: Task) -> str:
    """The task, preceded by the thread so far as clearly delimited, untrusted data."""
    if not task.context:
        return task.text
    lines = [f"[{message.author}] {message.text}" for message in task.context]
    context = "\n".join(lines).replace("</thread_context>", "</ thread_context>")
    return f"<thread_context>\n{context}\n</thread_context>\n\n{task.text}"
