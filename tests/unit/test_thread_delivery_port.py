"""ThreadDelivery over the in-memory Slack port: placeholder, stream, fallbacks, final post, file — no Slack at all.

:class:`~bot.delivery.testing.FakeSlackPort` implements the port the delivery's pieces call, with Slack's
streaming rules (a streaming message cannot be edited, a stopped or expired one takes no appends) and
scripted refusals; the delivery, its workspace budget and the test share one injected clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.catalog import AgentSpec
from agents.events import (
    AgentRouted,
    AnswerDelta,
    AnswerReset,
    TaskResult,
    TaskSucceeded,
    TaskSuspended,
    ToolFinished,
    ToolStarted,
)
from agents.llm import Usage
from agents.redaction import Redactor
from agents.router import Routing
from agents.task import Origin, Task, new_request_id
from bot.delivery import ThreadDelivery
from bot.delivery.testing import FakeSlackPort
from bot.outfilter import OutputFilter
from bot.render import INLINE_LIMIT
from bot.slack_budget import SlackBudget

if TYPE_CHECKING:
    from tests.unit.conftest import FakeTime

THREAD = "1700000000.000100"
ALARMS = "CloudWatch alarms"


def _delivery(
    port: FakeSlackPort, fake_time: FakeTime, budget: SlackBudget, *, placeholder: bool = True
) -> ThreadDelivery:
    return ThreadDelivery(
        port,
        clean=OutputFilter(Redactor()),
        channel="C0OPS",
        thread_ts=THREAD,
        region="eu-west-1",
        recipient_team_id="T0TEST",
        recipient_user_id="U0ANA",
        placeholder=placeholder,
        answer_patience=4.0,
        budget=budget,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )


def _task() -> Task:
    origin = Origin(workspace_id="T0TEST", user_id="U0ANA", channel_id="C0OPS", surface="mention")
    return Task(request_id=new_request_id(), origin=origin, text="what's up?")


def _routed(task: Task) -> AgentRouted:
    agent = AgentSpec("general", "answers anything", (), "You help.")
    return AgentRouted(task, Routing(agent, "default agent", explicit=False))


def _done(task: Task, text: str) -> TaskSucceeded:
    return TaskSucceeded(task, TaskResult(text, "general", "default agent", "m", Usage(10, 20), 0.4, 1))


async def test_a_placeholder_gives_way_to_the_stream_which_ends_with_the_footer(fake_time: FakeTime) -> None:
    """Routed: a placeholder; first text: a stream starts and the placeholder goes; done: stopped with the footer."""
    port = FakeSlackPort()
    budget = SlackBudget(clock=fake_time.clock)
    delivery, task = _delivery(port, fake_time, budget), _task()

    await delivery.emit(_routed(task))
    (placeholder,) = port.messages
    assert task.request_id in port.messages[placeholder].text
    await delivery.emit(AnswerDelta(task, "All quiet."))
    await delivery.emit(_done(task, "All quiet."))

    assert port.methods() == ["post_message", "start_stream", "delete_message", "stop_stream"]
    assert port.deleted == [placeholder]
    (answer,) = port.messages.values()
    assert answer.text == "All quiet."
    assert not answer.streaming
    assert "agent `general`" in str(answer.blocks)
    assert task.request_id in str(answer.blocks)
    assert budget.answers == 0


async def test_streaming_refused_the_answer_is_edited_into_the_placeholder(fake_time: FakeTime) -> None:
    """chat.startStream refused: the answer so far, then the final answer, go into the placeholder with chat.update."""
    port = FakeSlackPort()
    delivery, task = _delivery(port, fake_time, SlackBudget(clock=fake_time.clock)), _task()
    port.refuse("start_stream", "feature_not_enabled")

    await delivery.emit(_routed(task))
    (placeholder,) = port.messages
    await delivery.emit(AnswerDelta(task, "Part one. "))
    fake_time.now += 2.0
    await delivery.emit(AnswerDelta(task, "Part two."))
    fake_time.now += 2.0
    await delivery.emit(_done(task, "Part one. Part two."))

    assert port.methods() == ["post_message", "start_stream", "update_message", "update_message"]
    assert all(call.args["ts"] == placeholder for call in port.calls_to("update_message"))
    first_edit = port.calls_to("update_message")[0].args
    assert first_edit["blocks"][0]["text"].startswith("Part one. ")
    assert first_edit["blocks"][0]["text"].endswith(" …")  # the answer so far, marked as going on
    (answer,) = port.messages.values()
    assert "Part one. Part two." in answer.text
    assert "agent `general`" in str(answer.blocks)


async def test_a_stream_expired_mid_answer_is_completed_in_place_without_a_stop(fake_time: FakeTime) -> None:
    """Slack ended the stream on its own: no chat.stopStream is owed, the same message is completed with chat.update."""
    port = FakeSlackPort()
    delivery, task = _delivery(port, fake_time, SlackBudget(clock=fake_time.clock), placeholder=False), _task()

    await delivery.emit(AnswerDelta(task, "Part one. "))
    (ts,) = port.messages
    port.expire(ts)
    fake_time.now += 1.0
    await delivery.emit(AnswerDelta(task, "Part two."))
    fake_time.now += 2.0
    await delivery.emit(_done(task, "Part one. Part two."))

    assert [c.outcome.error for c in port.calls_to("append_stream")] == ["message_not_in_streaming_state"]
    assert not port.calls_to("stop_stream")
    (final,) = port.calls_to("update_message")
    assert final.args["ts"] == ts
    (answer,) = port.messages.values()
    assert "Part one. Part two." in answer.blocks[0]["text"]
    assert "agent `general`" in str(answer.blocks)


async def test_a_rate_limited_append_holds_the_text_until_retry_after_and_the_stream_goes_on(
    fake_time: FakeTime,
) -> None:
    """An append answered 429: the workspace holds appends for Retry-After, then the waiting text goes in one append."""
    port = FakeSlackPort()
    budget = SlackBudget(clock=fake_time.clock)
    delivery, task = _delivery(port, fake_time, budget, placeholder=False), _task()

    await delivery.emit(AnswerDelta(task, "Hello "))
    fake_time.now += 1.0
    port.refuse("append_stream", "ratelimited", retry_after=2)
    await delivery.emit(AnswerDelta(task, "world, "))
    assert budget.blocked_for("chat.appendStream") == 2.0
    fake_time.now += 1.0
    await delivery.emit(AnswerDelta(task, "still "))
    assert len(port.calls_to("append_stream")) == 1  # held: nothing goes while Slack asked to wait
    fake_time.now += 1.5
    await delivery.emit(AnswerDelta(task, "going."))
    await delivery.emit(_done(task, "Hello world, still going."))

    appends = port.calls_to("append_stream")
    assert [c.outcome.error for c in appends] == ["ratelimited", None]
    assert appends[-1].args["markdown_text"].startswith("world, still")  # the filter may hold the very end back
    assert not port.calls_to("update_message")
    (answer,) = port.messages.values()
    assert answer.text == "Hello world, still going."
    assert not answer.streaming


async def test_a_stream_failing_mid_way_is_stopped_before_chat_update_completes_it(fake_time: FakeTime) -> None:
    """An append refused for another reason: the stream is stopped first, every chat.update comes after the stop."""
    port = FakeSlackPort()
    delivery, task = _delivery(port, fake_time, SlackBudget(clock=fake_time.clock), placeholder=False), _task()

    await delivery.emit(AnswerDelta(task, "Part one. "))
    fake_time.now += 1.0
    port.refuse("append_stream", "messaging_processing_failed")
    await delivery.emit(AnswerDelta(task, "Part two. "))
    fake_time.now += 2.0
    await delivery.emit(AnswerDelta(task, "Part three."))  # shown by editing the message, mid-answer
    fake_time.now += 2.0
    await delivery.emit(_done(task, "Part one. Part two. Part three."))

    methods = port.methods()
    assert methods[:3] == ["start_stream", "append_stream", "stop_stream"]
    assert methods[3:] == ["update_message", "update_message"]
    assert all(c.outcome.ok for c in port.calls_to("update_message"))
    (answer,) = port.messages.values()
    assert not answer.streaming
    assert "Part one. Part two. Part three." in answer.blocks[0]["text"]


async def test_an_answer_reset_rewrites_the_streamed_message_and_never_posts_a_second_answer(
    fake_time: FakeTime,
) -> None:
    """AnswerReset mid-stream: the stream stops, the message shows only what is kept, and the retry completes it."""
    port = FakeSlackPort()
    delivery, task = _delivery(port, fake_time, SlackBudget(clock=fake_time.clock), placeholder=False), _task()

    await delivery.emit(AnswerDelta(task, "The first try went"))
    await delivery.emit(AnswerReset(task, "The ", reason="ModelStreamErrorException"))
    (ts,) = port.messages
    reset_edit = port.calls_to("update_message")[0].args
    assert reset_edit["blocks"][0]["text"].startswith("The \n\n_(the answer broke off; starting it again…)_")
    fake_time.now += 2.0
    await delivery.emit(AnswerDelta(task, "second try worked."))
    fake_time.now += 2.0
    await delivery.emit(_done(task, "The second try worked."))

    assert port.methods()[:2] == ["start_stream", "stop_stream"]
    assert not port.calls_to("post_message")
    assert {c.args["ts"] for c in port.calls_to("update_message")} == {ts}
    (answer,) = port.messages.values()
    assert answer.blocks[0]["text"] == "The second try worked."
    assert "first try" not in answer.text


async def test_a_final_post_rate_limited_past_the_patience_goes_to_the_requester_privately(
    fake_time: FakeTime,
) -> None:
    """The thread keeps answering 429: the post waits Retry-After up to the patience, then goes as an ephemeral."""
    port = FakeSlackPort()
    delivery, task = _delivery(port, fake_time, SlackBudget(clock=fake_time.clock), placeholder=False), _task()
    port.refuse("post_message", "ratelimited", times=100, retry_after=1)

    await delivery.emit(_done(task, "All quiet."))

    assert fake_time.sleeps == [1.0] * 4
    (private,) = port.calls_to("post_ephemeral")
    assert private.args["user"] == "U0ANA"
    assert "rate-limiting" in private.args["text"]
    assert "All quiet." in private.args["text"]
    assert task.request_id in private.args["text"]


async def test_a_long_streamed_answer_is_cut_in_the_message_and_attached_whole(fake_time: FakeTime) -> None:
    """Past the inline limit the stream stops taking text; its end says a file follows, and the file has it all."""
    port = FakeSlackPort()
    delivery, task = _delivery(port, fake_time, SlackBudget(clock=fake_time.clock), placeholder=False), _task()
    lines = [f"line {n:05d} of the report\n" for n in range(800)]

    for line in lines:
        await delivery.emit(AnswerDelta(task, line))
        fake_time.now += 0.1
    await delivery.emit(_done(task, "".join(lines)))

    (answer,) = port.messages.values()
    assert len(answer.text) < INLINE_LIMIT + 200
    (stop,) = port.calls_to("stop_stream")
    assert f"answer-{task.request_id}.md" in stop.args["markdown_text"]
    (upload,) = port.calls_to("upload")
    assert upload.args["filename"] == f"answer-{task.request_id}.md"
    assert upload.args["content"] == "".join(lines).strip()
    assert port.methods()[-1] == "upload"


async def test_task_cards_refused_the_steps_show_as_placeholder_lines(fake_time: FakeTime) -> None:
    """Slack refuses task chunks: the workspace stops offering them, steps go in a placeholder, text streams alone."""
    port = FakeSlackPort()
    budget = SlackBudget(clock=fake_time.clock)
    delivery, task = _delivery(port, fake_time, budget, placeholder=False), _task()
    port.refuse("start_stream", "invalid_chunks")

    await delivery.emit(ToolStarted(task, "list_alarms", ALARMS, "Listing CloudWatch alarms"))
    await delivery.emit(ToolFinished(task, "list_alarms", ALARMS, ok=True, seconds=0.4))
    await delivery.emit(ToolStarted(task, "get_metric", "CloudWatch metrics", "Reading 5xx metrics"))
    assert not budget.task_chunks
    (placeholder,) = port.messages
    assert port.messages[placeholder].text == (
        ":hourglass_flowing_sand: Working on it…\n• Listing CloudWatch alarms\n• Reading 5xx metrics"
    )
    fake_time.now += 1.0
    await delivery.emit(AnswerDelta(task, "Nothing is alarming."))
    await delivery.emit(_done(task, "Nothing is alarming."))

    refused, started = port.calls_to("start_stream")
    assert refused.args["chunks"]
    assert refused.args["task_display_mode"] == "timeline"
    assert started.args["chunks"] is None
    assert started.args["task_display_mode"] is None
    assert port.deleted == [placeholder]
    (answer,) = port.messages.values()
    assert answer.text == "Nothing is alarming."


async def test_a_task_card_held_by_a_rate_limited_append_still_reaches_the_stream(fake_time: FakeTime) -> None:
    """The append carrying a step's card is answered 429: the card waits with the text and goes in the next append."""
    port = FakeSlackPort()
    delivery, task = _delivery(port, fake_time, SlackBudget(clock=fake_time.clock), placeholder=False), _task()

    await delivery.emit(AnswerDelta(task, "Checking the alarms. "))
    fake_time.now += 1.0
    port.refuse("append_stream", "ratelimited", retry_after=1)
    await delivery.emit(ToolStarted(task, "list_alarms", ALARMS, "Listing CloudWatch alarms"))
    fake_time.now += 1.5
    await delivery.emit(ToolFinished(task, "list_alarms", ALARMS, ok=True, seconds=1.5))
    await delivery.emit(_done(task, "Checking the alarms. "))

    (answer,) = port.messages.values()
    assert [(chunk["id"], chunk["status"]) for chunk in answer.chunks] == [
        ("task-1", "in_progress"),
        ("task-1", "complete"),
    ]
    assert port.calls_to("append_stream")[0].outcome.error == "ratelimited"


