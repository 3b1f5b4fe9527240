"""FakeSlack driven by the real slack_sdk clients, to prove the fake speaks Slack's wire protocol."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.testing.slack import (
    FakeSlack,
    RateLimits,
    app_mention_event,
    event_callback,
    sign_request,
    slash_command_form,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A started FakeSlack, stopped after the test."""
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    """The real slack_sdk Web API client, authenticated as the bot and pointed at the fake."""
    return AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)


async def test_post_message_and_replies_round_trip(slack: FakeSlack, client: AsyncWebClient) -> None:
    """A top-level post starts a thread, replies append to it, and conversations.replies serves it."""
    parent = await client.chat_postMessage(channel="C0OPS", text="parent")
    reply = await client.chat_postMessage(channel="C0OPS", text="reply", thread_ts=parent["ts"])

    assert parent["message"]["user"] == "UBOT"
    assert parent["message"]["bot_id"] == "BBOT"
    assert reply["ts"] > parent["ts"]
    replies = await client.conversations_replies(channel="C0OPS", ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["parent", "reply"]
    assert replies["has_more"] is False
    assert replies["messages"][0]["reply_count"] == 1
    assert slack.messages_in_thread("C0OPS", parent["ts"])[1]["thread_ts"] == parent["ts"]

    posts = await slack.wait_for("chat.postMessage", count=2)
    assert posts[1].args == {"channel": "C0OPS", "text": "reply", "thread_ts": parent["ts"]}
    assert posts[1].token == slack.bot_token
    assert replies.headers["X-OAuth-Scopes"].startswith("app_mentions:read")

    with pytest.raises(SlackApiError) as missing:
        await client.conversations_replies(channel="C0OPS", ts="1.000000")
    assert missing.value.response["error"] == "thread_not_found"


async def test_tokens_are_checked(slack: FakeSlack) -> None:
    """A wrong token answers invalid_auth, none answers not_authed, and the bot token cannot open sockets."""
    with pytest.raises(SlackApiError) as wrong:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.base_url).auth_test()
    assert wrong.value.response["error"] == "invalid_auth"

    with pytest.raises(SlackApiError) as missing:
        await AsyncWebClient(base_url=slack.base_url).auth_test()
    assert missing.value.response["error"] == "not_authed"

    bot = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
    with pytest.raises(SlackApiError) as wrong_type:
        await bot.apps_connections_open(app_token=slack.bot_token)
    assert wrong_type.value.response["error"] == "not_allowed_token_type"
    assert (await bot.auth_test())["user_id"] == "UBOT"


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "divider"}] * 51,
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}],
        [{"type": "markdown", "text": "x" * 6001}, {"type": "markdown", "text": "x" * 6000}],
    ],
    ids=["51-blocks", "section-3001", "header-151", "context-11", "markdown-12001"],
)
async def test_block_limits_are_enforced(client: AsyncWebClient, blocks: list[dict[str, Any]]) -> None:
    """Each Block Kit limit, exceeded by one, answers invalid_blocks with a reason in response_metadata."""
    with pytest.raises(SlackApiError) as rejected:
        await client.chat_postMessage(channel="C0OPS", text="fallback", blocks=blocks)
    assert rejected.value.response["error"] == "invalid_blocks"
    assert rejected.value.response["response_metadata"]["messages"]


async def test_a_method_whose_scope_is_not_installed_answers_missing_scope(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """As Slack does: missing_scope, naming the scope needed and the ones the token has."""
    slack.scopes.discard("chat:write")
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C0OPS", text="hi")
    assert refused.value.response["error"] == "missing_scope"
    assert refused.value.response["needed"] == "chat:write"
    assert "chat:write" not in refused.value.response["provided"].split(",")
    with pytest.raises(SlackApiError) as unread:
        await client.conversations_info(channel="C0OPS")
    assert unread.value.response["error"] == "missing_scope"


async def test_blocks_at_the_limits_are_accepted(slack: FakeSlack, client: AsyncWebClient) -> None:
    """Blocks exactly at each limit post fine; text over 40,000 characters is truncated when stored."""
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3000}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10},
        {"type": "markdown", "text": "m" * 12000},
    ]
    posted = await client.chat_postMessage(channel="C0OPS", text="t" * 40001, blocks=blocks)
    stored = slack.messages_in_thread("C0OPS", posted["ts"])[0]
    assert len(stored["text"]) == 40000
    assert stored["blocks"] == blocks

    with pytest.raises(SlackApiError) as no_text, pytest.warns(UserWarning, match="`text` argument"):
        await client.chat_postMessage(channel="C0OPS")
    assert no_text.value.response["error"] == "no_text"

    slack.not_in_channel.add("C0PRIVATE")
    with pytest.raises(SlackApiError) as outside:
        await client.chat_postMessage(channel="C0PRIVATE", text="hi")
    assert outside.value.response["error"] == "not_in_channel"
    slack.scopes.add("channels:read")  # orch never asks for it; a token that reads channel info needs it
    info = await client.conversations_info(channel="C0PRIVATE")
    assert info["channel"]["is_member"] is False


