"""Each door out of the core redacts once: the router's request, the agent's prompt, tool results, log lines."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
import structlog

from agents.catalog import default_registry
from agents.errors import ToolFailed
from agents.llm import ModelReply, ToolCall
from agents.observability import configure_logging
from agents.router import ModelRouter
from agents.runner import TaskRunner
from agents.task import ContextMessage, Origin, SharedFile, Task, new_request_id
from agents.testing import FakeChatModel
from agents.testing.secrets_corpus import CORPUS
from agents.tools import ToolContext, ToolInput
from agents.tools._base import Tool, ToolOutput, Toolset

ORIGIN = Origin(workspace_id="T1", user_id="U1", channel_id="C1", surface="command")
PLANTED = [sample.forms()["log line"] for sample in CORPUS]


def _leaks(text: str) -> list[str]:
    return [sample.kind for sample in CORPUS if sample.value in text or sample.tail in text]


def _requests_text(model: FakeChatModel) -> str:
    parts = []
    for request in model.requests:
        parts.append(request.system)
        for message in request.messages:
            parts.append(message.text)
            parts += [result.text for result in message.tool_results]
    return "\n".join(parts)


def _question(batch_size: int = 8) -> list[str]:
    return [" ; ".join(PLANTED[i : i + batch_size]) for i in range(0, len(PLANTED), batch_size)]


async def test_the_router_model_never_sees_a_secret_of_the_task() -> None:
    """Every corpus format in the task text is redacted in the router's request."""
    model = FakeChatModel()
    router = ModelRouter(default_registry(), model, model_id="router")
    for text in _question():
        await router.route(Task(request_id=new_request_id(), origin=ORIGIN, text=text))
    assert len(model.requests) == len(_question())
    assert _leaks(_requests_text(model)) == []
    assert "[REDACTED:" in _requests_text(model)


async def test_a_secret_cut_by_the_router_limit_is_redacted_first() -> None:
    """The router shows 2,000 characters; a token straddling the cut leaves no recognisable prefix behind."""
    token = CORPUS[0].value  # a Slack bot token
    model = FakeChatModel()
    router = ModelRouter(default_registry(), model, model_id="router")
    await router.route(Task(request_id=new_request_id(), origin=ORIGIN, text="x " * 995 + token))
    sent = _requests_text(model)
    assert "x x" in sent
    assert token[:10] not in sent  # the 10 characters that fit before the cut


class _Sink:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def emit(self, event: Any) -> None:
        self.events.append(event)


class _Files:
    async def read(self, file_id: str, *, max_bytes: int) -> tuple[str, bytes]:
        del max_bytes
        return f"{file_id}.log", "\n".join(PLANTED).encode()


def _leaky_tool(name: str, *, fail: bool) -> Tool:
    async def run(_: ToolContext, __: ToolInput) -> ToolOutput:
        if fail:
            raise ToolFailed(source="vault", reason="login failed for " + " ".join(PLANTED))
        return ToolOutput(data={"events": [{"message": line} for line in PLANTED]})

    return Tool(
        name=name,
        description="returns what it found",
        input_model=ToolInput,
        source=name,
        effect="read",
        progress=lambda _ctx, _args: "reading",
        run=run,
    )


@pytest.mark.parametrize("fail", [False, True], ids=["result", "error"])
async def test_prompt_thread_files_and_tool_output_reach_the_model_redacted(fail: bool) -> None:
    """Task text, thread context, file names, tool results and tool errors: no corpus format reaches the model."""
    from agents.catalog import AgentRegistry, AgentSpec  # noqa: PLC0415 - only this test builds an agent

    agent = AgentSpec(
        name="leaky",
        description="reads leaky tools",
        examples=(),
        system_prompt="You read tools.",
        toolset=Toolset((_leaky_tool("leaky_tool", fail=fail),)),
    )
    model = FakeChatModel()
    model.enqueue(
        ModelReply(text="", model_id="m", tool_calls=(ToolCall("t1", "leaky_tool", {}),), stop_reason="tool_use"),
        "done",
    )
    runner = TaskRunner(
        router=ModelRouter(AgentRegistry([agent], default="leaky"), model, model_id="router"),
        model=model,
        default_model_id="m",
        tool_context=lambda task: ToolContext.for_task(task, aws=None, region="us-east-1", files=_Files()),  # type: ignore[arg-type]
    )
    task = Task(
        request_id=new_request_id(),
        origin=ORIGIN,
        text=_question()[0],
        context=tuple(ContextMessage(author="user", text=text) for text in _question()),
        files=(SharedFile(id="F1", name="creds " + CORPUS[4].value + ".log", size=10),),
    )
    await runner.run(task, _Sink())
    sent = _requests_text(model)
    assert len(model.requests) == 2
    assert "worker-3" in sent  # the tool's data did reach the model
    assert _leaks(sent) == []


