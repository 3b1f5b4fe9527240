import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from agents.testing.bedrock import (
    ERROR_STATUS,
    STOP_REASONS,
    STREAM_ERRORS,
    FakeBedrock,
    Fault,
    Reply,
    encode_event_frame,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"
BRIEF_FAULTS = [
    ("ValidationException", 400),
    ("AccessDeniedException", 403),
    ("ResourceNotFoundException", 404),
    ("ModelTimeoutException", 408),
    ("ModelErrorException", 424),
    ("ThrottlingException", 429),
    ("ModelNotReadyException", 429),
    ("InternalServerException", 500),
    ("ServiceUnavailableException", 503),
]


def _client(endpoint_url: str | None, **config: Any):
    return AioSession().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=AioConfig(retries={"mode": "standard", "total_max_attempts": 1}, **config),
    )


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"text": text}]}


@pytest.fixture
async def fake() -> AsyncIterator[FakeBedrock]:
    """A running fake with default settings."""
    async with FakeBedrock() as server:
        yield server


@pytest.fixture
async def client(fake: FakeBedrock):
    """The real aiobotocore Bedrock Runtime client, pointed at ``fake``, without retries."""
    async with _client(fake.endpoint_url) as bedrock:
        yield bedrock


async def _collect(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [event async for event in response["stream"]]


def test_encoder_frames_decode_with_botocore() -> None:
    """Frames from encode_event_frame pass botocore's decoder: lengths, both CRCs, headers, payload."""
    frames = encode_event_frame({":event-type": "messageStart", ":message-type": "event"}, b'{"role":"x"}')
    frames += encode_event_frame({"ünïcode": "välue ✓"}, b"")
    buffer = EventStreamBuffer()
    buffer.add_data(frames[:7])  # a partial prelude yields nothing yet
    assert list(buffer) == []
    buffer.add_data(frames[7:])
    first, second = list(buffer)
    assert first.headers == {":event-type": "messageStart", ":message-type": "event"}
    assert first.payload == b'{"role":"x"}'
    assert second.headers == {"ünïcode": "välue ✓"}
    assert second.payload == b""


async def test_converse_returns_scripted_text_and_usage(fake: FakeBedrock, client) -> None:
    """A scripted Reply comes back as the assistant message with its usage, stop reason and metrics."""
    fake.enqueue(Reply(text="The bucket is public.", input_tokens=42, output_tokens=7))
    response = await client.converse(
        modelId=HAIKU,
        system=[{"text": "be brief"}],
        messages=[_user("is my bucket public?")],
        inferenceConfig={"maxTokens": 100, "temperature": 0.0},
    )
    assert response["output"]["message"] == {
        "role": "assistant",
        "content": [{"text": "The bucket is public."}],
    }
    assert response["stopReason"] == "end_turn"
    assert response["usage"] == {"inputTokens": 42, "outputTokens": 7, "totalTokens": 49}
    assert response["metrics"]["latencyMs"] >= 0
    assert response["ResponseMetadata"]["RequestId"]
    (call,) = fake.calls
    assert call.model_id == HAIKU
    assert not call.stream
    assert call.body["system"] == [{"text": "be brief"}]
    assert call.body["inferenceConfig"] == {"maxTokens": 100, "temperature": 0.0}
    assert call.headers["authorization"].startswith("AWS4-HMAC-SHA256")


async def test_default_reply_echoes_last_user_message_with_estimated_usage(fake: FakeBedrock, client) -> None:
    """With an empty script the fake echoes the last user text; tokens default to chars // 4 estimates."""
    messages = [_user("first question"), _assistant("an answer"), _user("x" * 40)]
    response = await client.converse(modelId=HAIKU, messages=messages)
    text = response["output"]["message"]["content"][0]["text"]
    assert text == "echo: " + "x" * 40
    prompt_chars = len("first question") + len("an answer") + 40
    assert response["usage"]["inputTokens"] == prompt_chars // 4
    assert response["usage"]["outputTokens"] == len(text) // 4 + 1


async def test_script_is_consumed_in_order_then_default_reply_applies(fake: FakeBedrock, client) -> None:
    """Scripted items are served FIFO, one per request; a custom default_reply takes over afterwards."""
    fake.enqueue(Reply(text="one"), Fault("ThrottlingException"), Reply(text="two"))
    fake.default_reply = lambda call: Reply(text=f"default for {call.model_id}")
    first = await client.converse(modelId=HAIKU, messages=[_user("a")])
    with pytest.raises(ClientError):
        await client.converse(modelId=HAIKU, messages=[_user("b")])
    second = await client.converse(modelId=HAIKU, messages=[_user("c")])
    third = await client.converse(modelId=HAIKU, messages=[_user("d")])
    texts = [r["output"]["message"]["content"][0]["text"] for r in (first, second, third)]
    assert texts == ["one", "two", f"default for {HAIKU}"]


@pytest.mark.parametrize("model_id", [HAIKU, PROFILE_ARN, "us.amazon.nova-lite-v1:0"])
async def test_model_ids_with_colons_and_slashes_round_trip(fake: FakeBedrock, client, model_id: str) -> None:
    """Botocore percent-encodes ':' and '/' in the path; the fake records the decoded model id."""
    await client.converse(modelId=model_id, messages=[_user("hi")])
    await _collect(await client.converse_stream(modelId=model_id, messages=[_user("hi")]))
    assert [(c.model_id, c.stream) for c in fake.calls] == [(model_id, False), (model_id, True)]


@pytest.mark.parametrize(("code", "status"), BRIEF_FAULTS)
async def test_each_fault_surfaces_as_client_error(fake: FakeBedrock, client, code: str, status: int) -> None:
    """A scripted Fault reaches botocore as ClientError with its code, HTTP status and message."""
    fake.enqueue(Fault(code, message=f"scripted {code}"))
    with pytest.raises(ClientError) as caught:
        await client.converse(modelId=HAIKU, messages=[_user("hi")])
    error = caught.value.response
    assert error["Error"]["Code"] == code
    assert error["Error"]["Message"] == f"scripted {code}"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert ERROR_STATUS[code] == status


@pytest.mark.parametrize(("code", "status"), BRIEF_FAULTS[:6])
async def test_fault_before_stream_surfaces_as_client_error(fake: FakeBedrock, client, code: str, status: int) -> None:
    """A Fault without mid_stream fails converse_stream itself with ClientError, before any event."""
    fake.enqueue(Fault(code))
    with pytest.raises(ClientError) as caught:
        await client.converse_stream(modelId=HAIKU, messages=[_user("hi")])
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


async def test_fault_status_can_be_overridden_and_unknown_codes_need_one(fake: FakeBedrock, client) -> None:
    """Fault(status=...) overrides the table; a code outside the table without a status is refused."""
    fake.enqueue(Fault("SomethingNewException", status=418))
    with pytest.raises(ClientError) as caught:
        await client.converse(modelId=HAIKU, messages=[_user("hi")])
    assert caught.value.response["Error"]["Code"] == "SomethingNewException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 418
    with pytest.raises(ValueError, match="pass status"):
        Fault("SomethingNewException")


async def test_denied_and_unknown_models_are_rejected_without_consuming_the_script(fake: FakeBedrock, client) -> None:
    """denied_models -> AccessDeniedException 403, unknown_models -> ResourceNotFoundException 404."""
    fake.denied_models.add("anthropic.claude-opus-4-v1:0")
    fake.unknown_models.add("no.such-model-v1:0")
    fake.enqueue(Reply(text="kept"))
    with pytest.raises(ClientError) as denied:
        await client.converse(modelId="anthropic.claude-opus-4-v1:0", messages=[_user("hi")])
    assert denied.value.response["Error"] == {
        "Code": "AccessDeniedException",
        "Message": "You don't have access to the model with the specified model ID.",
    }
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as unknown:
        await client.converse_stream(modelId="no.such-model-v1:0", messages=[_user("hi")])
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    response = await client.converse(modelId=HAIKU, messages=[_user("hi")])
    assert response["output"]["message"]["content"] == [{"text": "kept"}]
    assert len(fake.calls) == 3


@pytest.mark.parametrize(
    ("messages", "needle"),
    [
        ([], "must start with a user message"),
        ([_assistant("hello")], "must start with a user message"),
        ([_user("a"), _user("b")], "must alternate"),
        ([_user("a"), _assistant("b"), _assistant("c")], "must alternate"),
        ([{"role": "user", "content": []}], "content field in the Message object at messages.0 is empty"),
        ([{"role": "system", "content": [{"text": "x"}]}], "Member must satisfy enum value set"),
    ],
)
async def test_invalid_conversations_are_validation_errors(
    fake: FakeBedrock, client, messages: list[dict[str, Any]], needle: str
) -> None:
    """Bedrock's conversation rules (user first, strict alternation, non-empty content) give 400s."""
    with pytest.raises(ClientError) as caught:
        await client.converse(modelId=HAIKU, messages=messages)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert needle in caught.value.response["Error"]["Message"]


async def test_missing_messages_and_zero_max_tokens_are_validation_errors(fake: FakeBedrock) -> None:
    """Server-side checks catch what botocore's own parameter validation would (here switched off)."""
    async with _client(fake.endpoint_url, parameter_validation=False) as bedrock:
        with pytest.raises(ClientError) as missing:
            await bedrock.converse(modelId=HAIKU)
        with pytest.raises(ClientError) as zero:
            await bedrock.converse(modelId=HAIKU, messages=[_user("hi")], inferenceConfig={"maxTokens": 0})
    assert missing.value.response["Error"]["Code"] == "ValidationException"
    assert zero.value.response["Error"]["Code"] == "ValidationException"
    assert "inferenceConfig.maxTokens" in zero.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"messages": [{"role": "user"}]}, "Value null at 'messages.1.member.content' failed to satisfy constraint"),
        ({"inferenceConfig": {"maxTokens": "ten"}}, "at 'inferenceConfig.maxTokens' failed to satisfy constraint"),
        ({"inferenceConfig": {"temperature": 1.5}}, "Member must have value less than or equal to 1"),
        ({"performanceConfig": {"latency": "turbo"}}, "Member must satisfy enum value set: [standard, optimized]"),
        (
            {"toolConfig": {"tools": [{"toolSpec": {"name": "list alarms", "inputSchema": {"json": {}}}}]}},
            "at 'toolConfig.tools.1.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular",
        ),
        (
            {"messages": [{"role": "user", "content": [{"text": "hi", "cachePoint": {"type": "default"}}]}]},
            "Member must have exactly one member set",
        ),
    ],
)
async def test_requests_are_validated_against_botocores_service_model(
    fake: FakeBedrock, overrides: dict[str, Any], needle: str
) -> None:
    """Required members, types, bounds, enums, patterns and unions: each a real ValidationException."""
    body: dict[str, Any] = {"messages": [_user("hi")], **overrides}
    async with _client(fake.endpoint_url, parameter_validation=False) as bedrock:
        with pytest.raises(ClientError) as caught:
            await bedrock.converse(modelId=HAIKU, **body)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert needle in caught.value.response["Error"]["Message"]
    assert caught.value.response["Error"]["Message"].startswith("1 validation error detected: Value ")


