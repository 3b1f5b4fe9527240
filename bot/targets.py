"""Where a task's answer goes, stored with the task, and the Slack edge the core renders through.

Any process (after a restart, or another replica) can render a stored task.
A :class:`Target` is plain data, stored as JSON in the task's journal record. :class:`SlackEdge` is what
the core's lifecycle asks for each run: for a slash command it posts the visible parent once (the new
target, with its thread, is stored with the run, so a resumed task never posts a second parent), reads
the thread's context and files when the task was asked inside a thread, and renders the task's events
there, or privately through the command's ``response_url`` when the bot cannot post in the channel. It
also tells a person when a bug stopped their task, or when the core gave it up.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Literal

import structlog
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError

from agents.lifecycle import Rendering
from bot.delivery import PrivateDelivery, ThreadDelivery
from bot.messages import unexpected_failure
from bot.outfilter import OutputFilter
from bot.slack_client import slack_error
from bot.threads import shared_files, thread_context, thread_messages

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.approvals import Approval
    from agents.attempts import GiveUp
    from agents.lifecycle import TaskRecord
    from agents.redaction import Redactor
    from agents.task import Task
    from bot.approvals import SlackApprovalCards

__all__ = ["SlackEdge", "Target"]

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
    as typed, for the parent message. ``bot_user_id`` is the bot's own user, left out of thread context.
    """

    kind: Literal["command", "mention", "dm"]
    channel: str
    thread_ts: str | None = None
    response_url: str | None = None
    message_ts: str | None = None
    asked_in_thread: bool = False
    raw_text: str = ""
    private: bool = False
    bot_user_id: str | None = None

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


class SlackEdge:
    """The core's :class:`~agents.lifecycle.Edge` in Slack: renders tasks in threads, tells people bad news."""

    def __init__(
        self, client: AsyncWebClient, *, redactor: Redactor, region: str, cards: SlackApprovalCards | None = None
    ) -> None:
        self._cards = cards
        self._client = client
        self._redactor = redactor
        self._region = region

    async def open(self, task: Task, target: str, *, resumed: bool) -> Rendering:
        """Post the command's parent (once), read the thread if asked in one, and render there."""
        where = Target.from_json(target)
        posted = where.kind == "command" and not where.private and where.thread_ts is None
        if posted:
            where = await self._post_parent(task, where)
        moved = where.to_json() if posted else None
        clean = OutputFilter(self._redactor)
        if where.private:
            respond = AsyncRespond(response_url=where.response_url)
            return Rendering(PrivateDelivery(respond, clean=clean, region=self._region), target=moved)
        if where.thread_ts is None:  # pragma: no cover - every non-private target has a thread by now
            raise ValueError("target has no thread")
        client = self._client
        if resumed:
            await _say_resumed(client, where.channel, where.thread_ts, task.request_id)
        read: Task | None = None
        if where.asked_in_thread and not task.context:
            raw, unreadable = await thread_messages(client, channel=where.channel, thread_ts=where.thread_ts)
            if unreadable is not None:
                await _say_thread_unreadable(client, where, task, unreadable)
            history = thread_context(raw, exclude_ts=where.message_ts or "", bot_user_id=where.bot_user_id)
            read = task.model_copy(update={"context": history, "files": shared_files(raw) or task.files})
        delivery = ThreadDelivery(
            client,
            clean=clean,
            channel=where.channel,
            thread_ts=where.thread_ts,
            region=self._region,
            recipient_team_id=task.origin.workspace_id,
            recipient_user_id=task.origin.user_id,
            assistant_status=where.kind == "dm",
            # A command's parent message already shows the task and its request ID: a placeholder would cost
            # two Slack calls (post, then delete when the answer starts) for no news.
            placeholder=where.kind != "command",
            post_card=self._post_card if self._cards is not None else None,
        )
        return Rendering(delivery, task=read, target=moved)

    async def _post_card(self, approval: Approval, channel: str, thread_ts: str) -> None:
        if self._cards is not None:
            await self._cards.post(approval, channel=channel, thread_ts=thread_ts)

    async def show_approval(self, approval: Approval) -> None:
        """Update an approval's card (the core's :class:`~agents.approvals.ApprovalCards`)."""
        if self._cards is not None:
            await self._cards.show_approval(approval)

    async def report_bug(self, task: Task, target: str) -> None:
        """Tell the user a bug stopped their task, with the request ID."""
        where = Target.from_json(target)
        text, blocks = unexpected_failure(task.request_id)
        if where.private or (where.kind == "command" and where.thread_ts is None):
            await AsyncRespond(response_url=where.response_url)(text=text, blocks=blocks, response_type="ephemeral")
        elif where.kind == "dm" or where.thread_ts is not None:
            await self._client.chat_postMessage(
                channel=where.channel, thread_ts=where.thread_ts, text=text, blocks=blocks
            )

    async def report_given_up(self, record: TaskRecord, give_up: GiveUp) -> None:
        """Tell the user their task was given up, why, and the request ID (in its thread, else privately)."""
        where = Target.from_json(record.target)
        if give_up.reason == "unrecoverable":
            why = "After a restart I could not read this task back (it was saved by another version), so I stopped."
        else:
            why = f"Restarts interrupted this task {give_up.attempts} time(s), so I stopped trying."
        text = f":warning: {why}\nPlease ask again.\nRequest ID: `{record.request_id}`"
        try:
            if where.thread_ts is not None and not where.private:
                await self._client.chat_postMessage(channel=where.channel, thread_ts=where.thread_ts, text=text)
            elif where.response_url:
                await AsyncRespond(response_url=where.response_url)(text=text, response_type="ephemeral")
        except SlackApiError as exc:
            log.warning("recovery.notice_failed", error=slack_error(exc))

    async def _post_parent(self, task: Task, target: Target) -> Target:
        """The visible "@ana asked" message whose thread gets the answer; private answer if the bot cannot post.

        The mention of the asker is the bot's; what they typed is echoed through the output filter (before
        it is cut), so their ``<!channel>``, mentions, disguised links and secrets are not posted back live.
        """
        user = task.origin.user_id
        asked = OutputFilter(self._redactor)(target.raw_text)
        try:
            parent = await self._client.chat_postMessage(
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
        return target


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
