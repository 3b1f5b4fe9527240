"""Where a task's answer goes, stored with the task, and the job that delivers it.

Any process (after a restart, or another replica) can deliver a stored task.
A :class:`Target` is plain data, stored as JSON in the task's journal record. :func:`deliver` is the
background job for an accepted task: for a slash command it posts the visible parent once (and records
its thread, so a resumed task never posts a second parent), reads the thread's context and files when
the task was asked inside a thread, and renders the task's events there, or privately through the
command's ``response_url`` when the bot cannot post in the channel.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Literal

import structlog
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.delivery import PrivateDelivery, ThreadDelivery
from bot.jobs import start_job
from bot.messages import unexpected_failure
from bot.outfilter import OutputFilter
from bot.slack_client import slack_error
from bot.threads import shared_files, thread_context, thread_messages

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.admission import Slot
    from agents.journal import TaskRecord
    from agents.orchestrator import Orchestrator
    from agents.task import Task

__all__ = ["Target", "deliver", "notify_bug", "submit"]

log = structlog.get_logger(__name__)

# chat.postMessage errors meaning "the bot cannot post here", where a private answer is the way out.
_CANNOT_POST = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})
_QUOTE_LIMIT = 2_900


@dataclass(frozen=True, slots=True)
class Target:
    """Where the answer goes.

    ``kind``: ``command`` (a parent message is posted in ``channel``, its thread gets the answer; private
    through ``response_url`` if the bot cannot post), ``mention`` or ``dm`` (answer in ``thread_ts``).
    ``asked_in_thread`` means earlier messages of the thread are context. ``raw_text`` is the command
    as typed, for the parent message.
    """

    kind: Literal["command", "mention", "dm"]
    channel: str
    thread_ts: str | None = None
    response_url: str | None = None
    message_ts: str | None = None
    asked_in_thread: bool = False
    raw_text: str = ""
    private: bool = False

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Target:
        """Read the stored form back."""
        return cls(**json.loads(text))


def _quote(text: str) -> str:
    text = text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "…"
    return "\n".join(f">{line}" for line in text.splitlines() or [""])


async def notify_bug(client: AsyncWebClient, task: Task, target: Target) -> None:
    """Tell the user a bug stopped their task, with the request ID."""
    text, blocks = unexpected_failure(task.request_id)
    if target.private or (target.kind == "command" and target.thread_ts is None):
        await AsyncRespond(response_url=target.response_url)(text=text, blocks=blocks, response_type="ephemeral")
    elif target.kind == "dm" or target.thread_ts is not None:
        await client.chat_postMessage(channel=target.channel, thread_ts=target.thread_ts, text=text, blocks=blocks)


async def submit(
    orchestrator: Orchestrator,
    client: AsyncWebClient,
    task: Task,
    target: Target,
    slot: Slot,
    *,
    region: str,
    bot_user_id: str | None,
) -> None:
    """Journal an admitted task and queue it for any replica (Redis), or start it in this process."""
    queue = orchestrator.queue
    try:
        record = await orchestrator.accept(task, target=target.to_json())
    except BaseException:
        slot.release()
        raise
    if queue is not None:
        slot.release()  # the replica that runs it counts it
        return
    start_job(
        orchestrator,
        deliver(orchestrator, client, task, target, region=region, bot_user_id=bot_user_id, record=record),
        request_id=task.request_id,
        slot=slot,
        on_bug=functools.partial(notify_bug, client, task, target),
    )


async def deliver(
    orchestrator: Orchestrator,
    client: AsyncWebClient,
    task: Task,
    target: Target,
    *,
    region: str,
    bot_user_id: str | None,
    resumed: bool = False,
    record: TaskRecord | None = None,
) -> None:
    """Run ``task`` and show it at ``target`` (the job behind every accepted task).

    ``record`` is the task's journal record as the caller wrote or read it (saves reading it again).
    """
    if target.kind == "command" and not target.private and target.thread_ts is None:
        target, record = await _post_parent(orchestrator, client, task, target, record)
    clean = OutputFilter(orchestrator.redactor)
    if target.private:
        respond = AsyncRespond(response_url=target.response_url)
        await orchestrator.run(task, PrivateDelivery(respond, clean=clean, region=region), record=record)
        return
    if target.thread_ts is None:  # pragma: no cover - every non-private target has a thread by now
        raise ValueError("target has no thread")
    if resumed:
        await _say_resumed(client, target.channel, target.thread_ts, task.request_id)
    if target.asked_in_thread and not task.context:
        raw, unreadable = await thread_messages(client, channel=target.channel, thread_ts=target.thread_ts)
        if unreadable is not None:
            await _say_thread_unreadable(client, target, task, unreadable)
        history = thread_context(raw, exclude_ts=target.message_ts or "", bot_user_id=bot_user_id)
        task = task.model_copy(update={"context": history, "files": shared_files(raw) or task.files})
    delivery = ThreadDelivery(
        client,
        clean=clean,
        channel=target.channel,
        thread_ts=target.thread_ts,
        region=region,
        recipient_team_id=task.origin.workspace_id,
        recipient_user_id=task.origin.user_id,
        assistant_status=target.kind == "dm",
        # A command's parent message already shows the task and its request ID: a placeholder would cost two
        # Slack calls (post, then delete when the answer starts) for no news.
        placeholder=target.kind != "command",
    )
    await orchestrator.run(task, delivery, record=record)


async def _post_parent(
    orchestrator: Orchestrator, client: AsyncWebClient, task: Task, target: Target, record: TaskRecord | None
) -> tuple[Target, TaskRecord | None]:
    """The visible "@ana asked" message whose thread gets the answer; private answer if the bot cannot post.

    The mention of the asker is the bot's; what they typed is echoed through the output filter (before
    it is cut), so their ``<!channel>``, mentions, disguised links and secrets are not posted back live.
    """
    user = task.origin.user_id
    asked = OutputFilter(orchestrator.redactor)(target.raw_text)
    try:
        parent = await client.chat_postMessage(
            channel=target.channel,
            text=f"<@{user}> asked: {asked[:200]}",
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": f"<@{user}> asked:\n{_quote(asked)}"}},
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"Answer in the thread · `{task.request_id}`"}],
                },
            ],
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError as exc:
        error = slack_error(exc)
        if error not in _CANNOT_POST:
            raise
        log.info("slack.cannot_post_in_channel", error=error)
        await AsyncRespond(response_url=target.response_url)(
            text=(
                "I'm not a member of this channel, so I'll answer you privately here. "
                "To get answers in a thread everyone can see, invite me with `/invite @orch`.\n"
                f"Working on it… (`{task.request_id}`)"
            ),
            response_type="ephemeral",
        )
        target = replace(target, private=True)
    else:
        target = replace(target, thread_ts=str(parent["ts"]))
    # Stored by the run's first journal write, which follows at once: deliver runs the task next.
    record = await orchestrator.retarget(task.request_id, target.to_json(), record=record)
    return target, record


async def _say_thread_unreadable(client: AsyncWebClient, target: Target, task: Task, error: str) -> None:
    """Tell the asker, privately, that the answer cannot take the thread so far into account, and why."""
    if error == "missing_scope":
        why = "I don't have permission to read this conversation's history (an admin can add it from manifest.yml)"
    else:
        why = f"Slack would not give me this thread ({error})"
    try:
        await client.chat_postEphemeral(
            channel=target.channel,
            user=task.origin.user_id,
            thread_ts=target.thread_ts,
            text=f"{why}, so I'm answering from your message alone. Request ID: `{task.request_id}`",
        )
    except SlackApiError as exc:
        log.info("slack.unreadable_notice_failed", error=slack_error(exc))


async def _say_resumed(client: AsyncWebClient, channel: str, thread_ts: str, request_id: str) -> None:
    try:
        await client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=f":arrows_counterclockwise: I was restarted while working on this; picking it up (`{request_id}`).",
        )
    except SlackApiError as exc:
        log.info("slack.resume_notice_failed", error=slack_error(exc))
