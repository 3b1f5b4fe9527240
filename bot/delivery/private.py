"""A task's answer through a slash command's ``response_url``, for when the bot cannot post in the channel.

The answer carries the feedback buttons as in a thread (an ephemeral message can take them); if Slack
refuses them, it is sent again with plain buttons instead, which costs one of the URL's five posts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.events import TaskFailed, TaskSucceeded
from bot.delivery.answer import filtered
from bot.delivery.feedback import feedback_block, with_plain_buttons
from bot.messages import failure_blocks
from bot.render import render_answer

if TYPE_CHECKING:
    from slack_bolt.context.respond.async_respond import AsyncRespond

    from agents.events import TaskEvent
    from bot.outfilter import OutputFilter

__all__ = ["PrivateDelivery"]

_REFUSED = 400  # a response_url's answer to blocks it does not take (``invalid_blocks``)


class PrivateDelivery:
    """Delivers the result privately through a slash command's ``response_url``."""

    def __init__(self, respond: AsyncRespond, *, clean: OutputFilter, region: str) -> None:
        self._respond = respond
        self._clean = clean
        self._region = region

    async def emit(self, event: TaskEvent) -> None:
        """Send the final result (progress is not worth one of the five posts a response_url allows)."""
        if isinstance(event, TaskSucceeded):
            request_id = event.task.request_id
            answer = render_answer(filtered(event.result, self._clean), request_id, can_attach=False)
            text, blocks = self._clean.message(answer.text, [*answer.blocks, feedback_block(request_id)])
            response = await self._respond(text=text, blocks=blocks, response_type="ephemeral")
            plain = with_plain_buttons(blocks)
            if response.status_code == _REFUSED and plain is not None:
                await self._respond(text=text, blocks=plain, response_type="ephemeral")
        elif isinstance(event, TaskFailed):
            text, blocks = self._clean.message(*failure_blocks(event.error, event.task.request_id, region=self._region))
            await self._respond(text=text, blocks=blocks, response_type="ephemeral")
