"""The shape every tool shares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from agents.tools._params import ToolInput, input_schema, validate_input

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agents.aws import AwsClients
    from agents.proposal import Proposal
    from agents.task import Origin, Task
    from agents.tools._probe import Probe

__all__ = ["Effect", "FileSource", "Tool", "ToolContext", "ToolOutput", "Toolset"]

_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$")

#: What calling a tool does to the world: ``read`` only looks; ``write`` changes something.
Effect = Literal["read", "write"]

InputT = TypeVar("InputT", bound=ToolInput)


class FileSource(Protocol):
    """Where files shared in the conversation come from (the Slack edge implements it with the bot token)."""

    async def read(self, file_id: str, *, max_bytes: int) -> tuple[str, bytes]:
        """Return ``(file name, content)`` of a file shared in the task's thread, at most ``max_bytes``."""
        ...


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may use and whom it works for.

    AWS clients for the configured region and the conversation's shared files; the task's ``origin``
    (workspace, user, channel, thread) and ``request_id``, so a policy can decide on who asked and where.
    """

    aws: AwsClients
    region: str
    origin: Origin
    request_id: str
    files: FileSource | None = None
    file_ids: tuple[str, ...] = ()

    @classmethod
    def for_task(cls, task: Task, *, aws: AwsClients, region: str, files: FileSource | None = None) -> ToolContext:
        """The context the tools of ``task`` run in: its origin, request ID and shared files."""
        return cls(
            aws=aws,
            region=region,
            origin=task.origin,
            request_id=task.request_id,
            files=files,
            file_ids=tuple(f.id for f in task.files),
        )


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """A tool's result: JSON-serialisable ``data`` for the model, and a short ``summary`` for the log."""

    data: Any
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Tool(Generic[InputT]):
    """One capability an agent may call, with a typed input.

    ``input_model`` is the pydantic model the model's input must fit; ``input_schema`` (what Bedrock's
    ``toolConfig`` gets) is derived from it. The runner validates once with :meth:`parse`, then calls
    ``progress`` for the line shown while the tool runs ("Listing CloudWatch alarms in eu-west-1…") and
    ``run``, both with the typed input. ``source`` is the data source credited under the answer; ``effect``
    says whether calling it changes anything. ``run`` raises :class:`agents.errors.ToolFailed` for
    failures the model should hear about. A ``write`` tool's calls are recorded under an idempotency key
    before and after they run, and never run twice (:mod:`agents.effects`).
    """

    name: str
    description: str
    input_model: type[InputT]
    source: str
    effect: Effect
    progress: Callable[[ToolContext, InputT], str]
    run: Callable[[ToolContext, InputT], Awaitable[ToolOutput]]
    #: The policy's name for a ``write`` tool's action (``ec2.stop``): only people the policy grants it may
    #: have it offered, and every call waits for a person's approval (:mod:`agents.approvals`).
    action: str = ""
    #: Builds the action card's data (dry run, the resource as described) before anyone approves.
    prepare: Callable[[ToolContext, InputT], Awaitable[Proposal]] | None = None
    input_schema: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} is not valid for Bedrock")
        object.__setattr__(self, "input_schema", input_schema(self.input_model))

    def parse(self, arguments: object) -> InputT:
        """The model's ``arguments`` as the typed input; :class:`~agents.errors.InvalidToolInput` if they do not fit."""
        return validate_input(self.input_model, arguments, tool=self.name, source=self.source)


@dataclass(frozen=True, slots=True)
class Toolset:
    """The tools one agent may use, with what they need from AWS.

    ``iam_actions`` are every IAM action the tools call (the shipped read-only policy must allow them);
    ``probes`` are one cheap call per data source, which ``orch-bot doctor`` runs to check access.
    """

    tools: tuple[Tool[Any], ...] = field(default_factory=tuple)
    probes: tuple[Probe, ...] = field(default_factory=tuple)
    iam_actions: frozenset[str] = field(default_factory=frozenset)

    def get(self, name: str) -> Tool[Any] | None:
        """The tool called ``name``."""
        return next((tool for tool in self.tools if tool.name == name), None)

    def __add__(self, other: Toolset) -> Toolset:
        """Both toolsets' tools, probes and IAM actions, for an agent that uses both."""
        return Toolset(
            tools=(*self.tools, *other.tools),
            probes=(*self.probes, *other.probes),
            iam_actions=self.iam_actions | other.iam_actions,
        )

    def __bool__(self) -> bool:
        return bool(self.tools)
