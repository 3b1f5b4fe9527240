"""Rendering a task's events into Slack: where the answer goes and what happens when Slack says no.

:class:`ThreadDelivery` works in a thread and is a thin composition of two pieces, each testable
without Slack through the :class:`~bot.delivery.port.SlackPort` (in tests,
:class:`~bot.delivery.testing.FakeSlackPort`)::

    ThreadDelivery (thread.py)         routes agents.events to the two pieces
    ├── ProgressView (progress_view.py)  placeholder · assistant status · task cards' content
    └── AnswerStream (answer.py)         the answer: filtered, batched, capped, reset
        ├── SlackStream (stream.py)      start/append/stop; rate limits held, failures stopped
        ├── edit_answer_so_far (edits.py) chat.update fallback when it cannot stream
        └── FinalMessage (final.py)      final post: patience, plain text, private; file attachment
    ThreadMessage (message.py)         the one working message both pieces edit in place
    WebClientSlack (slack.py)          the port on slack_sdk: SlackApiError → SlackOutcome, once

:class:`PrivateDelivery` answers through a slash command's ``response_url`` when the bot cannot post in
the channel. Nothing here is the bot's own wording but the frame (placeholders, notes, the footer's
labels): every text and block sent passes the :class:`~bot.outfilter.OutputFilter`, and the streamed
answer a :class:`~bot.outfilter.StreamFilter`.
"""

from __future__ import annotations

from bot.delivery.private import PrivateDelivery
from bot.delivery.thread import ThreadDelivery

__all__ = ["PrivateDelivery", "ThreadDelivery"]
