"""Typed tools: schemas derived from input models, one validation in the loop, and what a tool knows of its task."""

from __future__ import annotations

import io
import json
import logging
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from pydantic import BaseModel, Field

from agents.catalog import AgentRegistry, AgentSpec, default_registry
from agents.errors import InvalidToolInput, ToolFailed
from agents.events import TaskSucceeded, ToolFinished, ToolStarted
from agents.llm import BedrockChatModel, ChatMessage, ModelReply, ModelRequest, ToolCall, ToolDefinition, bedrock_client
from agents.observability import configure_logging
from agents.router import KeywordRouter
from agents.runner import TaskRunner
from agents.task import Origin, Task, new_request_id
from agents.testing import FakeChatModel
from agents.testing.bedrock import FakeBedrock
from agents.tools import Tool, ToolContext, ToolInput, ToolOutput, Toolset
from agents.tools._params import MAX_SCHEMA_CHARS, input_schema
from tests.unit.conftest import policy_actions

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
ORIGIN = Origin(
    workspace_id="T0TYPED", user_id="U0ANA", channel_id="C0OPS", thread_id="1700000000.000200", surface="mention"
)
REGISTRY = default_registry()
TOOLSETS = [agent.toolset for agent in REGISTRY.all() if agent.toolset]
ALL_TOOLS = list({tool.name: tool for toolset in TOOLSETS for tool in toolset.tools}.values())


# --- schemas -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ALL_TOOLS, ids=lambda tool: tool.name)
def test_every_tools_schema_is_derived_from_its_input_model(tool: Tool[Any]) -> None:
    """The schema Bedrock gets is the input model's: a closed object, self-contained, small, same required fields."""
    schema = tool.input_schema
    assert schema == input_schema(tool.input_model)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    text = json.dumps(schema, separators=(",", ":"))
    assert "$ref" not in text
    assert "$defs" not in text
    assert len(text) <= MAX_SCHEMA_CHARS
    required = {name for name, field in tool.input_model.model_fields.items() if field.is_required()}
    assert set(schema.get("required", ())) == required
    assert set(schema["properties"]) == set(tool.input_model.model_fields)


def test_all_tool_definitions_stay_within_a_token_budget() -> None:
    """Tool definitions ride on every model call: each agent's, as JSON, stays under ~1,500 tokens (4 chars each)."""
    for agent in REGISTRY.all():
        definitions = [
            {"name": t.name, "description": t.description, "inputSchema": t.input_schema} for t in agent.toolset.tools
        ]
        assert len(json.dumps(definitions, separators=(",", ":"))) <= 6_000, agent.name


class _Window(BaseModel):
    start: str = Field(description="ISO start.")
    end: str = Field(description="ISO end.")


class _NestedInput(ToolInput):
    window: _Window
    windows: tuple[_Window, ...] = ()


class _Node(ToolInput):
    children: tuple[_Node, ...] = ()


def test_nested_models_are_inlined_because_bedrock_cannot_resolve_refs() -> None:
    """A nested input model appears in place, not as a ``$ref`` into ``$defs``."""
    schema = input_schema(_NestedInput)
    text = json.dumps(schema)
    assert "$ref" not in text
    assert "$defs" not in text
    assert schema["properties"]["window"]["properties"]["start"] == {"type": "string", "description": "ISO start."}
    assert schema["properties"]["windows"]["items"]["required"] == ["start", "end"]


def test_a_recursive_input_model_is_refused_at_definition() -> None:
    """A schema that could only be sent with ``$ref`` cannot become a tool: the mistake shows at import, not in Bedrock."""
    with pytest.raises(ValueError, match="recursive"):
        input_schema(_Node)


@pytest.fixture
async def fake_bedrock(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBedrock]:
    """The fake Bedrock, checking requests against botocore's service model, reached through the endpoint override."""
    async with FakeBedrock() as fake:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        yield fake


async def test_bedrock_accepts_every_agents_tool_config(fake_bedrock: FakeBedrock) -> None:
    """Each agent's toolConfig, sent by the real adapter, passes the fake's botocore-model validation."""
    assert fake_bedrock.validate
    async with bedrock_client(region="us-east-1") as client:
        model = BedrockChatModel(client)
        for agent in REGISTRY.all():
            if not agent.toolset:
                continue
            definitions = tuple(ToolDefinition(t.name, t.description, t.input_schema) for t in agent.toolset.tools)
            reply = await model.converse(
                ModelRequest(
                    model_id=MODEL, system="be brief", messages=(ChatMessage("user", "hi"),), tools=definitions
                )
            )
            assert reply.text, agent.name
            sent = fake_bedrock.calls[-1].body["toolConfig"]["tools"]
            assert [tool["toolSpec"]["inputSchema"]["json"] for tool in sent] == [d.input_schema for d in definitions]


