"""The agent loop and Bedrock's stop reasons, with the scripted model: what is retried, trimmed and withdrawn."""

from __future__ import annotations

from agents.catalog import default_registry
from agents.errors import LLMContentBlocked, LLMContextTooLong
from agents.events import AnswerDelta, AnswerReset, TaskEvent, TaskFailed, TaskSucceeded
from agents.llm import ModelReply
from agents.router import KeywordRouter
from agents.runner import TaskRunner
from agents.task import ContextMessage, Origin, Task
from agents.testing import FakeChatModel

MODEL = "m"
ORIGIN = Origin(workspace_id="T1", user_id="U1", channel_id="C1", surface="command")


class Events:
    """A sink that keeps every event."""

    def __init__(self) -> None:
        self.seen: list[TaskEvent] = []

    async def emit(self, event: TaskEvent) -> None:
        self.seen.append(event)

    def final(self) -> TaskEvent:
        return self.seen[-1]


def reply(text: str, stop: str = "end_turn") -> ModelReply:
    """A scripted model turn ending with ``stop``."""
    return ModelReply(text=text, model_id=MODEL, stop_reason=stop)


async def run(model: FakeChatModel, task: Task) -> Events:
    """Run ``task`` through a real runner on ``model``; return its events."""
    events = Events()
    runner = TaskRunner(router=KeywordRouter(default_registry()), model=model, default_model_id=MODEL)
    await runner.run(task, events)
    return events


def task(text: str = "general: summarise the thread", context: int = 0) -> Task:
    """A task with ``context`` earlier thread messages."""
    messages = tuple(ContextMessage(author="user", text=f"thread message {i:02d}") for i in range(context))
    return Task(request_id="req-stops0001", origin=ORIGIN, text=text, agent=None, context=messages)


async def test_a_full_context_window_drops_older_thread_messages_and_retries_once() -> None:
    """model_context_window_exceeded: the retried request keeps only the latest thread messages; its answer wins."""
    model = FakeChatModel()
    model.enqueue(reply("Too mu", "model_context_window_exceeded"), reply("Short answer."))
    events = await run(model, task(context=12))
    first, second = ("\n".join((*r.messages[0].context, r.messages[0].text)) for r in model.requests)
    assert "thread message 00" in first
    assert "thread message 00" not in second
    assert "thread message 11" in second
    assert "summarise the thread" in second
    resets = [(e.text, e.reason) for e in events.seen if isinstance(e, AnswerReset)]
    assert resets == [("", "model_context_window_exceeded")]
    final = events.final()
    assert isinstance(final, TaskSucceeded)
    assert final.result.text == "Short answer."


async def test_a_second_full_context_window_is_a_friendly_failure() -> None:
    """Trimmed once and still too long: the task fails with LLMContextTooLong, no third call."""
    model = FakeChatModel()
    model.enqueue(reply("a", "model_context_window_exceeded"), reply("b", "model_context_window_exceeded"))
    events = await run(model, task(context=3))
    final = events.final()
    assert isinstance(final, TaskFailed)
    assert isinstance(final.error, LLMContextTooLong)
    assert len(model.requests) == 2


async def test_guardrail_text_is_withdrawn_before_the_failure() -> None:
    """The guardrail's canned text was streamed: the edge is told to drop it, then the task fails as blocked."""
    model = FakeChatModel()
    model.enqueue(reply("Sorry, I cannot help with that.", "guardrail_intervened"))
    events = await run(model, task("general: something blocked"))
    kinds = [type(event).__name__ for event in events.seen]
    assert kinds[-2:] == ["AnswerReset", "TaskFailed"]
    final = events.final()
    assert isinstance(final, TaskFailed)
    assert isinstance(final.error, LLMContentBlocked)
    assert final.error.reason == "guardrail_intervened"


async def test_max_tokens_appends_a_cut_short_note_to_the_answer() -> None:
    """max_tokens: the answer keeps its text and ends with the note, in the stream and in the result."""
    model = FakeChatModel()
    model.enqueue(reply("Part one of", "max_tokens"))
    events = await run(model, task())
    notes = [e.text for e in events.seen if isinstance(e, AnswerDelta) and "cut short" in e.text]
    assert len(notes) == 1
    final = events.final()
    assert isinstance(final, TaskSucceeded)
    assert final.result.text.startswith("Part one of")
    assert "4,096 output tokens" in final.result.text


async def test_malformed_tool_use_is_told_to_the_model_in_alternating_turns() -> None:
    """malformed_tool_use: the next request ends assistant → user with the correction, and the answer follows."""
    model = FakeChatModel()
    model.enqueue(reply("", "malformed_tool_use"), reply("Done properly."))
    events = await run(model, task())
    retried = model.requests[1].messages
    assert [m.role for m in retried] == ["user", "assistant", "user"]
    assert retried[1].text.strip()
    assert "could not be parsed" in retried[2].text
    final = events.final()
    assert isinstance(final, TaskSucceeded)
    assert final.result.text == "Done properly."
