"""The offline demo: the bot's real pipeline on a scripted model, with tools served from the eval cassettes.

:func:`offline_demo` starts the fake Bedrock in this process with :class:`~agents.testing.scripted_agent.
ScriptedAgent` as its model, points the Bedrock client at it, and serves every tool from the shipped cases'
cassettes. Everything else is production code: validation, the router's forced tool call, the agent loop
with the real tools' input models, runbooks, prompt caching and token accounting. No Slack, AWS or Bedrock
account is touched; the AWS credentials it sets are placeholders the fake accepts.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agents.catalog import default_registry
from agents.evals._case import CASES_DIR, EvalCase, load_cases
from agents.evals._cassette import Cassette, CassetteDeck, tool_inputs
from agents.testing.bedrock import FakeBedrock
from agents.testing.scripted_agent import ScriptedAgent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from agents.catalog import AgentRegistry

__all__ = ["DEMO_RUNBOOK", "OfflineDemo", "offline_demo"]

#: The runbook the demo offers (its case's cassette answers it).
DEMO_RUNBOOK = "run incident-triage service=checkout"


@dataclass
class OfflineDemo:
    """The demo's cases, the scripted model, and the deck its tools are served from."""

    cases: list[EvalCase]
    agent: ScriptedAgent
    deck: CassetteDeck

    @property
    def examples(self) -> list[str]:
        """The example questions (the cases marked ``demo: true``)."""
        return [case.text for case in self.cases if case.demo]

    def tools(self, registry: AgentRegistry) -> AgentRegistry:
        """``registry`` with its tools served from the cassettes (for ``open_core``)."""
        return self.deck.registry(registry)

    def prepare(self, request_id: str, text: str) -> None:
        """Load the cassette for ``text`` (its case's; otherwise every case's, nearest match) before it runs."""
        inputs = tool_inputs(default_registry())
        case = self._case_for(text)
        self.agent.focus = case
        if case is not None:
            self.deck.insert(request_id, Cassette.of(case, inputs))
        else:
            everything = [entry for c in self.cases for entry in c.cassette]
            self.deck.insert(request_id, Cassette(everything, unrecorded="nearest", inputs=inputs))

    def _case_for(self, text: str) -> EvalCase | None:
        wanted = " ".join(text.split()).lower()
        return next((case for case in self.cases if " ".join(case.text.split()).lower() == wanted), None)


@asynccontextmanager
async def offline_demo(cases_dir: Path = CASES_DIR) -> AsyncIterator[OfflineDemo]:
    """Start the scripted fake Bedrock and point this process's Bedrock client at it, for the demo's life."""
    cases, _problems = load_cases(cases_dir, tools=tool_inputs(default_registry()))
    agent = ScriptedAgent(cases)
    async with FakeBedrock() as fake:
        fake.default_reply = agent.reply
        fake.default_forced = agent.route
        # The demo process talks to nothing else: the standard chain reads these when the client is created.
        os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = fake.endpoint_url
        os.environ["AWS_ACCESS_KEY_ID"] = "demo"
        os.environ["AWS_SECRET_ACCESS_KEY"] = "demo"  # noqa: S105 - a placeholder the fake accepts
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
        yield OfflineDemo(cases, agent, CassetteDeck())
