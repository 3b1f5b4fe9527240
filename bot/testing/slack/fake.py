"""The whole fake Slack: every part of the Web API, response URLs, files and Socket Mode on one server."""

from __future__ import annotations

from bot.testing.slack.files import SlackFiles
from bot.testing.slack.socket_mode import SlackSocketMode
from bot.testing.slack.streams import SlackStreams
from bot.testing.slack.surfaces import SlackSurfaces
from bot.testing.slack.views import SlackViews

__all__ = ["FakeSlack"]


class FakeSlack(SlackSocketMode, SlackFiles, SlackStreams, SlackSurfaces, SlackViews):
    """A local Slack (Web API, response_urls, file uploads, Socket Mode) on a free 127.0.0.1 port.

    Use as ``async with FakeSlack() as slack:`` and point clients at :attr:`base_url`. State is public
    so tests can seed and inspect it: :attr:`threads`, :attr:`not_in_channel`, :attr:`uploaded_files`,
    :attr:`files`, :attr:`users`.

    Its constructor is :class:`~bot.testing.slack.api.SlackApi`'s: the tokens and ids it answers for, the
    :class:`~bot.testing.slack.ratelimits.RateLimits` it enforces, and its clock.
    """
