"""Prompt caching on Bedrock: where cache points go, what the fake Bedrock counts, and the loop reading its prefix.

The real aiobotocore client talks to the fake Bedrock Runtime, which holds every request to botocore's
service model and to Bedrock's cache-point rules, and answers cache read and write tokens for prefixes it
has seen (per model, hashed up to each cache point, with a TTL), so the numbers asserted here are the ones
Bedrock's accounting would give for the same bytes.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError
from pydantic import Field

from agents.catalog import AgentRegistry, AgentSpec
from agents.errors import ConfigError
from agents.events import TaskSucceeded
from agents.llm import BedrockChatModel, ChatMessage, ModelRequest, ReplyComplete, ToolDefinition, Usage, bedrock_client
from agents.llm._caching import cache_fields, cache_rules
from agents.router import KeywordRouter
from agents.runner import TaskRunner
from agents.settings import load_settings
from agents.task import ContextMessage, Origin, Task, new_request_id
from agents.testing.bedrock import FakeBedrock, Reply
from agents.testing.bedrock.cache import PromptCache
from agents.tools import Tool, ToolContext, ToolInput, ToolOutput, Toolset
from bot.render import token_count

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

CLAUDE = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA = "us.amazon.nova-pro-v1:0"
LLAMA = "meta.llama3-70b-instruct-v1:0"
POINT = {"cachePoint": {"type": "default"}}
TOOL = ToolDefinition("list_alarms", "Lists CloudWatch alarms.", {"type": "object", "properties": {}})
ORIGIN = Origin(workspace_id="T0CACHE", user_id="U0ANA", channel_id="C0OPS", surface="command")


@pytest.fixture
async def bedrock(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBedrock]:
    """A fake Bedrock reached through the standard endpoint override."""
    async with FakeBedrock() as fake:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        yield fake


def ask(model_id: str = CLAUDE, *, cache: bool = True, turns: int = 1) -> ModelRequest:
    """A request with a long system prompt and a tool; ``turns`` user/assistant turns ending with the user's."""
    messages = [ChatMessage("user", f"question {i} " * 50) for i in range(turns)]
    for i in range(1, turns * 2 - 1, 2):
        messages.insert(i, ChatMessage("assistant", "an answer " * 20))
    return ModelRequest(
        model_id=model_id, system="You are an SRE. " * 200, messages=tuple(messages), tools=(TOOL,), cache=cache
    )


# --- the one list of models --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "fields"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", {"tools", "system", "messages"}),
        (CLAUDE, {"tools", "system", "messages"}),
        (
            "arn:aws:bedrock:us-east-1:1:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
            {"tools", "system", "messages"},
        ),
        ("amazon.nova-lite-v1:0", {"system", "messages"}),
        (NOVA, {"system", "messages"}),
        (LLAMA, set()),
        ("amazon.titan-text-express-v1", set()),
    ],
)
def test_cache_points_go_only_where_the_model_family_takes_them(model_id: str, fields: set[str]) -> None:
    """Claude takes cache points in tools, system and messages; Nova not in tools; other families nowhere."""
    assert cache_fields(model_id) == fields


# --- the request the adapter sends -------------------------------------------------------------------------


async def test_a_claude_request_has_cache_points_after_tools_system_first_and_last_turn(bedrock: FakeBedrock) -> None:
    """Four cache points at most: after the tool definitions, the system prompt, the first turn and the last."""
    async with bedrock_client(region="us-east-1") as client:
        await BedrockChatModel(client).converse(ask(turns=2))
    body = bedrock.calls[-1].body
    assert body["toolConfig"]["tools"][-1] == POINT
    assert body["system"] == [{"text": "You are an SRE. " * 200}, POINT]
    contents = [message["content"] for message in body["messages"]]
    assert [content[-1] == POINT for content in contents] == [True, False, True]
    assert sum(block == POINT for content in contents for block in content) == 2


