"""The Bedrock adapter over real HTTP: the real aiobotocore client against the fake Bedrock Runtime.

Checks the endpoint override contract, error translation at the boundary, and that botocore itself
never retries (so ours is the only retry layer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from agents.errors import (
    LLMAccessDenied,
    LLMError,
    LLMModelFailed,
    LLMModelNotFound,
    LLMRequestRejected,
    LLMRetryable,
    LLMThrottled,
    LLMTransient,
    LLMUnavailable,
)
from agents.llm import (
    BedrockChatModel,
    ChatMessage,
    ModelRequest,
    RetryingChatModel,
    RetryPolicy,
    StreamRestart,
    TextDelta,
    ToolCall,
    ToolResult,
    bedrock_client,
)
from agents.testing.bedrock import STREAM_ERRORS, FakeBedrock, Fault, Reply
from agents.testing.bedrock.service_model import documented_errors

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


def request(text: str = "why is checkout slow?", model_id: str = MODEL) -> ModelRequest:
    """A one-turn request."""
    return ModelRequest(model_id=model_id, system="be brief", messages=(ChatMessage("user", text),))


@pytest.fixture
async def bedrock(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBedrock]:
    """A fake Bedrock reached only through the standard endpoint override variable."""
    async with FakeBedrock() as fake:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        yield fake


async def test_converse_returns_text_usage_and_model(bedrock: FakeBedrock) -> None:
    """A reply carries its text, token usage and the model id; the request carried system and turns."""
    bedrock.enqueue(Reply(text="Checkout is slow because…", input_tokens=42, output_tokens=7))
    async with bedrock_client(region="us-east-1") as client:
        reply = await BedrockChatModel(client).converse(request())
    assert reply.text == "Checkout is slow because…"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (42, 7)
    assert reply.model_id == MODEL
    call = bedrock.calls[0]
    assert call.model_id == MODEL
    assert call.body["system"] == [{"text": "be brief"}]
    assert call.body["messages"] == [{"role": "user", "content": [{"text": "why is checkout slow?"}]}]


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        ("ThrottlingException", LLMThrottled),
        ("ServiceUnavailableException", LLMTransient),
        ("ModelNotReadyException", LLMTransient),
        ("ModelTimeoutException", LLMModelFailed),
        ("ModelErrorException", LLMModelFailed),
        ("InternalServerException", LLMTransient),
        ("AccessDeniedException", LLMAccessDenied),
        ("ResourceNotFoundException", LLMModelNotFound),
        ("ValidationException", LLMRequestRejected),
    ],
)
async def test_each_bedrock_error_is_translated_once_and_not_retried_by_botocore(
    bedrock: FakeBedrock, code: str, error_type: type[Exception]
) -> None:
    """Every Bedrock error code becomes its domain error after exactly one HTTP call."""
    bedrock.enqueue(Fault(code))
    async with bedrock_client(region="us-east-1") as client:
        with pytest.raises(error_type) as caught:
            await BedrockChatModel(client).converse(request())
    assert len(bedrock.calls) == 1
    assert caught.value.__cause__ is not None  # translated with `raise … from`


def _aws_says_retry(code: str) -> bool:
    """Retryable per botocore: a ``retryable`` trait, a 5xx status, throttling, or documented "Retry your request"."""
    spec = documented_errors()[code]
    return (
        spec.retryable
        or spec.status >= 500  # botocore's standard mode retries every 5xx
        or code == "ThrottlingException"
        or "retry your request" in spec.documentation.lower()
    )


@pytest.mark.parametrize("code", sorted(documented_errors()))
async def test_every_documented_error_is_retried_exactly_when_aws_says_so(bedrock: FakeBedrock, code: str) -> None:
    """Each exception in botocore's model for bedrock-runtime is retryable here iff AWS says to retry it."""
    bedrock.enqueue(Fault(code))
    async with bedrock_client(region="us-east-1") as client:
        with pytest.raises(LLMError) as caught:
            await BedrockChatModel(client).converse(request())
    assert isinstance(caught.value, LLMRetryable) == _aws_says_retry(code), caught.value


@pytest.mark.parametrize("code", STREAM_ERRORS)
async def test_every_documented_mid_stream_error_is_retried_exactly_when_aws_says_so(
    bedrock: FakeBedrock, code: str
) -> None:
    """An exception event in the middle of a ConverseStream (after text) is translated like its HTTP twin."""
    bedrock.enqueue(Fault(code, mid_stream=True, partial="The alarms are"))
    seen: list[str] = []

    async def consume(model: BedrockChatModel) -> None:
        async for event in model.stream(request()):
            if isinstance(event, TextDelta):
                seen.append(event.text)  # noqa: PERF401 - as it arrives: the stream fails before its end

    async with bedrock_client(region="us-east-1") as client:
        with pytest.raises(LLMError) as caught:
            await consume(BedrockChatModel(client))
    assert seen == ["The alarms are"]
    assert isinstance(caught.value, LLMRetryable) == _aws_says_retry(code), caught.value


