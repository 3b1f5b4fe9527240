"""The delivery's pieces one at a time over the in-memory Slack port, and the port's slack_sdk adapter.

Each piece is built on its own with :class:`~bot.delivery.testing.FakeSlackPort`: the progress view
(placeholder, status), the streamed message (start/append/stop) and the final message (patience, plain
text, private fallback, file). The adapter test builds slack_sdk's own error from a response, as the SDK does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from agents.redaction import Redactor
from bot.delivery.final import FinalMessage
from bot.delivery.message import ThreadMessage
from bot.delivery.port import SlackOutcome
from bot.delivery.progress_view import ProgressView
from bot.delivery.slack import outcome_of
from bot.delivery.stream import Sent, SlackStream
from bot.delivery.testing import FakeSlackPort
from bot.outfilter import OutputFilter
from bot.slack_budget import SlackBudget

if TYPE_CHECKING:
    from tests.unit.conftest import FakeTime

THREAD = "1700000000.000100"


def _view(port: FakeSlackPort, fake_time: FakeTime, *, assistant_status: bool = False) -> ProgressView:
    return ProgressView(
        port,
        ThreadMessage("C0OPS", THREAD),
        clean=OutputFilter(Redactor()),
        region="eu-west-1",
        assistant_status=assistant_status,
        placeholder=True,
        clock=fake_time.clock,
    )


def _stream(port: FakeSlackPort, fake_time: FakeTime, budget: SlackBudget) -> SlackStream:
    return SlackStream(
        port,
        ThreadMessage("C0OPS", THREAD),
        recipient=("T0TEST", "U0ANA"),
        budget=budget,
        patience=10.0,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )


def _final(port: FakeSlackPort, fake_time: FakeTime, message: ThreadMessage) -> FinalMessage:
    return FinalMessage(
        port,
        message,
        clean=OutputFilter(Redactor()),
        user="U0ANA",
        patience=4.0,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )


async def test_an_assistant_status_slack_refuses_turns_into_placeholder_lines(fake_time: FakeTime) -> None:
    """Not an assistant thread after all: the status is dropped and the next steps show in a placeholder."""
    port = FakeSlackPort()
    view = _view(port, fake_time, assistant_status=True)
    port.refuse("set_status", "channel_not_found")

    await view.started()
    await view.show("Listing CloudWatch alarms", in_message=True)
    await view.show("Reading 5xx metrics", in_message=True)

    assert port.methods() == ["set_status", "post_message", "update_message"]
    (placeholder,) = port.messages.values()
    assert placeholder.text.endswith("• Listing CloudWatch alarms\n• Reading 5xx metrics")


async def test_the_placeholder_keeps_the_last_eight_steps_and_is_removed_for_the_answer(fake_time: FakeTime) -> None:
    """Ten steps show as the last eight lines; removing the placeholder deletes it and forgets its ts."""
    port = FakeSlackPort()
    message = ThreadMessage("C0OPS", THREAD)
    view = ProgressView(port, message, clean=OutputFilter(Redactor()), region="eu-west-1", clock=fake_time.clock)

    for n in range(10):
        await view.show(f"Step {n}", in_message=True)
    (placeholder,) = port.messages.values()
    assert placeholder.text.splitlines()[1:] == [f"• Step {n}" for n in range(2, 10)]
    await view.remove_placeholder()

    assert port.deleted == [placeholder.ts]
    assert message.ts is None


async def test_a_stop_rate_limited_is_waited_out_and_the_message_is_no_longer_streaming(fake_time: FakeTime) -> None:
    """chat.stopStream answered 429 twice: the stream waits each Retry-After, then Slack takes the stop."""
    port = FakeSlackPort()
    budget = SlackBudget(clock=fake_time.clock)
    stream = _stream(port, fake_time, budget)
    assert await stream.start("All quiet.", []) is Sent.SENT
    port.refuse("stop_stream", "ratelimited", times=2, retry_after=2)

    assert await stream.stop(markdown_text=None)

    assert fake_time.sleeps == [2.0, 2.0]
    assert not stream.live
    assert stream.ts is not None
    assert not port.messages[stream.ts].streaming


async def test_a_start_refused_for_its_task_chunks_is_sent_again_as_text_alone(fake_time: FakeTime) -> None:
    """invalid_arguments to chunks: the workspace's budget stops offering them and the text starts the stream."""
    port = FakeSlackPort()
    budget = SlackBudget(clock=fake_time.clock)
    stream = _stream(port, fake_time, budget)
    port.refuse("start_stream", "invalid_arguments")

    sent = await stream.start("Checking…", [{"type": "task_update", "id": "task-1", "title": "t", "status": "pending"}])

    assert sent is Sent.SENT
    assert not budget.task_chunks
    assert [c.args["chunks"] is None for c in port.calls_to("start_stream")] == [False, True]