@pytest.mark.parametrize("blank", ["", "\n\n", "  \t "])
async def test_whitespace_only_text_blocks_reject_the_whole_request(fake: FakeBedrock, client, blank: str) -> None:
    """An assistant turn of blank text (that botocore sends happily) makes Bedrock refuse the request."""
    messages = [_user("hi"), _assistant(blank), _user("and?")]
    with pytest.raises(ClientError) as caught:
        await client.converse_stream(modelId=HAIKU, messages=messages)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "text content blocks must contain non-whitespace text" in caught.value.response["Error"]["Message"]


async def test_model_ids_are_held_to_their_pattern(fake: FakeBedrock, client) -> None:
    """A model id with a space fails modelId's pattern, as it would at Bedrock."""
    with pytest.raises(ClientError) as caught:
        await client.converse(modelId="claude 3", messages=[_user("hi")])
    assert "at 'modelId' failed to satisfy constraint" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize("reason", STOP_REASONS)
async def test_every_documented_stop_reason_can_be_sent(fake: FakeBedrock, client, reason: str) -> None:
    """Reply(stop=…) ends a Converse and a ConverseStream turn with each stopReason botocore documents."""
    fake.enqueue(Reply(text="some text", stop=reason), Reply(text="some text", stop=reason))
    response = await client.converse(modelId=HAIKU, messages=[_user("hi")])
    events = await _collect(await client.converse_stream(modelId=HAIKU, messages=[_user("hi")]))
    assert response["stopReason"] == reason
    assert [e["messageStop"]["stopReason"] for e in events if "messageStop" in e] == [reason]


