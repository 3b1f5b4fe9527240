"""``orch-bot console``: the same pipeline as Slack, in a terminal.

Validation, limits, routing, agents, Bedrock and request IDs are exactly the bot's; only the rendering
differs (text on stdout instead of a Slack thread). ``--fake-llm`` swaps Bedrock for the scripted test
model, so a newcomer sees the whole flow offline in seconds.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import TYPE_CHECKING, TextIO

from agents.assembly import open_core
from agents.evals import DEMO_RUNBOOK, offline_demo
from agents.events import (
    AgentRouted,
    AnswerDelta,
    AnswerReset,
    RunbookStarted,
    StepFinished,
    StepStarted,
    TaskFailed,
    TaskSucceeded,
    TaskSuspended,
    ToolFinished,
    ToolStarted,
)
from agents.lifecycle import Rendering
from agents.orchestrator import Accepted, HelpWanted, Refused, RunbooksWanted, UsageWanted
from agents.runbooks import listing
from agents.task import Origin, new_request_id
from bot.markup import to_plain_text
from bot.messages import describe_failure
from bot.render import token_count
from bot.usage import token_usage_blocks, warning_line

if TYPE_CHECKING:
    from collections.abc import Callable

    from agents.attempts import GiveUp
    from agents.evals import OfflineDemo
    from agents.events import TaskEvent
    from agents.lifecycle import TaskRecord
    from agents.orchestrator import Orchestrator
    from agents.settings import Settings
    from agents.task import Task

__all__ = ["run_console"]

_EXIT_WORDS = frozenset({"exit", "quit", ":q"})


class ConsoleDelivery:
    """Prints a task's events: routing, tool progress, the streamed answer, and a footer."""

    def __init__(self, out: TextIO, *, region: str) -> None:
        self._out = out
        self._region = region

    async def emit(self, event: TaskEvent) -> None:
        """Print ``event``."""
        out = self._out
        if isinstance(event, AgentRouted):
            out.write(f"→ {event.routing.agent.name} ({event.routing.reason})\n")
        elif isinstance(event, ToolStarted):
            out.write(f"  … {event.progress}\n")
        elif isinstance(event, ToolFinished):
            out.write(f"  {'✓' if event.ok else '✗'} {event.source} ({event.seconds:.1f}s)\n")
        elif isinstance(event, RunbookStarted | StepStarted | StepFinished):
            out.write(_step_line(event))
        elif isinstance(event, AnswerDelta):
            out.write(event.text)
        elif isinstance(event, AnswerReset):
            # A terminal cannot take printed text back: say so, and print the answer again from the start.
            out.write(f"\n  ↺ the answer broke off ({event.reason}); starting it again\n{event.text}")
        elif isinstance(event, TaskSucceeded):
            out.write(_footer(event))
        elif isinstance(event, TaskSuspended):
            out.write(f"\n⏸ waiting for {event.reason} before {event.tool} runs · {event.task.request_id}\n")
        elif isinstance(event, TaskFailed):
            headline, fix = (to_plain_text(part) for part in describe_failure(event.error, region=self._region))
            out.write(f"\n✗ {headline}\n  {fix}\n  Request ID: {event.task.request_id}\n")
        out.flush()


def _footer(event: TaskSucceeded) -> str:
    """What the answer cost and where it came from; a daily token budget's warning below, when there is one."""
    result = event.result
    sources = f" · data: {', '.join(result.sources)}" if result.sources else ""
    line = (
        f"\n\n[{result.agent} · {result.model_id} · {result.seconds:.1f}s · "
        f"{token_count(result.usage)}{sources} · {event.task.request_id}]\n"
    )
    return line + (to_plain_text(warning_line(result.budget)) + "\n" if result.budget is not None else "")


def _step_line(event: RunbookStarted | StepStarted | StepFinished) -> str:
    """A runbook's progress, one line per event."""
    if isinstance(event, RunbookStarted):
        return f"▶ runbook {event.runbook}: {', '.join(step for step, _ in event.steps)}\n"
    if isinstance(event, StepStarted):
        return f"  … step {event.step} ({event.agent})\n"
    mark = "✓" if event.ok else ("-" if event.skipped else "✗")
    why = "" if event.ok else f": {event.error}"
    again = " (re-used)" if event.reused else ""
    return f"  {mark} step {event.step} ({event.seconds:.1f}s){again}{why}\n"


class ConsoleEdge:
    """The core's :class:`~agents.lifecycle.Edge` in a terminal: prints each task, and says when it ended."""

    def __init__(self, out: TextIO, *, region: str) -> None:
        self._out = out
        self._region = region
        self._ended: dict[str, asyncio.Future[bool]] = {}

    def _future(self, request_id: str) -> asyncio.Future[bool]:
        return self._ended.setdefault(request_id, asyncio.get_running_loop().create_future())

    async def ended(self, request_id: str) -> bool:
        """Wait for the task to end; whether it answered."""
        try:
            return await self._future(request_id)
        finally:
            self._ended.pop(request_id, None)

    async def open(self, task: Task, target: str, *, resumed: bool) -> Rendering:  # noqa: ARG002 - the port's shape
        """Print the task's events here."""
        return Rendering(_Outcome(ConsoleDelivery(self._out, region=self._region), self._future(task.request_id)))

    async def report_bug(self, task: Task, target: str) -> None:  # noqa: ARG002 - the port's shape
        """Say a bug stopped the task."""
        self._out.write(f"\n✗ Something went wrong on our side.\n  Request ID: {task.request_id}\n")
        self._end(task.request_id, ok=False)

    async def report_given_up(self, record: TaskRecord, give_up: GiveUp) -> None:
        """Say the task was given up."""
        self._out.write(f"\n✗ Gave up on this task ({give_up.reason}).\n  Request ID: {record.request_id}\n")
        self._end(record.request_id, ok=False)

    def _end(self, request_id: str, *, ok: bool) -> None:
        future = self._future(request_id)
        if not future.done():
            future.set_result(ok)


