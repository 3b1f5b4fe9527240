"""The few Slack operations delivering an answer needs, as a port: what the pieces call instead of slack_sdk.

The progress view and the answer stream speak to Slack only through :class:`SlackPort`. In production
that is :class:`~bot.delivery.slack.WebClientSlack` (slack_sdk's client, its ``SlackApiError`` translated
once); in tests it is :class:`~bot.delivery.testing.FakeSlackPort`, in memory. Every operation answers a
:class:`SlackOutcome` rather than raising: a refusal is an ordinary answer from Slack that each piece
decides about (wait, fall back, tell the user privately). Anything that is not Slack answering (a broken
connection) still raises, as it did before the port existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["DEFAULT_RETRY_AFTER", "RATELIMITED", "SlackOutcome", "SlackPort"]

#: Slack's error code for a call refused by its rate limits.
RATELIMITED = "ratelimited"
#: Seconds to wait when Slack rate-limits without (or with a zero) ``Retry-After``: its own are whole seconds.
DEFAULT_RETRY_AFTER = 1.0

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SlackOutcome:
    """What Slack answered: the message's ``ts`` when it took the call, else its ``error`` code.

    ``retry_after`` is set only for ``ratelimited``: the seconds Slack asked to wait (at least one).
    """

    ts: str | None = None
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        """Whether Slack took the call."""
        return self.error is None

    @classmethod
    def done(cls, ts: str | None = None) -> SlackOutcome:
        """Slack took the call (and answered ``ts`` for a message)."""
        return cls(ts=ts)

    @classmethod
    def refused(cls, error: str, *, retry_after: float | None = None) -> SlackOutcome:
        """Slack refused the call with ``error`` (``retry_after`` seconds to wait if rate limited)."""
        if error == RATELIMITED:
            return cls(error=error, retry_after=max(DEFAULT_RETRY_AFTER, retry_after or 0.0))
        return cls(error=error)


class SlackPort(Protocol):
    """Slack's Web API as far as a task's answer in a thread goes (``chat.*``, assistant status, files)."""

    async def post_message(
        self, *, channel: str, text: str, thread_ts: str | None = None, blocks: Sequence[Block] | None = None
    ) -> SlackOutcome:
        """``chat.postMessage``: a new message (in ``thread_ts`` when given)."""
        ...

    async def update_message(
        self, *, channel: str, ts: str, text: str, blocks: Sequence[Block] | None = None
    ) -> SlackOutcome:
        """``chat.update``: replace the text (and the blocks, when given: ``[]`` removes them)."""
        ...

    async def delete_message(self, *, channel: str, ts: str) -> SlackOutcome:
        """``chat.delete``."""
        ...

    async def post_ephemeral(self, *, channel: str, user: str, thread_ts: str, text: str) -> SlackOutcome:
        """``chat.postEphemeral``: a message only ``user`` sees."""
        ...

    async def set_status(self, *, channel: str, thread_ts: str, status: str) -> SlackOutcome:
        """``assistant.threads.setStatus``: the "is working on it…" line of an assistant thread."""
        ...

    async def start_stream(
        self,
        *,
        channel: str,
        thread_ts: str,
        markdown_text: str | None,
        recipient_team_id: str,
        recipient_user_id: str,
        chunks: Sequence[Block] | None = None,
        task_display_mode: str | None = None,
    ) -> SlackOutcome:
        """``chat.startStream``: a new streamed message whose ``ts`` the appends go to."""
        ...

    async def append_stream(
        self, *, channel: str, ts: str, markdown_text: str | None, chunks: Sequence[Block] | None = None
    ) -> SlackOutcome:
        """``chat.appendStream``: more text (and task chunks) for a streaming message."""
        ...

    async def stop_stream(
        self,
        *,
        channel: str,
        ts: str,
        markdown_text: str | None = None,
        blocks: Sequence[Block] | None = None,
        chunks: Sequence[Block] | None = None,
    ) -> SlackOutcome:
        """``chat.stopStream``: end the stream, with the last text, blocks and chunks."""
        ...

    async def upload(self, *, channel: str, thread_ts: str, content: str, filename: str, title: str) -> SlackOutcome:
        """``files_upload_v2``: a text file in the thread."""
        ...