async def test_a_stream_error_after_text_is_retried_and_announced_as_a_restart(bedrock: FakeBedrock) -> None:
    """A modelStreamErrorException mid-answer: the retry layer says the partial text is void, then re-streams."""
    bedrock.enqueue(Fault("ModelStreamErrorException", mid_stream=True, partial="Half an ans"), Reply(text="Whole."))

    async def sleep(_: float) -> None:
        return

    async with bedrock_client(region="us-east-1") as client:
        model = RetryingChatModel(BedrockChatModel(client), RetryPolicy(sleep=sleep))
        events = [event async for event in model.stream(request())]
    kinds = [type(event).__name__ for event in events]
    assert kinds[:2] == ["TextDelta", "StreamRestart"]
    assert events[1] == StreamRestart("ModelStreamErrorException")
    assert "".join(e.text for e in events[2:] if isinstance(e, TextDelta)) == "Whole."
    assert len(bedrock.calls) == 2


async def test_blank_text_blocks_are_never_sent(bedrock: FakeBedrock) -> None:
    """An assistant turn of blank lines before its tool call goes out as the tool call alone: Bedrock accepts it."""
    turns = (
        ChatMessage("user", "what is alarming?"),
        ChatMessage("assistant", "\n\n", tool_calls=(ToolCall("tooluse_1", "list_alarms", {}),)),
        ChatMessage("user", tool_results=(ToolResult("tooluse_1", " "),)),
    )
    bedrock.enqueue(Reply(text="Nothing is alarming."))
    async with bedrock_client(region="us-east-1") as client:
        reply = await BedrockChatModel(client).converse(ModelRequest(model_id=MODEL, system="be brief", messages=turns))
    assert reply.text == "Nothing is alarming."
    assistant = bedrock.calls[0].body["messages"][1]
    assert assistant["content"] == [{"toolUse": {"toolUseId": "tooluse_1", "name": "list_alarms", "input": {}}}]


async def test_access_denied_names_the_model(bedrock: FakeBedrock) -> None:
    """The error carries the model id so the user can be told exactly what to enable."""
    bedrock.denied_models.add(MODEL)
    async with bedrock_client(region="us-east-1") as client:
        with pytest.raises(LLMAccessDenied) as caught:
            await BedrockChatModel(client).converse(request())
    assert caught.value.model_id == MODEL


async def test_unreachable_endpoint_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection refused is a retryable transient failure, not a crash."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    async with bedrock_client(region="us-east-1") as client:
        with pytest.raises(LLMTransient):
            await BedrockChatModel(client).converse(request())


async def test_throttling_then_success_through_the_retry_layer(bedrock: FakeBedrock) -> None:
    """Two throttles then an answer: three HTTP calls in all, and the reply says so."""
    bedrock.enqueue(Fault("ThrottlingException"), Fault("ThrottlingException"), Reply(text="ok"))
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with bedrock_client(region="us-east-1") as client:
        model = RetryingChatModel(BedrockChatModel(client), RetryPolicy(sleep=sleep, rand=lambda: 1.0))
        reply = await model.converse(request())
    assert reply.text == "ok"
    assert reply.attempts == 3
    assert len(bedrock.calls) == 3
    assert sleeps == [0.5, 1.0]


async def test_persistent_throttling_ends_in_unavailable_after_the_bound(bedrock: FakeBedrock) -> None:
    """Throttling that never stops: exactly max_attempts HTTP calls, then LLMUnavailable."""
    bedrock.enqueue(*[Fault("ThrottlingException")] * 10)

    async def sleep(_: float) -> None:
        return

    async with bedrock_client(region="us-east-1") as client:
        model = RetryingChatModel(BedrockChatModel(client), RetryPolicy(max_attempts=3, sleep=sleep))
        with pytest.raises(LLMUnavailable) as caught:
            await model.converse(request())
    assert caught.value.attempts == 3
    assert len(bedrock.calls) == 3


async def test_each_call_reports_the_client_cpu_it_cost_including_failures(bedrock: FakeBedrock) -> None:
    """The adapter tells its hook how much CPU the Bedrock client spent, once per call, even a failed one."""
    spent: list[tuple[str, float]] = []
    bedrock.enqueue(Reply(text="plain"), Reply(text="streamed " * 40), Fault("AccessDeniedException"))
    async with bedrock_client(region="us-east-1") as client:
        model = BedrockChatModel(client, on_client_cpu=lambda model_id, seconds: spent.append((model_id, seconds)))
        await model.converse(request())
        streamed = [event async for event in model.stream(request())]
        with pytest.raises(LLMAccessDenied):
            await model.converse(request())
    assert len(streamed) > 2
    assert [model_id for model_id, _ in spent] == [MODEL, MODEL, MODEL]
    assert all(0 < seconds < 1 for _, seconds in spent)