async def ask(
    orchestrator: Orchestrator,
    edge: ConsoleEdge,
    text: str,
    *,
    user: str,
    out: TextIO,
    prepare: Callable[[str, str], None] | None = None,
) -> bool:
    """Run one line through the pipeline; return False when it was refused or failed.

    ``prepare(request_id, text)`` runs before the line is submitted (the demo loads its cassette there).
    """
    request_id = new_request_id()
    if prepare is not None:
        prepare(request_id, text)
    origin = Origin(workspace_id="console", user_id=user, channel_id="console", surface="console")
    outcome = await orchestrator.submit(text, request_id=request_id, origin=origin, target="")
    match outcome:
        case HelpWanted():
            agents = "\n".join(
                f"  {a.name}: {a.description}\n    e.g. {a.examples[0] if a.examples else a.name + ': …'}"
                for a in outcome.agents
            )
            out.write(f"Ask anything, or name an agent with `agent: task`. Agents:\n{agents}\n")
            return True
        case RunbooksWanted(library=library, allowed=allowed):
            out.write(listing(library, problems=True, only=allowed) + "\n")
            return True
        case UsageWanted():
            out.write(to_plain_text(token_usage_blocks(outcome, request_id)[0]) + "\n")
            return outcome.report is not None
        case Refused(error=error):
            headline, fix = (to_plain_text(part) for part in describe_failure(error))
            out.write(f"✗ {headline}\n  {fix}\n  Request ID: {request_id}\n")
            return False
        case Accepted():
            return await edge.ended(request_id)


class _Outcome:
    """Ends the task's wait with whether it succeeded, passing events on."""

    def __init__(self, inner: ConsoleDelivery, ended: asyncio.Future[bool]) -> None:
        self._inner = inner
        self._ended = ended

    async def emit(self, event: TaskEvent) -> None:
        await self._inner.emit(event)
        if isinstance(event, TaskSucceeded | TaskFailed | TaskSuspended) and not self._ended.done():
            self._ended.set_result(isinstance(event, TaskSucceeded))


async def run_console(
    settings: Settings, *, fake_llm: bool, once: str | None, out: TextIO = sys.stdout, demo: bool = False
) -> int:
    """An interactive session (or one question with ``once``); the exit code is 1 if that question failed.

    ``demo``: no Slack, AWS or Bedrock: a scripted model on an in-process fake Bedrock, tools from the eval
    cassettes (:mod:`agents.evals`).
    """
    if not demo:
        return await _session(settings, fake_llm=fake_llm, once=once, out=out, demo=None)
    async with offline_demo() as offline:
        return await _session(settings, fake_llm=False, once=once, out=out, demo=offline)


async def _session(
    settings: Settings, *, fake_llm: bool, once: str | None, out: TextIO, demo: OfflineDemo | None
) -> int:
    user = getpass.getuser() or "console"
    region = settings.bedrock.region
    prepare = demo.prepare if demo is not None else None
    # The console's tasks are the terminal user's own: they stay out of the bot's journal.
    async with open_core(
        settings, offline_model=fake_llm, private=True, tools=demo.tools if demo is not None else None
    ) as orchestrator:
        edge = ConsoleEdge(out, region=region)
        orchestrator.start(edge)
        if demo is not None:
            out.write(_demo_intro(demo))
        if once is not None:
            return 0 if await ask(orchestrator, edge, once, user=user, out=out, prepare=prepare) else 1
        if demo is not None:
            model = "a scripted model on a local fake Bedrock (no AWS, no Slack)"
        elif fake_llm:
            model = "the offline test model"
        else:
            model = f"`{settings.bedrock.model_id}` in {region}"
        out.write(f"orch console: the bot's pipeline with {model}. `help` for agents, `exit` to leave.\n")
        while True:
            try:
                line = await asyncio.to_thread(input, "orch> ")
            except EOFError:
                out.write("\n")
                return 0
            if line.strip().lower() in _EXIT_WORDS:
                return 0
            await ask(orchestrator, edge, line, user=user, out=out, prepare=prepare)


def _demo_intro(demo: OfflineDemo) -> str:
    """What the demo can answer: the example questions and a runbook."""
    examples = "\n".join(f"  {text}" for text in demo.examples)
    return (
        "orch demo: the real pipeline (routing, typed tools, the agent loop, runbooks, prompt caching) on a\n"
        "scripted model; tool outputs are recorded incidents from the eval cases. Try:\n"
        f"{examples}\n  {DEMO_RUNBOOK}\n\n"
    )