def test_undocumented_stop_reasons_and_stream_errors_are_refused() -> None:
    """The script cannot send what Bedrock never does: an unknown stopReason, or a mid-stream ModelNotReady."""
    assert "model_context_window_exceeded" in STOP_REASONS
    assert "ModelStreamErrorException" in STREAM_ERRORS
    with pytest.raises(ValueError, match="undocumented stopReason"):
        Reply(stop="tired")
    with pytest.raises(ValueError, match="not a ConverseStream event"):
        Fault("ModelNotReadyException", mid_stream=True)


@pytest.mark.parametrize("code", STREAM_ERRORS)
async def test_every_documented_stream_error_can_be_sent_mid_stream(fake: FakeBedrock, client, code: str) -> None:
    """Each exception event ConverseStream documents arrives after the partial text, as botocore's EventStreamError."""
    fake.enqueue(Fault(code, mid_stream=True, partial="so far"))
    response = await client.converse_stream(modelId=HAIKU, messages=[_user("hi")])
    with pytest.raises(EventStreamError) as caught:
        await _collect(response)
    assert caught.value.response["Error"]["Code"] == code[:1].lower() + code[1:]


async def test_converse_tool_use_reply(fake: FakeBedrock, client) -> None:
    """A Reply with tool_uses returns text plus toolUse blocks and stopReason tool_use."""
    tool = {"toolUseId": "tooluse_1", "name": "list_buckets", "input": {"region": "eu-west-1"}}
    fake.enqueue(Reply(text="Let me check.", tool_uses=[tool]))
    response = await client.converse(modelId=HAIKU, messages=[_user("list my buckets")])
    assert response["stopReason"] == "tool_use"
    assert response["output"]["message"]["content"] == [{"text": "Let me check."}, {"toolUse": tool}]


