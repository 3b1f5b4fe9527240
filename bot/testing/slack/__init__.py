"""A fake of Slack's Web API and Socket Mode that the real slack_sdk / slack_bolt clients talk to over HTTP.

Why it exists: mocking ``AsyncWebClient`` in-process tests our assumptions about Slack instead of the
code that breaks in production: slack_sdk's request encoding (JSON for ``chat.*``, form and query
strings elsewhere), its retry handlers reacting to HTTP 429 + ``Retry-After``, the three-step
``files_upload_v2`` dance, response_url posts, and the Socket Mode handshake, pings and acks. This
package runs a real aiohttp server on 127.0.0.1 that speaks those wire protocols, so the bot runs
unchanged with ``base_url`` pointed at :attr:`FakeSlack.base_url`.

Every Web API request is recorded as a :class:`SlackCall` (O(1) append, indexed by method) and tests
wait on them with :meth:`FakeSlack.wait_for`, which is woken by the request itself, never by polling.
Slack's failure modes are injectable: :meth:`FakeSlack.fail_next`, :meth:`FakeSlack.rate_limit_next`,
:attr:`FakeSlack.not_in_channel`, :meth:`FakeSlack.expire_stream`, :meth:`FakeSlack.disconnect_sockets`.
Block Kit limits are enforced the way Slack enforces them (``invalid_blocks``), so a renderer that
overflows a limit fails here rather than in a customer's workspace. So are Slack's rate limits
(:class:`RateLimits`: each method's tier per workspace and minute, ``chat.postMessage`` about one a second
per channel, HTTP 429 with ``Retry-After``), the streaming rules (``chat.update`` on a message that is
still streaming answers ``streaming_state_conflict``) and the shape of stream ``chunks``.

The package also builds the inbound side (signed slash-command forms, Events API envelopes) exactly as
Slack sends them, for tests that drive the bot's HTTP endpoints.

Each part is a module of its own, extending :class:`~bot.testing.slack.api.SlackApi` (the server, recording,
failure injection, tokens and scopes): ``messages``, ``streams``, ``files``, ``surfaces`` (response URLs,
App Home, prompts, users), ``views`` (modals), ``socket_mode``; ``blocks`` and ``ratelimits`` hold Slack's limits, and
``inbound`` and ``interactions`` build what Slack sends. :class:`FakeSlack` puts the parts together.
"""

from bot.testing.slack.api import APP_ID, SCOPES, SlackCall
from bot.testing.slack.fake import FakeSlack
from bot.testing.slack.inbound import (
    app_mention_event,
    dm_message_event,
    event_callback,
    sign_request,
    slash_command_form,
)
from bot.testing.slack.interactions import block_actions, interaction_body, view_submission
from bot.testing.slack.ratelimits import METHOD_TIERS, RateLimits

__all__ = [
    "APP_ID",
    "METHOD_TIERS",
    "SCOPES",
    "FakeSlack",
    "RateLimits",
    "SlackCall",
    "app_mention_event",
    "block_actions",
    "dm_message_event",
    "event_callback",
    "interaction_body",
    "sign_request",
    "slash_command_form",
    "view_submission",
]