async def test_rate_limited_call_is_retried_by_the_sdk_handler(slack: FakeSlack) -> None:
    """rate_limit_next answers 429 + Retry-After; slack_sdk's rate-limit handler retries and succeeds."""
    client = AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack.rate_limit_next("chat.postMessage", retry_after=0)

    response = await client.chat_postMessage(channel="C0OPS", text="eventually")

    assert response["ok"] is True
    calls = slack.calls_to("chat.postMessage")
    assert [c.response["error"] if c.response and not c.response["ok"] else "ok" for c in calls] == [
        "ratelimited",
        "ok",
    ]


async def test_fail_next_and_wait_for_timeout(slack: FakeSlack, client: AsyncWebClient) -> None:
    """fail_next answers the scripted error once; wait_for's timeout names the methods that were called."""
    slack.fail_next("chat.update", "message_not_found")
    posted = await client.chat_postMessage(channel="C0OPS", text="v1")
    with pytest.raises(SlackApiError) as failed:
        await client.chat_update(channel="C0OPS", ts=posted["ts"], text="v2")
    assert failed.value.response["error"] == "message_not_found"
    await client.chat_update(channel="C0OPS", ts=posted["ts"], text="v2")
    assert slack.messages_in_thread("C0OPS", posted["ts"])[0]["text"] == "v2"

    with pytest.raises(AssertionError, match=r"chat\.postMessage"):
        await slack.wait_for("chat.delete", timeout=0.05)


async def test_response_url_posts_are_recorded_and_limited(slack: FakeSlack) -> None:
    """Posts to a response_url are recorded with their URL; the sixth answers 404 used_url."""
    url = slack.new_response_url()
    statuses = []
    async with aiohttp.ClientSession() as session:
        for n in range(6):
            async with session.post(url, json={"text": f"update {n}", "replace_original": True}) as resp:
                statuses.append(resp.status)
                last = await resp.json()

    assert statuses == [200] * 5 + [404]
    assert last == {"ok": False, "error": "used_url"}
    first = (await slack.wait_for("response_url", count=6))[0]
    assert first.args == {"text": "update 0", "replace_original": True, "_url": url}
    assert first.token is None


async def test_files_upload_v2_end_to_end(slack: FakeSlack, client: AsyncWebClient) -> None:
    """files_upload_v2 gets an upload URL, posts the bytes, completes, and shares into the thread."""
    parent = await client.chat_postMessage(channel="C0OPS", text="report coming")

    response = await client.files_upload_v2(
        channel="C0OPS",
        thread_ts=parent["ts"],
        content="# Report\nall good\n",
        filename="x.md",
        title="Report",
        initial_comment="here it is",
    )

    file_id = response["file"]["id"]
    assert response["file"]["title"] == "Report"
    assert slack.uploaded_files[file_id] == b"# Report\nall good\n"
    assert slack.files[file_id]["size"] == len(b"# Report\nall good\n")
    complete = slack.calls_to("files.completeUploadExternal")[0]
    assert complete.args["files"][0]["id"] == file_id
    shared = slack.messages_in_thread("C0OPS", parent["ts"])[-1]
    assert shared["text"] == "here it is"
    assert shared["files"][0]["id"] == file_id