async def test_nova_gets_no_cache_point_in_its_tools_and_other_models_none_at_all(bedrock: FakeBedrock) -> None:
    """Bedrock refuses a cache point a model does not take: none for Llama, none in Nova's tools."""
    async with bedrock_client(region="us-east-1") as client:
        model = BedrockChatModel(client)
        await model.converse(ask(NOVA))
        await model.converse(ask(LLAMA))
    nova, llama = bedrock.calls[-2].body, bedrock.calls[-1].body
    assert POINT not in nova["toolConfig"]["tools"]
    assert nova["system"][-1] == POINT
    assert POINT in nova["messages"][0]["content"]
    assert "cachePoint" not in str(llama)


async def test_with_caching_off_no_cache_point_is_sent_and_nothing_is_cached(bedrock: FakeBedrock) -> None:
    """ORCH_PROMPT_CACHE=off: the same request twice, no cache points, every token is plain input."""
    async with bedrock_client(region="us-east-1") as client:
        model = BedrockChatModel(client)
        first = await model.converse(ask(cache=False))
        second = await model.converse(ask(cache=False))
    assert "cachePoint" not in str(bedrock.calls[-1].body)
    assert first.usage == second.usage
    assert (second.usage.cache_read_tokens, second.usage.cache_write_tokens) == (0, 0)


# --- the fake's accounting ---------------------------------------------------------------------------------


async def test_the_second_request_with_the_same_prefix_reads_it_from_the_cache(bedrock: FakeBedrock) -> None:
    """First call writes the prefix up to its last cache point; the same prefix again is read, and counted in input."""
    async with bedrock_client(region="us-east-1") as client:
        model = BedrockChatModel(client)
        first = await model.converse(ask())
        second = await model.converse(ask())
    assert first.usage.cache_read_tokens == 0
    assert first.usage.cache_write_tokens > 0
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens
    assert second.usage.cache_write_tokens == 0
    assert second.usage.input_tokens == first.usage.input_tokens  # input counts every prompt token
    raw = bedrock.calls[-1].usage
    assert raw is not None
    assert raw["inputTokens"] + raw["cacheReadInputTokens"] == second.usage.input_tokens


async def test_a_streamed_reply_reports_cache_tokens_in_its_metadata(bedrock: FakeBedrock) -> None:
    """ConverseStream's metadata carries cacheReadInputTokens and cacheWriteInputTokens; the adapter reads both."""
    async with bedrock_client(region="us-east-1") as client:
        model = BedrockChatModel(client)
        usages: list[Usage] = []
        for _ in range(2):
            usages.extend([e.reply.usage async for e in model.stream(ask()) if isinstance(e, ReplyComplete)])
    assert usages[0].cache_write_tokens > 0
    assert usages[1].cache_read_tokens == usages[0].cache_write_tokens


async def test_a_cached_prefix_expires_after_its_ttl_and_a_hit_refreshes_it() -> None:
    """Within the TTL a prefix is read (and its TTL starts again); after it, the prefix is written anew."""
    now = [0.0]
    cache = PromptCache(ttl=300, clock=lambda: now[0])
    body: dict[str, Any] = {
        "system": [{"text": "s" * 4000}, POINT],
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
    }
    assert cache.account(CLAUDE, body).cache_write == 1000
    now[0] = 299
    assert cache.account(CLAUDE, body).cache_read == 1000
    now[0] = 598
    assert cache.account(CLAUDE, body).cache_read == 1000  # refreshed at 299
    now[0] = 899
    assert cache.account(CLAUDE, body).cache_write == 1000
    assert cache.account("anthropic.claude-3-haiku-20240307-v1:0", body).cache_read == 0  # per model


