"""Bedrock as it really fails: stream errors, each documented error, stop reasons, and the circuit breaker.

The fake Bedrock holds every request to botocore's service model, so these also prove the bot only sends
what the real service accepts.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aiohttp
import pytest_asyncio

from agents.testing.bedrock import Fault, Reply
from bot.testing.environment import bot_env, free_port
from tests.e2e.harness import BotProcess, unique
from tests.e2e.slackcalls import REQUEST_ID, final_text, in_channel, message_text

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack, SlackCall


async def ask(bot: BotProcess, slack: FakeSlack, text: str) -> str:
    """Run ``/orchestrate text`` in a new channel; return the channel."""
    channel = unique("C")
    await bot.command(text, user=unique("U"), channel=channel, response_url=slack.new_response_url())
    return channel


def _written_text(call: SlackCall) -> str | None:
    """What an accepted message write shows: a post or an edit, or a stream's whole message at its end."""
    if not (call.response or {}).get("ok"):
        return None
    if call.method == "chat.stopStream":
        return str((call.response or {}).get("message", {}).get("text", "")) + "\n" + message_text(call)
    if call.method in {"chat.update", "chat.postMessage"}:
        return message_text(call)
    return None


async def write_containing(
    slack: FakeSlack, channel: str, needle: str, *, timeout: float = 15
) -> tuple[SlackCall, str]:
    """The first message write in ``channel`` whose text contains ``needle``, and that text, however it got there.

    A withdrawn answer that never reached Slack leaves nothing to edit (the explanation is posted: the output
    filter holds back a word until it ends), and a retried answer may stream whole (it ends with
    ``chat.stopStream``): all three count.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for call in slack.calls:
            text = _written_text(call) if in_channel(channel)(call) else None
            if text is not None and needle in text:
                return call, text
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no message containing {needle!r} in {channel} after {timeout}s")
        await asyncio.sleep(0.02)


async def answer_containing(slack: FakeSlack, channel: str, needle: str, *, timeout: float = 15) -> str:
    """The text of the first message in ``channel`` containing ``needle`` (see :func:`write_containing`)."""
    _, text = await write_containing(slack, channel, needle, timeout=timeout)
    return text


# -- 7: errors, each retried only when AWS says so, each with its own message ------------------------


async def test_stream_error_before_any_text_is_retried_unseen(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """A modelStreamErrorException before the first token is retried like throttling: the user sees only the answer."""
    bedrock.enqueue(Fault("ModelStreamErrorException", mid_stream=True, partial=""), Reply(text="all systems normal"))
    channel = await ask(bot, slack, "are we ok?")
    text = await final_text(slack, channel, timeout=20)
    assert "all systems normal" in text
    assert "2 attempts" in text
    assert "rejected" not in text


async def test_stream_error_after_text_replaces_the_partial_answer_in_place(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Text already in Slack when the stream breaks: the stream is stopped and the same message becomes the retry."""
    bedrock.enqueue(
        Fault("ModelStreamErrorException", mid_stream=True, partial="HALF-WRITTEN answer about "),
        Reply(text="The complete answer: nothing is alarming."),
    )
    channel = await ask(bot, slack, "what is alarming?")
    final, _ = await write_containing(slack, channel, "agent `general`", timeout=20)  # the footer: the final form
    (start,) = [c for c in slack.calls_to("chat.startStream") if in_channel(channel)(c)]
    assert "HALF-WRITTEN" in start.args["markdown_text"]  # the partial text did reach Slack
    assert [c.args["ts"] for c in slack.calls_to("chat.stopStream") if in_channel(channel)(c)] == [start.response["ts"]]
    assert final.args["ts"] == start.response["ts"]  # replaced in place, not a second answer below
    assert "HALF-WRITTEN" not in message_text(final)
    answers = [
        c
        for c in slack.calls
        if in_channel(channel)(c) and c.method == "chat.postMessage" and "complete answer" in message_text(c)
    ]
    assert answers == []


