"""Streaming answers into Slack: batching, and the fallbacks when streaming is unavailable or expires."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from agents.testing.bedrock import Reply
from tests.e2e.harness import unique
from tests.e2e.slackcalls import final_text, in_channel, message_text

if TYPE_CHECKING:
    from collections.abc import Iterator

    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack
    from tests.e2e.harness import BotProcess

ANSWER = " ".join(f"word{i:03d}" for i in range(150))  # 1,199 characters


@contextmanager
def slow_stream(bedrock: FakeBedrock, *, chunk_size: int, chunk_delay: float) -> Iterator[None]:
    """Make the fake model write slowly, in small pieces, for the duration of a test."""
    saved = (bedrock.chunk_size, bedrock.chunk_delay)
    bedrock.chunk_size, bedrock.chunk_delay = chunk_size, chunk_delay
    try:
        yield
    finally:
        bedrock.chunk_size, bedrock.chunk_delay = saved


async def test_appends_are_batched_not_one_per_token(bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """150 pieces over ~1.5 s reach Slack as a start and a few appends, and the whole text arrives intact."""
    channel = unique("C")
    bedrock.enqueue(Reply(text=ANSWER))
    with slow_stream(bedrock, chunk_size=8, chunk_delay=0.01):
        await bot.command("stream please", user=unique("U"), channel=channel, response_url=slack.new_response_url())
        text = await final_text(slack, channel, timeout=15)
    appends = [c for c in slack.calls_to("chat.appendStream") if in_channel(channel)(c)]
    (start,) = [c for c in slack.calls_to("chat.startStream") if in_channel(channel)(c)]
    (stop,) = [c for c in slack.calls_to("chat.stopStream") if in_channel(channel)(c)]
    # At most one append per 0.5 s flush interval while the model writes, whatever the machine's speed.
    assert 1 <= len(appends) <= (stop.at - start.at) / 0.5 + 1
    assert len(appends) < 150 / 5
    assert text.startswith(ANSWER + "\n")


async def test_expired_stream_is_finished_with_chat_update(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """When Slack ends the stream mid-answer, the streamed message is completed in place with chat.update."""
    channel = unique("C")
    bedrock.enqueue(Reply(text=ANSWER))
    slack.fail_next("chat.appendStream", "message_not_in_streaming_state")
    with slow_stream(bedrock, chunk_size=8, chunk_delay=0.01):
        await bot.command("stream please", user=unique("U"), channel=channel, response_url=slack.new_response_url())
        text = await final_text(slack, channel, timeout=15)
    (start,) = [c for c in slack.calls_to("chat.startStream") if in_channel(channel)(c)]
    finals = [c for c in slack.calls_to("chat.update") if in_channel(channel)(c) and c.args.get("blocks")]
    assert finals[-1].args["ts"] == start.response["ts"]
    assert ANSWER in text
    assert "agent `general`" in text


async def test_without_streaming_the_answer_so_far_is_edited_into_the_answer(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """If chat.startStream is refused, the answer so far is posted, edited as it grows, then replaced by the answer."""
    channel = unique("C")
    bedrock.enqueue(Reply(text=ANSWER))
    slack.fail_next("chat.startStream", "not_allowed_token_type")
    await bot.command("no streaming here", user=unique("U"), channel=channel, response_url=slack.new_response_url())
    text = await final_text(slack, channel)
    (so_far,) = [c for c in slack.calls_to("chat.postMessage") if in_channel(channel)(c) and c.args.get("thread_ts")]
    final = [c for c in slack.calls_to("chat.update") if in_channel(channel)(c)][-1]
    assert final.args["ts"] == so_far.response["ts"]
    assert ANSWER in text
    assert "Working on it" not in message_text(final)


async def test_a_stream_rate_limited_past_the_sdk_retries_goes_on_in_the_same_message(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Three 429s on an append (the SDK retries two): the answer waits, then streams on and is stopped, never edited."""
    channel = unique("C")
    bedrock.enqueue(Reply(text=ANSWER))
    slack.rate_limit_next("chat.appendStream", retry_after=1, times=3)
    with slow_stream(bedrock, chunk_size=8, chunk_delay=0.02):
        await bot.command("stream please", user=unique("U"), channel=channel, response_url=slack.new_response_url())
        text = await final_text(slack, channel, timeout=20)
    (start,) = [c for c in slack.calls_to("chat.startStream") if in_channel(channel)(c)]
    (stop,) = [c for c in slack.calls_to("chat.stopStream") if in_channel(channel)(c)]
    assert stop.response is not None
    assert stop.response["ok"]
    assert not [c for c in slack.calls_to("chat.update") if in_channel(channel)(c)]
    assert not slack.is_streaming(channel, start.response["ts"])
    assert text.startswith(ANSWER + "\n")


async def test_a_stream_failing_mid_way_is_stopped_before_chat_update_completes_it(
    bot: BotProcess, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """An append Slack refuses outright: the stream is stopped first, then the same message is completed in place."""
    channel = unique("C")
    bedrock.enqueue(Reply(text=ANSWER))
    slack.fail_next("chat.appendStream", "messaging_processing_failed")
    with slow_stream(bedrock, chunk_size=8, chunk_delay=0.01):
        await bot.command("stream please", user=unique("U"), channel=channel, response_url=slack.new_response_url())
        (final,) = await slack.wait_for(
            "chat.update", where=lambda c: in_channel(channel)(c) and "agent `" in message_text(c), timeout=15
        )
    text = message_text(final)
    (start,) = [c for c in slack.calls_to("chat.startStream") if in_channel(channel)(c)]
    stops = [c for c in slack.calls_to("chat.stopStream") if in_channel(channel)(c)]
    updates = [c for c in slack.calls_to("chat.update") if in_channel(channel)(c)]
    assert stops
    assert updates
    assert stops[0].at <= updates[0].at
    assert all(u.response is not None and u.response["ok"] for u in updates)
    assert updates[-1].args["ts"] == start.response["ts"]
    assert not slack.is_streaming(channel, start.response["ts"])
    assert ANSWER in text