async def test_a_prefix_below_the_models_minimum_is_not_cached() -> None:
    """Bedrock caches nothing shorter than the model's minimum per cache point: all of it stays plain input."""
    cache = PromptCache(min_tokens=1024)
    body: dict[str, Any] = {
        "system": [{"text": "s" * 400}, POINT],
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
    }
    usage = cache.account(CLAUDE, body)
    assert (usage.input_tokens, usage.cache_read, usage.cache_write) == (100, 0, 0)


async def test_with_the_models_rules_claude_s_hidden_tool_prompt_is_part_of_the_cached_prefix() -> None:
    """Claude offered tools gets a 346-token tool-use prompt: input, and part of the prefix the minimum counts.

    So a prefix of 800 visible tokens is cached with tools, and not without them (under Sonnet's 1,024).
    """
    cache = PromptCache(min_tokens=None)
    tool = {"toolSpec": {"name": "t", "description": "d", "inputSchema": {"json": {"type": "object"}}}}
    with_tools: dict[str, Any] = {
        "toolConfig": {"tools": [tool]},
        "system": [{"text": "s" * 3200}, POINT],
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
    }
    visible = (len(json.dumps(tool["toolSpec"], separators=(",", ":"))) + 3200 + 2) // 4
    first = cache.account(CLAUDE, with_tools)
    assert first.input_tokens + first.cache_write + first.cache_read == visible + 346
    assert first.cache_write > 0
    assert cache.account(CLAUDE, with_tools).cache_read == first.cache_write
    without: dict[str, Any] = {"system": [{"text": "s" * 3200}, POINT], "messages": with_tools["messages"]}
    assert cache.account(CLAUDE, without).cache_write == 0  # 800 tokens: under Sonnet's minimum


def _raw_client(endpoint: str) -> Any:
    return AioSession().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=AioConfig(retries={"mode": "standard", "total_max_attempts": 1}),
    )