def test_reply_fills_in_tool_use_defaults() -> None:
    """A tool use without toolUseId or input gets a fresh id and an empty input; a name is required."""
    reply = Reply(tool_uses=[{"name": "whoami"}])
    assert reply.tool_uses[0]["toolUseId"].startswith("tooluse_")
    assert reply.tool_uses[0]["input"] == {}
    with pytest.raises(TypeError, match="name"):
        Reply(tool_uses=[{"input": {}}])


async def test_converse_stream_text_is_chunked_and_reassembles(fake: FakeBedrock, client) -> None:
    """converse_stream yields messageStart, chunk_size deltas, stops and metadata; text reassembles."""
    text = "Your account has 3 public buckets and 2 idle load balancers."
    fake.chunk_size = 10
    fake.enqueue(Reply(text=text, input_tokens=11, output_tokens=13))
    response = await client.converse_stream(modelId=HAIKU, messages=[_user("audit")])
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    events = await _collect(response)
    kinds = [next(iter(event)) for event in events]
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    assert kinds[0] == "messageStart"
    assert events[0]["messageStart"] == {"role": "assistant"}
    assert kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert len(deltas) == -(-len(text) // 10)
    assert all(d["contentBlockIndex"] == 0 and len(d["delta"]["text"]) <= 10 for d in deltas)
    assert "".join(d["delta"]["text"] for d in deltas) == text
    assert events[-2]["messageStop"] == {"stopReason": "end_turn"}
    assert events[-1]["metadata"]["usage"] == {"inputTokens": 11, "outputTokens": 13, "totalTokens": 24}
    assert events[-1]["metadata"]["metrics"]["latencyMs"] >= 0


async def test_converse_stream_tool_use_fragments_reassemble(fake: FakeBedrock, client) -> None:
    """Tool inputs stream as JSON string fragments in their own content blocks and parse back intact."""
    tools = [
        {
            "toolUseId": "tooluse_a",
            "name": "describe_instances",
            "input": {"filters": [{"state": "running"}]},
        },
        {"toolUseId": "tooluse_b", "name": "get_cost", "input": {"period": "2024-05", "group_by": "SERVICE"}},
    ]
    fake.chunk_size = 7
    fake.enqueue(Reply(text="Checking two things.", tool_uses=tools))
    events = await _collect(await client.converse_stream(modelId=HAIKU, messages=[_user("status?")]))
    starts = {
        e["contentBlockStart"]["contentBlockIndex"]: e["contentBlockStart"]["start"]
        for e in events
        if "contentBlockStart" in e
    }
    assert starts == {
        1: {"toolUse": {"toolUseId": "tooluse_a", "name": "describe_instances"}},
        2: {"toolUse": {"toolUseId": "tooluse_b", "name": "get_cost"}},
    }
    fragments: dict[int, str] = {}
    text = ""
    for event in events:
        if delta := event.get("contentBlockDelta"):
            if "toolUse" in delta["delta"]:
                index = delta["contentBlockIndex"]
                fragments[index] = fragments.get(index, "") + delta["delta"]["toolUse"]["input"]
            else:
                text += delta["delta"]["text"]
    assert text == "Checking two things."
    assert {i: json.loads(f) for i, f in fragments.items()} == {1: tools[0]["input"], 2: tools[1]["input"]}
    stops = [e["contentBlockStop"]["contentBlockIndex"] for e in events if "contentBlockStop" in e]
    assert stops == [0, 1, 2]
    assert [e["messageStop"] for e in events if "messageStop" in e] == [{"stopReason": "tool_use"}]


async def test_mid_stream_fault_raises_event_stream_error_after_partial_text(fake: FakeBedrock, client) -> None:
    """A mid_stream Fault streams some text, then an exception frame botocore raises as EventStreamError."""
    fake.enqueue(Fault("ThrottlingException", message="slow down", mid_stream=True))
    response = await client.converse_stream(modelId=HAIKU, messages=[_user("hello there")])
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    events = aiter(response["stream"])
    assert await anext(events) == {"messageStart": {"role": "assistant"}}
    partial = await anext(events)
    assert partial["contentBlockDelta"]["delta"]["text"]
    with pytest.raises(EventStreamError) as caught:
        await anext(events)
    assert caught.value.response["Error"] == {"Code": "throttlingException", "Message": "slow down"}


async def test_mid_stream_flag_is_ignored_by_converse(fake: FakeBedrock, client) -> None:
    """Converse has no stream to break, so a mid_stream Fault is a plain HTTP error there."""
    fake.enqueue(Fault("ModelStreamErrorException", mid_stream=True))
    with pytest.raises(ClientError) as caught:
        await client.converse(modelId=HAIKU, messages=[_user("hi")])
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424


async def test_chunk_delay_spaces_out_streamed_deltas() -> None:
    """chunk_delay pauses between deltas, so streaming latency is observable (loose lower bound only)."""
    async with FakeBedrock(chunk_delay=0.05, chunk_size=4) as fake, _client(fake.endpoint_url) as bedrock:
        fake.enqueue(Reply(text="x" * 20))
        response = await bedrock.converse_stream(modelId=HAIKU, messages=[_user("hi")])
        stamps = [time.monotonic() async for event in response["stream"] if "contentBlockDelta" in event]
    assert len(stamps) == 5
    assert stamps[-1] - stamps[0] >= 4 * 0.05 * 0.8


async def test_fifty_concurrent_requests_overlap() -> None:
    """Latency is a non-blocking sleep: 50 concurrent 1 s requests are all in flight together."""
    async with (
        FakeBedrock(latency=1.0) as fake,
        _client(fake.endpoint_url, max_pool_connections=64) as bedrock,
    ):
        calls = [bedrock.converse(modelId=HAIKU, messages=[_user(f"q{i}")]) for i in range(25)]
        calls += [bedrock.converse_stream(modelId=HAIKU, messages=[_user(f"s{i}")]) for i in range(25)]
        responses = await asyncio.gather(*calls)
        streamed = [await _collect(r) for r in responses[25:]]
    assert fake.peak_in_flight >= 40
    assert fake.in_flight == 0
    assert len(fake.calls) == 50
    assert responses[3]["output"]["message"]["content"] == [{"text": "echo: q3"}]
    assert all(events[-1]["metadata"]["metrics"]["latencyMs"] >= 150 for events in streamed)


async def test_reply_latency_overrides_server_latency() -> None:
    """Reply.latency replaces FakeBedrock.latency for that one turn (and is reported in latencyMs)."""
    async with FakeBedrock(latency=5.0) as fake, _client(fake.endpoint_url) as bedrock:
        fake.enqueue(Reply(text="fast", latency=0.0))
        response = await bedrock.converse(modelId=HAIKU, messages=[_user("hi")])
    assert response["metrics"]["latencyMs"] < 5000


async def test_wait_for_calls_returns_once_enough_requests_arrived(fake: FakeBedrock, client) -> None:
    """wait_for_calls resolves when the count is reached and times out with a clear error otherwise."""
    waiter = asyncio.create_task(fake.wait_for_calls(2, timeout=5.0))
    await client.converse(modelId=HAIKU, messages=[_user("a")])
    assert not waiter.done()
    await client.converse(modelId=HAIKU, messages=[_user("b")])
    calls = await waiter
    assert [c.body["messages"][0]["content"][0]["text"] for c in calls] == ["a", "b"]
    with pytest.raises(TimeoutError, match="expected 3 Bedrock calls"):
        await fake.wait_for_calls(3, timeout=0.05)
    assert fake._waiters == []


async def test_endpoint_env_var_is_honoured(fake: FakeBedrock, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_ENDPOINT_URL_BEDROCK_RUNTIME points an unconfigured client at the fake, as the bot relies on."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.endpoint_url)
    async with _client(None) as bedrock:
        response = await bedrock.converse(modelId=HAIKU, messages=[_user("via env")])
    assert response["output"]["message"]["content"] == [{"text": "echo: via env"}]


async def test_endpoint_url_requires_a_running_server() -> None:
    """endpoint_url is only meaningful between start() and stop()."""
    fake = FakeBedrock()
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.endpoint_url
    await fake.start()
    assert fake.endpoint_url.startswith("http://127.0.0.1:")
    await fake.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.endpoint_url


async def test_cli_serves_standalone() -> None:
    """`python -m agents.testing.bedrock --port 0` prints its URL first and serves real clients."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agents.testing.bedrock",
        "--port",
        "0",
        "--latency",
        "0.01",
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode().strip()
        assert url.startswith("http://127.0.0.1:")
        async with _client(url) as bedrock:
            response = await bedrock.converse(modelId=HAIKU, messages=[_user("standalone")])
        assert response["output"]["message"]["content"] == [{"text": "echo: standalone"}]
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
