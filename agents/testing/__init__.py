"""Fakes of the core's ports, for tests and offline demos, and the test bench of the lifecycle.

:class:`FakeChatModel` implements :class:`agents.llm.ChatModel`: script replies and failures with
:meth:`FakeChatModel.enqueue`, read what was asked from ``requests``.

:class:`TestBench` (``ORCH_TEST_TOOLS=true``, never in production) adds a ``testbench`` agent whose tools
exercise the loop's hook and effect ledger in the real process: ``request_approval`` is suspended by the
bench's gate (a task waits until ``orch-bot continue``), and ``record_change`` is a ``write`` tool that
appends a line per execution to ``ORCH_TEST_WRITE_LOG``. ``ORCH_TEST_KILL_AT`` (``before`` | ``after`` |
``recorded``) kills the process with SIGKILL at that moment of a write effect.

The fakes of what the core talks to over the wire, shared by the tests and the benchmarks, are modules of
this package: :mod:`agents.testing.bedrock` (Bedrock Runtime, every request held to botocore's service
model), :mod:`agents.testing.aws_extras` (the AWS JSON APIs moto lacks), :mod:`agents.testing.secrets_corpus`
(a secret of every format the redaction knows) and :mod:`agents.testing.redis_keys` (a shared Redis left as
found). The Slack fake is the edge's: :mod:`bot.testing.slack`.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.catalog import AgentRegistry, AgentSpec
from agents.errors import LLMError
from agents.llm import ModelReply, ModelRequest, ReplyComplete, TextDelta, Usage
from agents.toolgate import Allow, Suspend
from agents.tools import Tool, ToolContext, ToolInput, ToolOutput, Toolset

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agents.llm import StreamEvent, ToolCall
    from agents.settings import Settings
    from agents.task import Task
    from agents.toolgate import Decision

__all__ = ["FakeChatModel", "TestBench"]

APPROVAL_TOOL = "request_approval"
WRITE_TOOL = "record_change"


class FakeChatModel:
    """A scripted model: replies (or raises) from a queue, then echoes the last user turn."""

    def __init__(self) -> None:
        self.requests: list[ModelRequest] = []
        self._script: deque[str | ModelReply | LLMError] = deque()

    def enqueue(self, *items: str | ModelReply | LLMError) -> None:
        """Answer the next requests with these texts or replies (tool calls), or fail with these errors."""
        self._script.extend(items)

    async def converse(self, request: ModelRequest) -> ModelReply:
        """Record ``request`` and play the next scripted item."""
        self.requests.append(request)
        item = self._script.popleft() if self._script else f"echo: {request.messages[-1].text}"
        if isinstance(item, LLMError):
            raise item
        if isinstance(item, ModelReply):
            return item
        return ModelReply(
            text=item,
            model_id=request.model_id,
            usage=Usage(sum(len(m.text) for m in request.messages) // 4, len(item) // 4 + 1),
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Play the next scripted item as a stream: its text in words, then the complete reply."""
        reply = await self.converse(request)
        for word in re.findall(r"\S+\s*", reply.text):
            yield TextDelta(word)
        yield ReplyComplete(reply)


class ApprovalInput(ToolInput):
    """What the test-only approval tool asks a person to approve."""

    action: str = ""


class ChangeInput(ToolInput):
    """The change the test-only write tool records."""

    change: str = ""


class TestBench:
    """The test-only agent, its gate and the kill switch (see the module docstring)."""

    __test__ = False  # not a pytest class

    def __init__(self, *, write_log: str, kill_at: str) -> None:
        self._write_log = Path(write_log) if write_log else None
        self._kill_at = kill_at

    @classmethod
    def from_settings(cls, settings: Settings) -> TestBench:
        """The bench configured by the ``ORCH_TEST_*`` settings."""
        return cls(write_log=settings.orch_test_write_log, kill_at=settings.orch_test_kill_at)

    def registry(self, base: AgentRegistry) -> AgentRegistry:
        """``base`` with the ``testbench`` agent added."""
        approval = Tool(
            name=APPROVAL_TOOL,
            description="Ask a person to approve an action; their decision is the result.",
            input_model=ApprovalInput,
            source="approvals",
            effect="read",
            progress=lambda _ctx, _args: "Waiting for approval…",
            run=self._never_run,
        )
        write = Tool(
            name=WRITE_TOOL,
            description="Record a change (test-only write effect).",
            input_model=ChangeInput,
            source="test ledger",
            effect="write",
            progress=lambda _ctx, _args: "Recording the change…",
            run=self._record,
        )
        agent = AgentSpec(
            name="testbench",
            description="Test-only agent with a suspending tool and a counted write tool.",
            examples=("testbench: record a change",),
            system_prompt="You are a test agent.",
            toolset=Toolset((approval, write)),
        )
        return AgentRegistry([*base.all(), agent], default=base.default.name)

    @property
    def gate(self) -> TestBench:
        """The gate: suspends ``request_approval``, allows the rest."""
        return self

    async def decide(self, task: Task, tool: Tool[Any], call: ToolCall) -> Decision:  # noqa: ARG002 - the port's shape
        """Suspend approvals, allow everything else."""
        return Suspend("a person's approval") if tool.name == APPROVAL_TOOL else Allow()

    async def probe(self, moment: str) -> None:
        """Die here, as ``kill -9`` would, when ``ORCH_TEST_KILL_AT`` names ``moment``."""
        if moment == self._kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    async def _never_run(self, _context: ToolContext, _arguments: ApprovalInput) -> ToolOutput:
        return ToolOutput({"approved": False, "note": "run without a decision"})

    async def _record(self, _context: ToolContext, arguments: ChangeInput) -> ToolOutput:
        if self._write_log is None:
            return ToolOutput({"recorded": False})
        with self._write_log.open("a", encoding="utf-8") as log:
            log.write(json.dumps(arguments.model_dump()) + "\n")
        executions = len(self._write_log.read_text(encoding="utf-8").splitlines())
        return ToolOutput({"recorded": True, "executions": executions})
