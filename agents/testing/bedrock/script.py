"""What tests script the fake Bedrock with, and what it records: turns, faults, calls, and forced tool choices.

Error codes, stop reasons and mid-stream errors come from botocore's own service model
(:mod:`agents.testing.bedrock.service_model`), so a script can only ask for what Bedrock can answer.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.testing.bedrock.service_model import documented_errors, stop_reasons, stream_exceptions

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ERROR_STATUS",
    "STOP_REASONS",
    "STREAM_ERRORS",
    "ConverseCall",
    "Fault",
    "Reply",
    "echo_reply",
    "forced_default",
    "forced_tool",
]

#: HTTP status Bedrock Runtime returns for each error code: every exception in botocore's service model
#: (its ``error.httpStatusCode``), plus the errors AWS's front door returns before Bedrock sees the request.
ERROR_STATUS: dict[str, int] = {
    "SerializationException": 400,
    "UnrecognizedClientException": 403,
    "InvalidSignatureException": 403,
    "ExpiredTokenException": 403,
    "UnknownOperationException": 404,
    "TooManyRequestsException": 429,
    **{code: spec.status for code, spec in documented_errors().items()},
}

#: Every ``stopReason`` the service model documents; :class:`Reply` can end a turn with any of them.
STOP_REASONS: tuple[str, ...] = stop_reasons()

#: The error codes ConverseStream can raise mid-stream (as ``:exception-type`` frames, in lowerCamelCase).
STREAM_ERRORS: tuple[str, ...] = tuple(name[:1].upper() + name[1:] for name in stream_exceptions())


@dataclass
class ConverseCall:
    """One request the fake received (recorded even when it was rejected).

    ``body`` is the decoded JSON request body (``{}`` if it was not a JSON object); ``headers`` has
    lower-cased names, as HTTP header names are case-insensitive. ``at`` is when the request arrived and
    ``first_text_at`` when the first streamed text delta was written (``None`` until then, and for
    ``Converse``), both :func:`time.monotonic`, for benchmarks that time the bot's reaction. ``usage`` is
    the usage the fake answered with (``None`` until it did), cache tokens included.
    """

    model_id: str
    body: dict[str, Any]
    stream: bool
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    first_text_at: float | None = None
    usage: dict[str, int] | None = None

    def first_turn_text(self) -> str:
        """The opening user turn's text blocks joined by newlines: thread context, files and the question."""
        messages = self.body.get("messages") or [{}]
        blocks = messages[0].get("content") or []
        return "\n".join(b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str))


@dataclass
class Reply:
    """One scripted model turn.

    ``tool_uses`` items are ``{"toolUseId": .., "name": .., "input": {...}}``; ``toolUseId`` defaults
    to a fresh ``tooluse_…`` id and ``input`` to ``{}``. Any tool use makes the stop reason
    ``tool_use``, else it is ``end_turn``; ``stop`` sends any other documented stop reason
    (:data:`STOP_REASONS`: ``max_tokens``, ``guardrail_intervened``, ``malformed_tool_use``…).
    Token counts default to rough estimates; ``latency`` overrides :attr:`FakeBedrock.latency` for this turn.
    """

    text: str = ""
    tool_uses: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency: float | None = None
    stop: str | None = None

    def __post_init__(self) -> None:
        self.tool_uses = [normalise_tool_use(tool) for tool in self.tool_uses]
        if self.stop is not None and self.stop not in STOP_REASONS:
            raise ValueError(f"undocumented stopReason {self.stop!r}; botocore documents {list(STOP_REASONS)}")

    @property
    def stop_reason(self) -> str:
        """``stop`` when given, else ``tool_use`` when the turn calls tools, else ``end_turn``."""
        if self.stop is not None:
            return self.stop
        return "tool_use" if self.tool_uses else "end_turn"


@dataclass
class Fault:
    """One scripted failure, answered instead of a model turn.

    ``status`` defaults from :data:`ERROR_STATUS` (an unknown ``code`` needs an explicit status).
    With ``mid_stream`` a ``ConverseStream`` request first gets a 200 response with ``partial`` text
    (by default the start of the default reply; ``""`` sends none), then an exception frame whose
    ``:exception-type`` is ``code`` in lowerCamelCase; only the codes the service model lists for the
    stream (:data:`STREAM_ERRORS`) can be sent that way. ``Converse`` ignores the flag. ``latency`` (an
    addition to the brief) delays the failure like :attr:`Reply.latency`.
    """

    code: str
    message: str = "scripted fault"
    status: int | None = None
    mid_stream: bool = False
    latency: float | None = None
    partial: str | None = None

    def __post_init__(self) -> None:
        if self.mid_stream and self.code not in STREAM_ERRORS:
            raise ValueError(f"{self.code} is not a ConverseStream event; botocore documents {list(STREAM_ERRORS)}")
        if self.status is None:
            if self.code not in ERROR_STATUS:
                raise ValueError(f"unknown error code {self.code!r}: pass status= explicitly")
            self.status = ERROR_STATUS[self.code]

    @property
    def exception_type(self) -> str:
        """``code`` as an event-stream ``:exception-type`` (lowerCamelCase: ``throttlingException``)."""
        return self.code[:1].lower() + self.code[1:]


def echo_reply(call: ConverseCall) -> Reply:
    """Default :attr:`FakeBedrock.default_reply`: ``"echo: "`` plus the last user message's text."""
    messages = call.body.get("messages")
    text = ""
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                blocks = content if isinstance(content, list) else []
                text = "".join(
                    block["text"] for block in blocks if isinstance(block, dict) and isinstance(block.get("text"), str)
                )
                break
    return Reply(text=f"echo: {text}")


def normalise_tool_use(tool: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(tool.get("name"), str):
        raise TypeError(f"a tool use needs a string 'name': {tool!r}")
    return {
        "toolUseId": tool.get("toolUseId") or f"tooluse_{uuid.uuid4().hex[:22]}",
        "name": tool["name"],
        "input": tool.get("input", {}),
    }


def forced_tool(call: ConverseCall) -> dict[str, Any] | None:
    """The tool spec a request forces the model to call, if it does."""
    config = call.body.get("toolConfig") or {}
    name = ((config.get("toolChoice") or {}).get("tool") or {}).get("name")
    if not name:
        return None
    for tool in config.get("tools") or []:
        spec = tool.get("toolSpec") or {}
        if spec.get("name") == name:
            return dict(spec)
    return {"name": name}


def forced_default(call: ConverseCall, spec: dict[str, Any]) -> Reply:
    """A schema-obeying call of the forced tool: first enum values, placeholder strings."""
    schema = ((spec.get("inputSchema") or {}).get("json")) or {}
    arguments: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if prop.get("enum"):
            arguments[name] = prop["enum"][0]
        elif prop.get("type") == "string":
            arguments[name] = "scripted"
    del call
    return Reply(tool_uses=[{"toolUseId": "tooluse_forced", "name": spec["name"], "input": arguments}])