async def test_streaming_start_append_stop_and_expiry(slack: FakeSlack, client: AsyncWebClient) -> None:
    """chat.*Stream accumulates text on one threaded message; an expired stream rejects appends."""
    parent = await client.chat_postMessage(channel="C0OPS", text="question")
    with pytest.raises(SlackApiError) as no_recipient:
        await client.chat_startStream(channel="C0OPS", thread_ts=parent["ts"])
    assert no_recipient.value.response["error"] == "missing_recipient_user_id"

    streamer = await client.chat_stream(
        channel="C0OPS",
        thread_ts=parent["ts"],
        recipient_team_id="T0TEST",
        recipient_user_id="U0ANA",
        buffer_size=1,
    )
    await streamer.append(markdown_text="Hello, ")
    await streamer.append(markdown_text="world")
    await streamer.stop(markdown_text="!")
    streamed = slack.messages_in_thread("C0OPS", parent["ts"])[-1]
    assert streamed["text"] == "Hello, world!"
    assert [c.method for c in slack.calls if c.method.endswith("Stream")] == [
        "chat.startStream",  # the rejected one
        "chat.startStream",
        "chat.appendStream",
        "chat.stopStream",
    ]

    started = await client.chat_startStream(channel="D0ANA", thread_ts=parent["ts"], markdown_text="a")
    slack.expire_stream("D0ANA", started["ts"])
    with pytest.raises(SlackApiError) as expired:
        await client.chat_appendStream(channel="D0ANA", ts=started["ts"], markdown_text="b")
    assert expired.value.response["error"] == "message_not_in_streaming_state"


async def test_socket_mode_round_trip_and_reconnect(slack: FakeSlack) -> None:
    """slack_sdk's aiohttp SocketModeClient connects, receives an envelope, acks it, and reconnects."""
    received: list[SocketModeRequest] = []

    async def on_request(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    socket_client = SocketModeClient(
        app_token=slack.app_token,
        web_client=AsyncWebClient(base_url=slack.base_url),
    )
    socket_client.socket_mode_request_listeners.append(on_request)
    try:
        await socket_client.connect()
        await slack.wait_socket_connected()

        body = event_callback(app_mention_event(text="<@UBOT> hi", ts="1700000000.000001"), event_id="Ev1")
        envelope_id = await slack.socket_send("events_api", body)
        ack = await slack.socket_ack(envelope_id)

        assert ack == {"envelope_id": envelope_id}
        assert received[0].type == "events_api"
        assert received[0].payload["event"]["text"] == "<@UBOT> hi"

        await slack.disconnect_sockets()
        await slack.wait_socket_connected()
        assert slack.socket_connections_opened == 2
        assert len(slack.calls_to("apps.connections.open")) == 2
        second = await slack.socket_send("events_api", body, retry_attempt=1, retry_reason="timeout")
        assert (await slack.socket_ack(second))["envelope_id"] == second
    finally:
        await socket_client.close()
    await asyncio.sleep(0)


def test_request_builders_match_slack() -> None:
    """Signatures are v0 HMAC-SHA256 over the raw body, and the slash-command form carries Slack's fields."""
    body = slash_command_form(text="status", response_url="http://127.0.0.1/response/x")
    headers = sign_request(body, "secret", timestamp=1_700_000_000)
    assert headers["X-Slack-Request-Timestamp"] == "1700000000"
    assert headers["X-Slack-Signature"].startswith("v0=")
    assert len(headers["X-Slack-Signature"]) == 3 + 64
    assert b"command=%2Forchestrate" in body
    assert b"is_enterprise_install=false" in body


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _outcome(call: Any) -> str:
    try:
        await call
    except SlackApiError as exc:
        retry_after = exc.response.headers.get("Retry-After")
        return f"{exc.response['error']}:{retry_after}" if retry_after else str(exc.response["error"])
    return "ok"


async def test_a_tier_2_method_takes_twenty_a_minute_per_workspace_then_answers_429_with_retry_after() -> None:
    """chat.startStream (Tier 2): 20 at once, the 21st is 429 + Retry-After 3; after 3 s one more; other methods unaffected."""
    clock = _Clock()
    async with FakeSlack(clock=clock) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)

        def start(channel: str) -> Any:
            return client.chat_startStream(channel=channel, thread_ts="1.2", markdown_text="hi")

        outcomes = [await _outcome(start(f"D{i:03d}")) for i in range(21)]
        assert outcomes == ["ok"] * 20 + ["ratelimited:3"]
        assert slack.calls_to("chat.startStream")[-1].response == {"ok": False, "error": "ratelimited"}
        first = slack.calls_to("chat.startStream")[0].response or {}
        assert await _outcome(client.chat_appendStream(channel="D000", ts=first["ts"], markdown_text="x")) == "ok"
        clock.now += 3.0
        assert [await _outcome(start("D100")), await _outcome(start("D101"))] == ["ok", "ratelimited:3"]