def _shared_file(lines: list[str]) -> ToolContext:
    class _File:
        async def read(self, file_id: str, *, max_bytes: int) -> tuple[str, bytes]:
            del file_id, max_bytes
            return "big.log", "\n".join(lines).encode()

    return ToolContext(
        aws=None, region="us-east-1", origin=ORIGIN, request_id=new_request_id(), files=_File(), file_ids=("F1",)
    )  # type: ignore[arg-type]


async def test_a_large_shared_file_shows_the_model_no_secret() -> None:
    """``read_shared_file`` reduces a 20,000-line log to templates and samples, none with a corpus format."""
    from agents.tools.uploads import READ_SHARED_FILE  # noqa: PLC0415

    noise = [f"INFO request {i} ok" for i in range(20_000)]
    output = await READ_SHARED_FILE.run(
        _shared_file(noise[:10_000] + PLANTED * 3 + noise[10_000:]), READ_SHARED_FILE.parse({"file_id": "F1"})
    )
    content = json.dumps(output.data)
    assert output.data["lines"] > 20_000
    assert "[REDACTED:" in content
    assert _leaks(content) == []


async def test_a_shared_file_is_redacted_before_its_long_lines_are_cut() -> None:
    """A secret across the reducer's 500-character line cut leaves no prefix: the file is redacted first."""
    from agents.tools.uploads import READ_SHARED_FILE  # noqa: PLC0415

    token = CORPUS[4].value  # a GitHub token
    lines = [f"INFO request {i} ok" for i in range(5_000)] + ["ERROR " + "x" * 465 + " " + token]
    output = await READ_SHARED_FILE.run(_shared_file(lines), READ_SHARED_FILE.parse({"file_id": "F1"}))
    content = json.dumps(output.data)
    assert "ERROR xxx" in content
    assert token[:20] not in content


@pytest.fixture
def log_output() -> io.StringIO:
    """Logging configured as in production (JSON), writing to a buffer."""
    buffer = io.StringIO()
    configure_logging(fmt="json", level="info", stream=buffer)
    yield buffer
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_every_string_in_a_log_event_is_redacted(log_output: io.StringIO) -> None:
    """Top-level values, nested ones, stdlib messages and arguments: no corpus format reaches a log line."""
    structlog.get_logger("t").info(
        "task.debug", text=PLANTED[0], nested={"items": PLANTED[1:10], PLANTED[10]: "key"}, pair=tuple(PLANTED[11:20])
    )
    logging.getLogger("botocore").warning("request %s failed: %s", PLANTED[20], " ".join(PLANTED[21:30]))
    structlog.get_logger("t").info(" ".join(PLANTED[30:]))
    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert len(lines) == 3
    assert _leaks(log_output.getvalue()) == []
    assert isinstance(lines[0]["nested"]["items"], list)  # structure survives for JSON logs


def test_an_exception_message_is_redacted_before_it_is_shortened(log_output: io.StringIO) -> None:
    """A logged exception keeps at most 500 characters of its message, cut after redaction, never through a secret."""
    token = CORPUS[4].value  # a GitHub token, 40 characters
    try:
        raise RuntimeError("x" * 480 + " " + token + " and " + " ".join(PLANTED))  # noqa: TRY301 - a live exception
    except RuntimeError:
        structlog.get_logger("t").exception("task.crashed")
    (line,) = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert line["error_type"] == "RuntimeError"
    assert len(line["error"]) <= 500
    assert token[:8] not in log_output.getvalue()
    assert _leaks(log_output.getvalue()) == []