def test_every_tool_declares_its_effect_and_every_tool_today_reads() -> None:
    """``effect`` is part of every tool; none of the shipped tools writes."""
    assert ALL_TOOLS
    assert {tool.effect for tool in ALL_TOOLS} == {"read"}


def test_toolsets_declare_probes_and_actions_that_the_policy_allows() -> None:
    """Each AWS toolset has probes whose actions it declares; together they declare the policy's reads exactly."""
    declared: set[str] = set()
    for toolset in TOOLSETS:
        for probe in toolset.probes:
            assert probe.action in toolset.iam_actions, probe
            assert probe.action.split(":")[0] == probe.service
        assert toolset.iam_actions <= policy_actions()
        declared |= toolset.iam_actions
    assert declared == {action for action in policy_actions() if not action.startswith("bedrock:")}
    aws_sources = {tool.source for tool in ALL_TOOLS if tool.name != "read_shared_file"}
    probed = {probe.source for toolset in TOOLSETS for probe in toolset.probes}
    assert probed >= aws_sources - {"CloudWatch Logs Insights"}  # the DescribeLogGroups probe stands for Logs


# --- the loop ------------------------------------------------------------------------------------------


class _MetricsInput(ToolInput):
    resource_ids: tuple[str, ...] = Field(min_length=1, description="Ids.")
    minutes: int = Field(default=60, ge=1, description="Window.")


class _Recorder:
    """A tool that records what it was given."""

    def __init__(self, *, fail: ToolFailed | None = None) -> None:
        self.runs: list[tuple[ToolContext, _MetricsInput]] = []
        self.progress: list[_MetricsInput] = []
        self.fail = fail

    def tool(self) -> Tool[_MetricsInput]:
        async def run(ctx: ToolContext, request: _MetricsInput) -> ToolOutput:
            self.runs.append((ctx, request))
            if self.fail is not None:
                raise self.fail
            return ToolOutput(data={"ids": list(request.resource_ids)}, summary=f"{len(request.resource_ids)} ids")

        def progress(_ctx: ToolContext, request: _MetricsInput) -> str:
            self.progress.append(request)
            return f"Reading {', '.join(request.resource_ids)}…"

        return Tool(
            name="read_metrics",
            description="reads metrics",
            input_model=_MetricsInput,
            source="Metrics",
            effect="read",
            progress=progress,
            run=run,
        )


class _Sink:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def emit(self, event: Any) -> None:
        self.events.append(event)


async def _run(recorder: _Recorder, *calls: dict[str, Any]) -> tuple[Task, FakeChatModel, _Sink]:
    """One task whose model calls ``read_metrics`` with each of ``calls`` (one turn each), then answers."""
    agent = AgentSpec(
        name="metrics",
        description="reads metrics",
        examples=(),
        system_prompt="You read metrics.",
        toolset=Toolset((recorder.tool(),)),
    )
    model = FakeChatModel()
    model.enqueue(
        *(
            ModelReply(
                text="", model_id="m", tool_calls=(ToolCall(f"t{i}", "read_metrics", call),), stop_reason="tool_use"
            )
            for i, call in enumerate(calls)
        ),
        "done",
    )
    runner = TaskRunner(
        router=KeywordRouter(AgentRegistry([agent], default="metrics")),
        model=model,
        default_model_id="m",
        tool_context=lambda task: ToolContext.for_task(task, aws=None, region="eu-west-1"),  # type: ignore[arg-type]
    )
    task = Task(request_id=new_request_id(), origin=ORIGIN, text="how is i-1?")
    sink = _Sink()
    await runner.run(task, sink)
    return task, model, sink


def _results(model: FakeChatModel) -> list[Any]:
    return [result for message in model.requests[-1].messages for result in message.tool_results]


async def test_invalid_input_goes_back_to_the_model_naming_each_field_and_the_tool_never_runs() -> None:
    """A wrong type, a missing field and an unknown key: one error result naming them; no run, no crash."""
    recorder = _Recorder()
    _, model, sink = await _run(recorder, {"resource_id": "i-1", "minutes": "soon"})
    (result,) = _results(model)
    assert result.is_error
    assert "read_metrics was not called" in result.text
    for field in ("resource_ids: Field required", "minutes: Input should be a valid integer", "resource_id: Extra"):
        assert field in result.text
    assert "Correct these fields" in result.text
    assert recorder.runs == []
    assert recorder.progress == []
    assert not [e for e in sink.events if isinstance(e, ToolStarted | ToolFinished)]
    (succeeded,) = [e for e in sink.events if isinstance(e, TaskSucceeded)]
    assert succeeded.result.failed_sources == ()  # no data source failed: the model's input did