async def test_rate_limits_can_be_counted_per_channel_for_tests_that_share_one_fake() -> None:
    """RateLimits(per="channel"): each channel has its own Tier 2 minute, at Slack's numbers."""
    async with FakeSlack(rate_limits=RateLimits(per="channel")) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        for channel in ("D0ONE", "D0TWO"):
            outcomes = [
                await _outcome(client.chat_startStream(channel=channel, thread_ts="1.2", markdown_text="hi"))
                for _ in range(21)
            ]
            assert outcomes == ["ok"] * 20 + ["ratelimited:3"]


async def test_post_message_is_about_one_a_second_per_channel_with_a_short_burst() -> None:
    """chat.postMessage: a burst of 4 in one channel, then 429 + Retry-After 1; another channel is not affected."""
    clock = _Clock()
    async with FakeSlack(clock=clock) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        outcomes = [await _outcome(client.chat_postMessage(channel="C0OPS", text=f"{i}")) for i in range(5)]
        assert outcomes == ["ok"] * 4 + ["ratelimited:1"]
        assert await _outcome(client.chat_postMessage(channel="C0DEV", text="elsewhere")) == "ok"
        clock.now += 1.0
        assert await _outcome(client.chat_postMessage(channel="C0OPS", text="a second later")) == "ok"


async def test_chat_update_on_a_message_still_streaming_answers_streaming_state_conflict(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Slack will not edit a message that is streaming: chat.update answers streaming_state_conflict until it stops."""
    started = await client.chat_startStream(channel="D0ANA", thread_ts="1.2", markdown_text="so far")
    with pytest.raises(SlackApiError) as streaming:
        await client.chat_update(channel="D0ANA", ts=started["ts"], text="rewritten")
    assert streaming.value.response["error"] == "streaming_state_conflict"

    await client.chat_stopStream(channel="D0ANA", ts=started["ts"])
    assert not slack.is_streaming("D0ANA", started["ts"])
    updated = await client.chat_update(channel="D0ANA", ts=started["ts"], text="rewritten")
    assert updated["text"] == "rewritten"


async def test_task_chunks_are_checked_and_an_older_slack_refuses_them(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    """task_update chunks need id, title and a known status, sources need a URL; with task chunks off they are refused."""
    card = {"type": "task_update", "id": "t1", "title": "Listing alarms", "status": "in_progress"}
    started = await client.chat_startStream(
        channel="D0ANA", thread_ts="1.2", chunks=[card], task_display_mode="timeline"
    )
    assert slack.tasks["D0ANA", started["ts"]]["t1"]["status"] == "in_progress"
    bad = [
        {**card, "status": "done"},
        {**card, "id": ""},
        {**card, "sources": [{"type": "url", "url": "javascript:alert(1)", "text": "x"}]},
        {"type": "markdown_text", "text": "x" * 12_001},
    ]
    for chunk in bad:
        with pytest.raises(SlackApiError) as refused:
            await client.chat_appendStream(channel="D0ANA", ts=started["ts"], chunks=[chunk])
        assert refused.value.response["error"] == "invalid_chunks"
    with pytest.raises(SlackApiError) as mode:
        await client.chat_startStream(channel="D0ANA", thread_ts="1.2", markdown_text="a", task_display_mode="gantt")
    assert mode.value.response["error"] == "invalid_arguments"

    slack.task_chunks = False
    with pytest.raises(SlackApiError) as older:
        await client.chat_appendStream(channel="D0ANA", ts=started["ts"], chunks=[{**card, "status": "complete"}])
    assert older.value.response["error"] == "invalid_arguments"


async def test_methods_slack_sdk_sends_as_get_are_served(slack: FakeSlack, client: AsyncWebClient) -> None:
    """conversations.replies and users.info go out as GET with a query string, and the fake answers them."""
    parent = await client.chat_postMessage(channel="C0OPS", text="parent")
    replies = await client.conversations_replies(channel="C0OPS", ts=parent["ts"])
    user = await client.users_info(user="U0ANA")

    assert [m["text"] for m in replies["messages"]] == ["parent"]
    assert user["user"]["id"] == "U0ANA"
    assert [c.verb for c in slack.calls_to("conversations.replies")] == ["GET"]
    assert [c.verb for c in slack.calls_to("users.info")] == ["GET"]