@pytest.mark.parametrize(
    ("model_id", "request_body", "says"),
    [
        (LLAMA, {"system": [{"text": "s"}, POINT]}, "does not support prompt caching"),
        (
            NOVA,
            {"toolConfig": {"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {}}}}, POINT]}},
            "in tools",
        ),
        (CLAUDE, {"system": [POINT, {"text": "s"}]}, "cannot come first"),
        (
            CLAUDE,
            {
                "system": [
                    {"text": "a"},
                    POINT,
                    {"text": "b"},
                    POINT,
                    {"text": "c"},
                    POINT,
                    {"text": "d"},
                    POINT,
                    {"text": "e"},
                    POINT,
                ]
            },
            "maximum is 4",
        ),
        (CLAUDE, {"system": [{"text": "s"}, {"cachePoint": {"type": "forever"}}]}, "enum value set"),
    ],
    ids=["unsupported-model", "nova-tools", "first", "five", "bad-type"],
)
async def test_the_fake_refuses_misplaced_cache_points_as_bedrock_does(
    bedrock: FakeBedrock, model_id: str, request_body: dict[str, Any], says: str
) -> None:
    """A cache point the model does not take, in the wrong place, one too many or of an unknown type: a ValidationException."""
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    async with _raw_client(bedrock.endpoint_url) as client:
        with pytest.raises(ClientError) as caught:
            await client.converse(modelId=model_id, messages=messages, **request_body)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert says in caught.value.response["Error"]["Message"]


# --- the loop: turn 2 onward reads the prefix ---------------------------------------------------------------


class _Input(ToolInput):
    service: str = Field(description="The service.")


def _agent() -> AgentSpec:
    async def run(_ctx: ToolContext, request: _Input) -> ToolOutput:
        return ToolOutput(data={"service": request.service, "tasks": 2, "desired": 4}, summary="2 of 4")

    tool = Tool(
        name="describe_service",
        description="Describes an ECS service.",
        input_model=_Input,
        source="ECS",
        effect="read",
        progress=lambda _ctx, request: f"Reading {request.service}…",
        run=run,
    )
    return AgentSpec(
        name="infra",
        description="infra",
        examples=(),
        system_prompt="You look after the team's ECS services. " * 60,
        toolset=Toolset((tool,)),
    )


class _Sink:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def emit(self, event: Any) -> None:
        self.events.append(event)


async def _task(bedrock: FakeBedrock, *, prompt_cache: bool) -> Usage:
    """One task of three model calls (two tool turns, then the answer) through the real adapter."""
    bedrock.enqueue(
        Reply(tool_uses=[{"name": "describe_service", "input": {"service": "api"}}]),
        Reply(tool_uses=[{"name": "describe_service", "input": {"service": "worker"}}]),
        Reply(text="api runs 2 of 4 tasks."),
    )
    async with bedrock_client(region="us-east-1") as client:
        runner = TaskRunner(
            router=KeywordRouter(AgentRegistry([_agent()], default="infra")),
            model=BedrockChatModel(client),
            default_model_id=CLAUDE,
            tool_context=lambda task: ToolContext.for_task(task, aws=None, region="us-east-1"),  # type: ignore[arg-type]
            prompt_cache=prompt_cache,
        )
        sink = _Sink()
        await runner.run(Task(request_id=new_request_id(), origin=ORIGIN, text="why is the api degraded?"), sink)
    (succeeded,) = [e for e in sink.events if isinstance(e, TaskSucceeded)]
    return succeeded.result.usage


async def test_from_the_second_model_call_of_a_task_the_prefix_is_read_from_the_cache(bedrock: FakeBedrock) -> None:
    """Each turn of the tool loop reads everything up to the previous turn's last cache point, and the task adds it up."""
    usage = await _task(bedrock, prompt_cache=True)
    calls = [call.usage for call in bedrock.calls[-3:]]
    assert all(call is not None for call in calls)
    first, second, third = calls  # type: ignore[misc]
    assert first.get("cacheReadInputTokens", 0) == 0
    # Turn 2 reads exactly what turn 1 wrote; turn 3 reads what turns 1 and 2 wrote.
    assert second["cacheReadInputTokens"] == first["cacheWriteInputTokens"]
    assert third["cacheReadInputTokens"] == first["cacheWriteInputTokens"] + second["cacheWriteInputTokens"]
    later_input = sum(
        c["inputTokens"] + c["cacheReadInputTokens"] + c["cacheWriteInputTokens"] for c in (second, third)
    )
    assert (second["cacheReadInputTokens"] + third["cacheReadInputTokens"]) / later_input >= 0.8
    assert usage.cache_read_tokens == second["cacheReadInputTokens"] + third["cacheReadInputTokens"]
    assert usage.input_tokens == sum(
        c["inputTokens"] + c.get("cacheReadInputTokens", 0) + c.get("cacheWriteInputTokens", 0) for c in calls
    )


async def test_with_caching_off_the_same_task_costs_the_same_tokens_but_none_are_cached(bedrock: FakeBedrock) -> None:
    """Off, every call sends the whole prompt as plain input: same total input, nothing read or written."""
    off = await _task(bedrock, prompt_cache=False)
    bedrock.prompt_cache.clear()
    on = await _task(bedrock, prompt_cache=True)
    assert (off.cache_read_tokens, off.cache_write_tokens) == (0, 0)
    assert on.input_tokens == off.input_tokens
    assert on.cache_read_tokens > 0


# --- setting and footer -------------------------------------------------------------------------------------


def test_prompt_caching_is_on_by_default_and_orch_prompt_cache_off_turns_it_off() -> None:
    """ORCH_PROMPT_CACHE: on by default, ``off`` (any case) turns it off, anything else stops start-up naming it."""
    assert load_settings().bedrock.prompt_cache
    assert not load_settings(orch_prompt_cache="OFF").bedrock.prompt_cache
    with pytest.raises(ConfigError) as caught:
        load_settings(orch_prompt_cache="maybe")
    assert "ORCH_PROMPT_CACHE" in str(caught.value)


def test_the_footer_says_how_many_input_tokens_the_cache_served() -> None:
    """``12,345 in (9,800 cached) / 640 out tokens``; without cache reads, no parenthesis."""
    assert token_count(Usage(12_345, 640, 9_800, 1_200)) == "12,345 in (9,800 cached) / 640 out tokens"
    assert token_count(Usage(120, 30)) == "120 in / 30 out tokens"


# --- placement within Bedrock's four, thread context, the previous turn's prefix ---------------------------


def _points(body: dict[str, Any]) -> dict[str, Any]:
    """Where the request's cache points are: after the tools and system, and per message after which block."""
    contents = [message["content"] for message in body["messages"]]
    return {
        "tools": POINT in (body.get("toolConfig") or {}).get("tools", []),
        "system": POINT in body["system"],
        "messages": [[i for i, block in enumerate(content) if block == POINT] for content in contents],
        "total": str(body).count("cachePoint"),
    }


def follow_up(model_id: str = CLAUDE, *, turns: int = 1, cache: bool = True) -> ModelRequest:
    """A request whose first turn carries two thread messages as context before the question."""
    request = ask(model_id, cache=cache, turns=turns)
    first = ChatMessage("user", "and the worker?", context=("ana: checkout fails " * 30, "orch: the api runs 2 of 4"))
    return ModelRequest(
        model_id=model_id,
        system=request.system,
        messages=(first, *request.messages[1:]),
        tools=request.tools,
        cache=cache,
    )


@pytest.mark.parametrize(
    ("model_id", "minimum"),
    [
        (CLAUDE, 1_024),
        ("us.anthropic.claude-opus-4-1-20250805-v1:0", 1_024),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", 2_048),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", 4_096),
        (NOVA, 1_000),
        (LLAMA, 0),
    ],
)
def test_the_one_list_knows_each_familys_minimum_cacheable_prefix(model_id: str, minimum: int) -> None:
    """Bedrock caches nothing shorter than the model's minimum: 1,024 tokens for Sonnet, 4,096 for Haiku 4.5."""
    assert cache_rules(model_id).min_tokens == minimum


async def test_a_follow_up_gets_a_cache_point_between_its_thread_context_and_the_question(bedrock: FakeBedrock) -> None:
    """Claude, turn 1 with thread context: tools, system, after the context blocks, and the end: four points."""
    async with bedrock_client(region="us-east-1") as client:
        await BedrockChatModel(client).converse(follow_up())
    body = bedrock.calls[-1].body
    assert body["messages"][0]["content"] == [
        {"text": "ana: checkout fails " * 30},
        {"text": "orch: the api runs 2 of 4"},
        POINT,
        {"text": "and the worker?"},
        POINT,
    ]
    assert _points(body) == {"tools": True, "system": True, "messages": [[2, 4]], "total": 4}


@pytest.mark.parametrize("model_id", [CLAUDE, NOVA])
@pytest.mark.parametrize("turns", [1, 2, 3, 6])
async def test_no_request_has_more_than_four_cache_points(bedrock: FakeBedrock, model_id: str, turns: int) -> None:
    """The end, the previous request's end, the context and the system prompt come first; tools only with room."""
    async with bedrock_client(region="us-east-1") as client:
        await BedrockChatModel(client).converse(follow_up(model_id, turns=turns))
    points = _points(bedrock.calls[-1].body)
    assert points["total"] <= 4
    assert points["system"]
    last = len(points["messages"]) - 1
    assert points["messages"][last]  # the end: what the next turn reads
    if last >= 2:
        assert points["messages"][last - 2]  # the previous request's end: what this one reads
        assert not points["tools"]  # for Claude the system prompt's prefix holds the tools already
    if model_id == NOVA:
        assert not points["tools"]


async def test_with_caching_off_the_context_still_goes_first_and_no_cache_point_is_sent(bedrock: FakeBedrock) -> None:
    """ORCH_PROMPT_CACHE=off changes only the cache points: the thread context blocks come before the question."""
    async with bedrock_client(region="us-east-1") as client:
        await BedrockChatModel(client).converse(follow_up(cache=False))
    body = bedrock.calls[-1].body
    assert "cachePoint" not in str(body)
    assert [block["text"][:4] for block in body["messages"][0]["content"]] == ["ana:", "orch", "and "]


async def test_a_turn_after_many_parallel_tool_calls_still_reads_the_whole_previous_request(
    bedrock: FakeBedrock,
) -> None:
    """Twelve tool calls a turn (more blocks than Bedrock looks back over): each call reads all the one before sent."""
    tool_turns = 3
    for turn in range(tool_turns):
        calls = [{"name": "describe_service", "input": {"service": f"svc-{turn}-{i}"}} for i in range(12)]
        bedrock.enqueue(Reply(tool_uses=calls))
    bedrock.enqueue(Reply(text="all described."))
    async with bedrock_client(region="us-east-1") as client:
        runner = TaskRunner(
            router=KeywordRouter(AgentRegistry([_agent()], default="infra")),
            model=BedrockChatModel(client),
            default_model_id=CLAUDE,
            tool_context=lambda task: ToolContext.for_task(task, aws=None, region="us-east-1"),  # type: ignore[arg-type]
        )
        await runner.run(Task(request_id=new_request_id(), origin=ORIGIN, text="describe every service"), _Sink())
    calls = bedrock.calls[-(tool_turns + 1) :]
    assert all(_points(call.body)["total"] <= 4 for call in calls)
    usages = [call.usage for call in calls]
    for before, after in pairwise(usages):
        assert before is not None
        assert after is not None
        sent_before = before["inputTokens"] + before.get("cacheReadInputTokens", 0) + before["cacheWriteInputTokens"]
        assert after["cacheReadInputTokens"] == sent_before


async def _ask_in_thread(bedrock: FakeBedrock, question: str, context: tuple[ContextMessage, ...]) -> dict[str, int]:
    """One tool-less turn in a thread through the real runner and adapter; the usage of its model call."""
    bedrock.enqueue(Reply(text="the worker runs 3 of 3."))
    async with bedrock_client(region="us-east-1") as client:
        runner = TaskRunner(
            router=KeywordRouter(AgentRegistry([_agent()], default="infra")),
            model=BedrockChatModel(client),
            default_model_id=CLAUDE,
            tool_context=lambda task: ToolContext.for_task(task, aws=None, region="us-east-1"),  # type: ignore[arg-type]
        )
        task = Task(request_id=new_request_id(), origin=ORIGIN, text=question, context=context)
        await runner.run(task, _Sink())
    usage = bedrock.calls[-1].usage
    assert usage is not None
    return usage


async def test_the_next_follow_up_in_a_thread_reads_the_thread_so_far_from_the_cache(bedrock: FakeBedrock) -> None:
    """Follow-up 2 repeats follow-up 1's thread messages first: it reads them, not only the tools and system prompt."""
    thread = tuple(ContextMessage(author="user", text=f"incident note {i}: " + "x" * 400) for i in range(4))
    first = await _ask_in_thread(bedrock, "is the api short of tasks?", thread)
    answered = (
        *thread,
        ContextMessage(author="user", text="is the api short of tasks?"),
        ContextMessage(author="bot", text="the api runs 2 of 4 tasks."),
    )
    second = await _ask_in_thread(bedrock, "and the worker?", answered)
    elsewhere = await _ask_in_thread(bedrock, "and the worker?", (ContextMessage(author="user", text="other thread"),))
    assert first.get("cacheReadInputTokens", 0) == 0
    thread_tokens = sum(len(m.text) for m in thread) // 4
    assert second["cacheReadInputTokens"] >= elsewhere["cacheReadInputTokens"] + thread_tokens