async def test_a_final_message_refused_as_formatted_is_sent_as_plain_text_with_the_request_id(
    fake_time: FakeTime,
) -> None:
    """Slack rejects the blocks (invalid_blocks): the answer goes again as plain text naming the request ID."""
    port = FakeSlackPort()
    final = _final(port, fake_time, ThreadMessage("C0OPS", THREAD))
    port.refuse("post_message", "invalid_blocks")

    await final.post("All quiet.", [{"type": "markdown", "text": "All quiet."}], request_id="req-0001")

    rejected, plain = port.calls_to("post_message")
    assert rejected.args["blocks"]
    assert plain.args["blocks"] is None
    assert plain.args["text"] == "All quiet.\n\nRequest ID: `req-0001`"
    assert not port.calls_to("post_ephemeral")


async def test_a_final_message_replaces_the_placeholder_and_falls_back_to_a_post_when_it_is_gone(
    fake_time: FakeTime,
) -> None:
    """The placeholder was deleted by someone: chat.update says message_not_found, the answer is posted instead."""
    port = FakeSlackPort()
    final = _final(port, fake_time, ThreadMessage("C0OPS", THREAD, ts="1700000000.999999"))

    await final.post("All quiet.", [{"type": "markdown", "text": "All quiet."}], request_id="req-0001")

    assert [c.outcome.error for c in port.calls_to("update_message")] == ["message_not_found"]
    (answer,) = port.messages.values()
    assert answer.text == "All quiet."


async def test_an_attachment_slack_refuses_is_replaced_by_a_note_naming_the_error(fake_time: FakeTime) -> None:
    """files_upload_v2 refused: the thread gets a note with Slack's error and the request ID instead of silence."""
    port = FakeSlackPort()
    final = _final(port, fake_time, ThreadMessage("C0OPS", THREAD))
    port.refuse("upload", "not_allowed_token_type")

    await final.attach("the whole report", "req-0001")

    (note,) = port.messages.values()
    assert "not_allowed_token_type" in note.text
    assert "req-0001" in note.text


def _error(data: dict[str, object] | str, *, status: int, headers: dict[str, str] | None = None) -> SlackApiError:
    response = AsyncSlackResponse(
        client=AsyncWebClient(),
        http_verb="POST",
        api_url="https://slack.test/api/chat.appendStream",
        req_args={},
        data=data,  # type: ignore[arg-type]  # the SDK hands a non-JSON body on as the text it was
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError("refused", response)


def test_the_adapter_translates_a_rate_limit_with_its_retry_after_and_a_proxy_page_by_status() -> None:
    """A 429's Retry-After is kept (at least one second); a body that is not Slack's JSON becomes http_<status>."""
    assert outcome_of(_error({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "3"})) == (
        SlackOutcome(error="ratelimited", retry_after=3.0)
    )
    assert outcome_of(_error({"ok": False, "error": "ratelimited"}, status=429)).retry_after == 1.0
    assert outcome_of(_error("<html>502 Bad Gateway</html>", status=502)) == SlackOutcome(error="http_502")
    assert outcome_of(_error({"ok": False, "error": "channel_not_found"}, status=200)).retry_after is None