async def test_input_that_is_not_an_object_is_named_as_the_input() -> None:
    """Bedrock's unparsable tool input arrives as ``_unparsable_input``: named, not a KeyError."""
    recorder = _Recorder()
    _, model, _ = await _run(recorder, {"_unparsable_input": '{"resource_ids": ['})
    (result,) = _results(model)
    assert result.is_error
    assert "_unparsable_input: Extra inputs are not permitted" in result.text
    assert recorder.runs == []


async def test_the_corrected_call_runs_once_with_the_typed_input() -> None:
    """After an invalid call the model corrects itself; the tool and its progress line get the typed, defaulted input."""
    recorder = _Recorder()
    _, model, sink = await _run(recorder, {"resource_ids": "i-1"}, {"resource_ids": ["i-1", "i-2"]})
    assert len(recorder.runs) == 1
    (_, request), (shown,) = recorder.runs[0], recorder.progress
    assert request == shown == _MetricsInput(resource_ids=("i-1", "i-2"), minutes=60)
    (started,) = [e for e in sink.events if isinstance(e, ToolStarted)]
    assert started.progress == "Reading i-1, i-2…"
    (result,) = _results(model)[-1:]
    assert not result.is_error
    assert '"ids":["i-1","i-2"]' in result.text


async def test_the_tool_context_carries_the_tasks_origin_and_request_id() -> None:
    """Workspace, user, channel and thread, and the request ID, reach the tool (for a policy to decide on later)."""
    recorder = _Recorder()
    task, _, _ = await _run(recorder, {"resource_ids": ["i-1"]})
    ((ctx, _),) = recorder.runs
    assert ctx.request_id == task.request_id
    assert (ctx.origin.workspace_id, ctx.origin.user_id, ctx.origin.channel_id, ctx.origin.thread_id) == (
        "T0TYPED",
        "U0ANA",
        "C0OPS",
        "1700000000.000200",
    )
    assert ctx.region == "eu-west-1"


@pytest.mark.parametrize(("retryable", "hint"), [(True, True), (False, False)], ids=["transient", "lasting"])
async def test_a_transient_tool_failure_tells_the_model_the_user_can_retry(retryable: bool, hint: bool) -> None:
    """``ToolFailed.retryable`` reaches the model: throttling is worth a retry later, a missing permission is not."""
    recorder = _Recorder(
        fail=ToolFailed(source="Metrics", reason="ThrottlingException: slow down", retryable=retryable)
    )
    _, model, _ = await _run(recorder, {"resource_ids": ["i-1"]})
    (result,) = _results(model)
    assert result.is_error
    assert "Metrics failed: ThrottlingException: slow down" in result.text
    assert ("the user can try again shortly" in result.text) is hint


def test_invalid_tool_input_is_a_tool_failure_with_the_fields() -> None:
    """``Tool.parse`` raises InvalidToolInput (a ToolFailed) listing each bad field once, in order."""
    tool = _Recorder().tool()
    with pytest.raises(InvalidToolInput) as invalid:
        tool.parse({"minutes": 0, "extra": 1})
    assert isinstance(invalid.value, ToolFailed)
    assert invalid.value.fields == ("resource_ids", "minutes", "extra")
    assert invalid.value.source == "Metrics"
    assert invalid.value.reason.startswith("invalid input: resource_ids: Field required; minutes: ")


async def test_a_tools_summary_and_an_invalid_inputs_fields_are_logged_without_values() -> None:
    """``ToolOutput.summary`` is on the ``tool.finished`` line; invalid input logs field names, not what was sent."""
    buffer = io.StringIO()
    configure_logging(fmt="json", level="info", secrets=(), stream=buffer)
    try:
        await _run(_Recorder(), {"resource_ids": ["i-1", "i-2"]}, {"resource_ids": "sk-not-logged"})
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    (finished,) = [line for line in lines if line["event"] == "tool.finished"]
    assert finished["summary"] == "2 ids"
    (invalid,) = [line for line in lines if line["event"] == "tool.invalid_input"]
    assert invalid["fields"] == ["resource_ids"]
    assert "sk-not-logged" not in buffer.getvalue()