async def test_model_error_is_not_retried_and_says_what_happened(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """ModelErrorException (424) carries no retry trait in botocore's model: one call, its own message, request ID."""
    before = len(bedrock.answer_calls())
    bedrock.enqueue(Fault("ModelErrorException", latency=0))
    channel = await ask(bot, slack, "summarise the incident")
    text = await final_text(slack, channel, timeout=20)
    assert "The model failed while working on this request" in text
    assert "Try again, or rephrase the question" in text
    assert REQUEST_ID.search(text)
    assert len(bedrock.answer_calls()) == before + 1


async def test_model_timeout_is_not_retried_and_suggests_a_narrower_question(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """ModelTimeoutException (408): one call, and the user is told to narrow the question."""
    before = len(bedrock.answer_calls())
    bedrock.enqueue(Fault("ModelTimeoutException", latency=0))
    channel = await ask(bot, slack, "summarise the whole year")
    text = await final_text(slack, channel, timeout=20)
    assert "took longer than its time limit" in text
    assert "narrower question" in text
    assert REQUEST_ID.search(text)
    assert len(bedrock.answer_calls()) == before + 1


async def test_model_not_ready_is_retried_then_explained(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """ModelNotReadyException is retryable per botocore: every attempt is used, then a message of its own."""
    before = len(bedrock.answer_calls())
    bedrock.enqueue(*[Fault("ModelNotReadyException", latency=0)] * 4)
    channel = await ask(bot, slack, "are we ok?")
    text = await final_text(slack, channel, timeout=30)
    assert "The model is not ready to serve requests yet" in text
    assert "I tried 4 times" in text
    assert REQUEST_ID.search(text)
    assert len(bedrock.answer_calls()) == before + 4


# -- 8: blank text blocks ---------------------------------------------------------------------------


async def test_a_blank_line_before_a_tool_call_does_not_break_the_next_request(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """The model writes a blank line then calls a tool: the next request leaves the blank text out and Bedrock accepts it."""
    before = len(bedrock.answer_calls())
    bedrock.enqueue(
        Reply(text="\n\n", tool_uses=[{"toolUseId": "tooluse_blank1", "name": "no_such_tool", "input": {}}]),
        Reply(text="Answered after the tool call."),
    )
    channel = await ask(bot, slack, "general: check something")
    text = await final_text(slack, channel, timeout=20)
    assert "Answered after the tool call." in text
    second = bedrock.answer_calls()[before + 1]
    assistant = second.body["messages"][1]
    assert assistant["role"] == "assistant"
    assert all("text" not in block for block in assistant["content"])


# -- 9: stop reasons --------------------------------------------------------------------------------


async def test_an_answer_cut_short_by_max_tokens_says_so_and_how_to_get_the_rest(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """StopReason max_tokens: the partial answer is shown with a note that it was cut short and how to continue."""
    bedrock.enqueue(Reply(text="The first half of a long report", stop="max_tokens"))
    channel = await ask(bot, slack, "write a long report")
    text = await final_text(slack, channel, timeout=20)
    assert "The first half of a long report" in text
    assert "This answer was cut short" in text
    assert "Ask me to continue in this thread" in text


async def test_a_guardrail_intervention_withdraws_the_text_and_explains(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """StopReason guardrail_intervened: no blocked text is left as an answer; a specific message and the request ID."""
    # Words with spaces, so the output filter releases them and the stream starts before the stop arrives.
    bedrock.enqueue(
        Reply(text="Here is the BLOCKED-CANNED-TEXT you asked for, word by word. ", stop="guardrail_intervened")
    )
    channel = await ask(bot, slack, "tell me something forbidden")
    text = await answer_containing(slack, channel, "guardrail", timeout=20)
    assert "A Bedrock guardrail set up for this bot stopped the answer" in text
    assert "BLOCKED-CANNED-TEXT" not in text
    assert REQUEST_ID.search(text)


async def test_a_content_filter_stop_has_its_own_message(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """StopReason content_filtered: the filter is named, not shown as a successful answer."""
    bedrock.enqueue(Reply(text="FILTERED", stop="content_filtered"))
    channel = await ask(bot, slack, "say something rude")
    text = await answer_containing(slack, channel, "content filter", timeout=20)
    assert "FILTERED" not in text
    assert REQUEST_ID.search(text)


async def test_a_malformed_tool_call_is_sent_back_to_the_model_to_try_again(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """StopReason malformed_tool_use: the model is told what went wrong and its next turn answers."""
    before = len(bedrock.answer_calls())
    bedrock.enqueue(Reply(text="", stop="malformed_tool_use"), Reply(text="Second try worked."))
    channel = await ask(bot, slack, "check the alarms")
    text = await final_text(slack, channel, timeout=20)
    assert "Second try worked." in text
    retry = bedrock.answer_calls()[before + 1]
    last = retry.body["messages"][-1]
    assert last["role"] == "user"
    assert "could not be parsed" in last["content"][0]["text"]


async def test_a_full_context_window_is_trimmed_and_retried_once_then_explained(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """model_context_window_exceeded: one retry with a trimmed context answers; twice in a row is a friendly error."""
    bedrock.enqueue(Reply(text="PARTIAL", stop="model_context_window_exceeded"), Reply(text="It fits now."))
    channel = await ask(bot, slack, "summarise everything")
    text = await final_text(slack, channel, timeout=20)  # the whole message once the footer is on
    assert "It fits now." in text
    assert "PARTIAL" not in text

    full = Reply(text="X", stop="model_context_window_exceeded")
    bedrock.enqueue(full, Reply(text="Y", stop="model_context_window_exceeded"))
    channel = await ask(bot, slack, "summarise everything again")
    text = await answer_containing(slack, channel, "too long for the model", timeout=20)
    assert "Start a new thread" in text
    assert REQUEST_ID.search(text)


# -- 10: the circuit breaker ------------------------------------------------------------------------


@pytest_asyncio.fixture
async def breaker_bot(slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path) -> AsyncIterator[BotProcess]:
    """A bot whose breaker opens after 2 failures in a row and stays open 30 s; 2 attempts per call."""
    env = bot_env(
        slack_api_url=slack.base_url,
        bedrock_url=bedrock.endpoint_url,
        BEDROCK_MAX_ATTEMPTS="2",
        BEDROCK_BREAKER_THRESHOLD="2",
        BEDROCK_BREAKER_COOL_DOWN_SECONDS="30",
    )
    port = free_port()
    process = BotProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "bot.log", port=port)
    await process.start()
    yield process
    await process.stop()


async def get(bot: BotProcess, path: str) -> tuple[int, str]:
    """GET ``path`` from the bot's HTTP port: status and body."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{bot.port}{path}") as response,
    ):
        return response.status, await response.text()


async def test_an_open_breaker_answers_new_tasks_at_once_and_shows_everywhere(
    breaker_bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """After a failure streak, a new task is told "unavailable, retrying in N s" without calling Bedrock.

    /readyz, /metrics and /orch-health all show the open breaker; readiness itself is not withdrawn.
    """
    bedrock.enqueue(Fault("ThrottlingException", latency=0), Fault("ThrottlingException", latency=0))
    first = await ask(breaker_bot, slack, "general: are we ok?")
    assert "busy (throttling requests)" in await final_text(slack, first, timeout=20)

    calls_before = len(bedrock.calls)
    second = await ask(breaker_bot, slack, "general: are we ok now?")
    text = await final_text(slack, second, timeout=10)
    assert "Amazon Bedrock is unavailable, retrying in" in text
    assert "Ask again in" in text
    assert REQUEST_ID.search(text)
    await asyncio.sleep(0.2)
    assert len(bedrock.calls) == calls_before  # nothing was sent to Bedrock

    status, body = await get(breaker_bot, "/readyz")
    assert status == 200
    assert '"state": "open"' in body
    _, metrics = await get(breaker_bot, "/metrics")
    assert "orch_bedrock_breaker_state 2.0" in metrics
    assert "orch_bedrock_breaker_opened 1.0" in metrics

    url = slack.new_response_url()
    await breaker_bot.command("", command="/orch-health", user=unique("U"), channel=unique("C"), response_url=url)
    report = (await slack.wait_for("response_url", where=lambda c: c.args.get("_url") == url, timeout=15))[0]
    assert "circuit open after 2 failures in a row" in str(report.args["text"])
    assert "*orch-bot is unhealthy*" in str(report.args["text"])
