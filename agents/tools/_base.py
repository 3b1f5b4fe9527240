"""The shape every tool shares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agents.aws import AwsClients

_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$")


class FileSource(Protocol):
    """Where files shared in the conversation come from (the Slack edge implements it with the bot token)."""

    async def read(self, file_id: str, *, max_bytes: int) -> tuple[str, bytes]:
        """Return ``(file name, content)`` of a file shared in the task's thread, at most ``max_bytes``."""
        ...


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may use: AWS clients for the configured region, and the conversation's shared files."""

    aws: AwsClients
    region: str
    files: FileSource | None = None
    file_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """A tool's result: JSON-serialisable ``data`` for the model, and how many items it covers."""

    data: Any
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Tool:
    """One read-only capability an agent may call.

    ``progress`` turns the model's input into a line shown to the user while the tool runs
    ("Querying CloudWatch alarms in eu-west-1…"); ``source`` is the data source credited under the answer.
    ``run`` raises :class:`agents.errors.ToolFailed` for failures the model should hear about.
    ``effect`` is ``write`` for a tool that changes something: the loop then records each call under an
    idempotency key before and after it runs, and never runs it twice (:mod:`agents.effects`).
    """

    name: str
    description: str
    input_schema: dict[str, Any]
    source: str
    progress: Callable[[ToolContext, dict[str, Any]], str]
    run: Callable[[ToolContext, dict[str, Any]], Awaitable[ToolOutput]]
    effect: Literal["read", "write"] = "read"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} is not valid for Bedrock")


@dataclass(frozen=True, slots=True)
class Toolset:
    """The tools one agent may use."""

    tools: tuple[Tool, ...] = field(default_factory=tuple)

    def get(self, name: str) -> Tool | None:
        """The tool called ``name``."""
        return next((tool for tool in self.tools if tool.name == name), None)

    def __bool__(self) -> bool:
        return bool(self.tools)