async def test_a_task_that_waits_for_a_decision_leaves_no_message_streaming(fake_time: FakeTime) -> None:
    """Suspended mid-answer: the stream is stopped with a note saying what it waits for, and nothing is left open."""
    port = FakeSlackPort()
    budget = SlackBudget(clock=fake_time.clock)
    delivery, task = _delivery(port, fake_time, budget), _task()
    await delivery.emit(_routed(task))
    await delivery.emit(AnswerDelta(task, "Let me check that for you before changing anything. "))
    fake_time.now += 1.0
    await delivery.emit(TaskSuspended(task, "request_approval", "a person's approval", state="{}"))

    (start,) = port.calls_to("start_stream")
    (stop,) = port.calls_to("stop_stream")
    assert stop.args["ts"] == start.outcome.ts
    assert not any(message.streaming for message in port.messages.values())
    assert "Waiting for a decision" in port.messages[start.outcome.ts].text
    assert task.request_id in port.messages[start.outcome.ts].text
    assert budget.answers == 0


async def test_a_task_that_waits_before_any_text_posts_the_note(fake_time: FakeTime) -> None:
    """Suspended before the answer started: the note is posted in the thread with the request ID."""
    port = FakeSlackPort()
    delivery, task = _delivery(port, fake_time, SlackBudget(clock=fake_time.clock), placeholder=False), _task()
    await delivery.emit(TaskSuspended(task, "request_approval", "a person's approval", state="{}"))

    assert not port.calls_to("start_stream")
    (message,) = port.messages.values()
    assert "Waiting for a decision before going on (a person's approval)" in message.text
    assert task.request_id in message.text
