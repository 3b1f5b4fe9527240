"""A task's answer through a slash command's ``response_url``, for when the bot cannot post in the channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.events import TaskFailed, TaskSucceeded
from bot.delivery.answer import filtered
from bot.messages import failure_blocks
from bot.render import render_answer

if TYPE_CHECKING:
    from slack_bolt.context.respond.async_respond import AsyncRespond

    from agents.events import TaskEvent
    from bot.outfilter import OutputFilter

__all__ = ["PrivateDelivery"]


class PrivateDelivery:
    """Delivers the result privately through a slash command's ``response_url``."""

    def __init__(self, respond: AsyncRespond, *, clean: OutputFilter, region: str) -> None:
        self._respond = respond
        self._clean = clean
        self._region = region

    async def emit(self, event: TaskEvent) -> None:
        """Send the final result (progress is not worth one of the five posts a response_url allows)."""
        if isinstance(event, TaskSucceeded):
            answer = render_answer(filtered(event.result, self._clean), event.task.request_id, can_attach=False)
            text, blocks = self._clean.message(answer.text, answer.blocks)
            await self._respond(text=text, blocks=blocks, response_type="ephemeral")
        elif isinstance(event, TaskFailed):
            text, blocks = self._clean.message(*failure_blocks(event.error, event.task.request_id, region=self._region))
            await self._respond(text=text, blocks=blocks, response_type="ephemeral")
