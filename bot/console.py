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
from agents.errors import AdmissionDenied, InvalidTask, StoreUnavailable
from agents.events import (
    AgentRouted,
    AnswerDelta,
    AnswerReset,
    TaskFailed,
    TaskSucceeded,
    ToolFinished,
    ToolStarted,
)
from agents.journal import MemoryJournal
from agents.task import HelpRequest, Origin, new_request_id
from bot.messages import describe_failure

if TYPE_CHECKING:
    from agents.events import TaskEvent
    from agents.orchestrator import Orchestrator
    from agents.settings import Settings

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
        elif isinstance(event, AnswerDelta):
            out.write(event.text)
        elif isinstance(event, AnswerReset):
            # A terminal cannot take printed text back: say so, and print the answer again from the start.
            out.write(f"\n  ↺ the answer broke off ({event.reason}); starting it again\n{event.text}")
        elif isinstance(event, TaskSucceeded):
            result = event.result
            sources = f" · data: {', '.join(result.sources)}" if result.sources else ""
            out.write(
                f"\n\n[{result.agent} · {result.model_id} · {result.seconds:.1f}s · "
                f"{result.usage.input_tokens} in / {result.usage.output_tokens} out tokens{sources} · "
                f"{event.task.request_id}]\n"
            )
        elif isinstance(event, TaskFailed):
            headline, fix = describe_failure(event.error, region=self._region)
            out.write(f"\n✗ {headline}\n  {fix}\n  Request ID: {event.task.request_id}\n")
        out.flush()


async def ask(orchestrator: Orchestrator, text: str, *, user: str, out: TextIO, region: str) -> bool:
    """Run one line through the pipeline; return False when it was refused or failed."""
    request_id = new_request_id()
    origin = Origin(workspace_id="console", user_id=user, channel_id="console", surface="console")
    try:
        prepared = orchestrator.prepare(text, request_id=request_id, origin=origin)
        if isinstance(prepared, HelpRequest):
            agents = "\n".join(
                f"  {a.name}: {a.description}\n    e.g. {a.examples[0] if a.examples else a.name + ': …'}"
                for a in orchestrator.registry.all()
            )
            out.write(f"Ask anything, or name an agent with `agent: task`. Agents:\n{agents}\n")
            return True
        slot = await orchestrator.admit(prepared)
    except (InvalidTask, AdmissionDenied, StoreUnavailable) as error:
        headline, fix = describe_failure(error)
        out.write(f"✗ {headline}\n  {fix}\n  Request ID: {request_id}\n")
        return False
    delivery = _Outcome(ConsoleDelivery(out, region=region))
    async with slot:
        await orchestrator.run(prepared, delivery)
    return delivery.ok


class _Outcome:
    """Remembers whether the task succeeded, passing events on."""

    def __init__(self, inner: ConsoleDelivery) -> None:
        self._inner = inner
        self.ok = False

    async def emit(self, event: TaskEvent) -> None:
        self.ok = self.ok or isinstance(event, TaskSucceeded)
        await self._inner.emit(event)


async def run_console(settings: Settings, *, fake_llm: bool, once: str | None, out: TextIO = sys.stdout) -> int:
    """An interactive session (or one question with ``once``); the exit code is 1 if that question failed."""
    user = getpass.getuser() or "console"
    region = settings.bedrock.region
    # The console's tasks are the terminal user's own: they stay out of the bot's journal.
    async with open_core(settings, offline_model=fake_llm, journal=MemoryJournal()) as orchestrator:
        if once is not None:
            return 0 if await ask(orchestrator, once, user=user, out=out, region=region) else 1
        model = "the offline test model" if fake_llm else f"`{settings.bedrock.model_id}` in {region}"
        out.write(f"orch console: the bot's pipeline with {model}. `help` for agents, `exit` to leave.\n")
        while True:
            try:
                line = await asyncio.to_thread(input, "orch> ")
            except EOFError:
                out.write("\n")
                return 0
            if line.strip().lower() in _EXIT_WORDS:
                return 0
            await ask(orchestrator, line, user=user, out=out, region=region)
