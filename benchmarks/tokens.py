"""Input tokens per task with prompt caching off and on, and what each agent's tool definitions cost.

Run ``python -m benchmarks.tokens``. A few multi-turn, tool-using tasks are scripted turn by turn and run
through the real agent loop and the real Bedrock adapter against the fake Bedrock, whose token accounting
(about four characters a token; cache reads and writes per model and prefix, as Bedrock reports them)
gives the figures. The agents are the shipped ones, with their real system prompts and tool definitions;
only the tools' AWS calls are replaced by canned outputs of a realistic size.

Reported per task: model calls, input tokens with caching off and on, the share of input tokens read
from the cache on the second and later calls (the target is at least 80 %), and "repeat served": of the
tokens each call repeats from the call before (the most any cache can serve; the rest is the new turn's
tool results), the share read from the cache. By default each model's documented minimum cacheable
prefix applies (1,024 tokens for the Claude Sonnet used here; shorter prefixes are not cached at all);
``--min-tokens 0`` lifts it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.catalog import AgentRegistry, default_registry
from agents.llm import BedrockChatModel, bedrock_client
from agents.router import KeywordRouter
from agents.runner import TaskRunner
from agents.task import ContextMessage, Origin, Task, new_request_id
from agents.testing.bedrock import FakeBedrock, Reply
from agents.testing.bedrock.cache import prompt_chars
from agents.tools import ToolContext, ToolOutput

if TYPE_CHECKING:
    from agents.catalog import AgentSpec

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
ORIGIN = Origin(workspace_id="T0BENCH", user_id="U0BENCH", channel_id="C0BENCH", surface="command")
TARGET_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class Script:
    """One task: its agent, question, optional thread context, and the model's tool turns in order."""

    name: str
    agent: str
    question: str
    turns: tuple[tuple[tuple[str, dict[str, Any]], ...], ...]
    context: tuple[str, ...] = ()


SCRIPTS = (
    Script(
        "alarm storm",
        "monitor",
        "why are 5xx up on the api since 14:00?",
        ((("list_alarms", {"state": "ALARM"}),), (("list_health_events", {}),)),
    ),
    Script(
        "rare fatal error",
        "logs",
        "find the fatal error in the checkout logs",
        (
            (("find_log_groups", {"prefix": "/ecs"}),),
            (("filter_log_events", {"log_group": "/ecs/checkout"}),),
            (("filter_log_events", {"log_group": "/ecs/checkout-worker"}),),
        ),
    ),
    Script(
        "ecs below desired (follow-up)",
        "infra",
        "and is the worker service short of tasks too?",
        ((("describe_ecs_services", {}), ("list_ec2_instances", {})), (("month_to_date_cost", {}),)),
        context=(
            "ana: checkout is failing for some users since the 14:05 deploy",
            "orch: the api service runs 2 of 4 tasks; the new task definition fails its health check",
            "ben: we rolled back the api at 14:40",
        ),
    ),
)


def _canned(tool: str, request: Any) -> ToolOutput:
    """A deterministic output of a realistic size (about 1.5 kB) for ``tool``."""
    rows = [
        {"name": f"{tool}-{i:02d}", "state": "ALARM" if i % 3 == 0 else "OK", "detail": f"value {i * 7} at 14:{i:02d}"}
        for i in range(20)
    ]
    return ToolOutput(data={"input": request.model_dump(mode="json"), "rows": rows}, summary=f"{len(rows)} rows")


def _offline(agent: AgentSpec) -> AgentSpec:
    """``agent`` with the same tool definitions, its tools answering canned data instead of calling AWS."""
    if agent.toolset is None:
        return agent

    def stub(name: str) -> Any:
        async def run(_ctx: ToolContext, request: Any) -> ToolOutput:
            return _canned(name, request)

        return run

    tools = tuple(dataclasses.replace(t, run=stub(t.name)) for t in agent.toolset.tools)
    return dataclasses.replace(agent, toolset=dataclasses.replace(agent.toolset, tools=tools))


class _Sink:
    async def emit(self, event: object) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Measured:
    """One task's model calls, as the fake Bedrock accounted them."""

    usages: tuple[dict[str, int], ...]

    @staticmethod
    def _input(usage: dict[str, int]) -> int:
        return usage["inputTokens"] + usage.get("cacheReadInputTokens", 0) + usage.get("cacheWriteInputTokens", 0)

    @property
    def input_tokens(self) -> int:
        """Every prompt token of every call."""
        return sum(self._input(u) for u in self.usages)

    @property
    def repeat_served(self) -> float:
        """Of the tokens each call repeats from the call before (the most a cache can serve), the share it read."""
        repeated = sum(self._input(u) for u in self.usages[:-1])
        return sum(u.get("cacheReadInputTokens", 0) for u in self.usages[1:]) / repeated if repeated else 0.0

    @property
    def later_share(self) -> float:
        """The share of input tokens read from the cache on the second and later calls."""
        later = self.usages[1:]
        total = sum(self._input(u) for u in later)
        return sum(u.get("cacheReadInputTokens", 0) for u in later) / total if total else 0.0


async def run_script(script: Script, fake: FakeBedrock, registry: AgentRegistry, *, cache: bool) -> Measured:
    """Run ``script`` once through the real loop and adapter; the usage of each of its model calls."""
    for turn in script.turns:
        fake.enqueue(Reply(tool_uses=[{"name": name, "input": args} for name, args in turn]))
    fake.enqueue(Reply(text=f"Answer for {script.name}, grounded in the rows above."))
    before = len(fake.calls)
    async with bedrock_client(region="us-east-1") as client:
        runner = TaskRunner(
            router=KeywordRouter(registry),
            model=BedrockChatModel(client),
            default_model_id=MODEL,
            tool_context=lambda task: ToolContext.for_task(task, aws=None, region="us-east-1"),  # type: ignore[arg-type]
            prompt_cache=cache,
        )
        context = tuple(
            ContextMessage(author="bot" if line.startswith("orch:") else "user", text=line) for line in script.context
        )
        task = Task(
            request_id=new_request_id(), origin=ORIGIN, text=script.question, agent=script.agent, context=context
        )
        await runner.run(task, _Sink())
    return Measured(tuple(call.usage for call in fake.calls[before:] if call.usage is not None))


def tool_definition_tokens(registry: AgentRegistry) -> dict[str, tuple[int, int]]:
    """Per agent: its tool definitions' tokens by the fake's accounting, and by JSON characters / 4."""
    figures: dict[str, tuple[int, int]] = {}
    for agent in registry.all():
        tools = [
            {"toolSpec": {"name": t.name, "description": t.description, "inputSchema": {"json": t.input_schema}}}
            for t in (agent.toolset.tools if agent.toolset else ())
        ]
        figures[agent.name] = (sum(prompt_chars("tools", t) for t in tools) // 4, len(json.dumps(tools)) // 4)
    return figures


async def measure(*, min_tokens: int | None = 0) -> list[tuple[Script, Measured, Measured]]:
    """Each script with caching off, then on (a fresh cache per mode); ``min_tokens=None``: the model's minimum."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "benchmark")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark")
    registry = AgentRegistry([_offline(a) for a in default_registry().all()], default="general")
    rows = []
    async with FakeBedrock() as fake:
        os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = fake.endpoint_url
        fake.prompt_cache.min_tokens = min_tokens
        for script in SCRIPTS:
            fake.prompt_cache.clear()
            off = await run_script(script, fake, registry, cache=False)
            fake.prompt_cache.clear()
            on = await run_script(script, fake, registry, cache=True)
            rows.append((script, off, on))
    return rows


def report(rows: list[tuple[Script, Measured, Measured]], definitions: dict[str, tuple[int, int]]) -> str:
    """The two tables, as printed."""
    lines = [
        "Input tokens per task (fake Bedrock accounting, ~4 chars/token)",
        (
            f"{'task':32} {'agent':8} {'calls':>5} {'off':>8} {'on':>8} {'on, cached':>10} {'calls 2+ cached':>16}"
            f" {'repeat served':>14}"
        ),
    ]
    for script, off, on in rows:
        cached = sum(u.get("cacheReadInputTokens", 0) for u in on.usages)
        lines.append(
            f"{script.name:32} {script.agent:8} {len(on.usages):>5} {off.input_tokens:>8,} {on.input_tokens:>8,} "
            f"{cached:>10,} {on.later_share:>15.1%} {on.repeat_served:>13.1%}"
        )
    later = [u for _, _, on in rows for u in on.usages[1:]]
    total = sum(Measured._input(u) for u in later)  # noqa: SLF001 - one definition of a call's input
    share = sum(u.get("cacheReadInputTokens", 0) for u in later) / total if total else 0.0
    verdict = "met" if share >= TARGET_SHARE else "NOT met"
    lines += [
        f"all tasks, calls 2+: {share:.1%} of input tokens read from the cache (target {TARGET_SHARE:.0%}: {verdict})",
        "",
    ]
    lines += ["Tool-definition tokens per agent", f"{'agent':8} {'fake accounting':>16} {'JSON chars/4':>13}"]
    lines += [
        f"{name:8} {fake_tokens:>16,} {json_tokens:>13,}" for name, (fake_tokens, json_tokens) in definitions.items()
    ]
    return "\n".join(lines)


def main() -> None:
    """``python -m benchmarks.tokens [--min-tokens model|N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--min-tokens", default="model", help="minimum cacheable prefix in tokens ('model': the model's; 0: none)"
    )
    args = parser.parse_args()
    rows = asyncio.run(measure(min_tokens=None if args.min_tokens == "model" else int(args.min_tokens)))
    print(report(rows, tool_definition_tokens(default_registry())))


if __name__ == "__main__":
    main()
