"""What each agent's tool definitions cost: they are sent, and counted as input, on every model call.

Run ``python -m benchmarks.tooldefs`` (``--tools`` adds one line per tool). Each agent's tools go through
the Bedrock adapter's own request builder, as the agent loop offers them, and the ``toolConfig.tools`` it
would send (name, description and the input schema as JSON) is counted by the fake Bedrock's rule
(:func:`agents.testing.bedrock.cache.prompt_chars`: a definition's whole compact JSON, keys included;
about four characters a token). An agent sees only its own tools, so its row is what each of its calls pays
before the prompt cache serves it (and what the first call of a task writes to the cache).

:data:`BEFORE` holds the figures measured before the descriptions and schemas were tightened (issue 15,
round 6), for the before/after columns.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.catalog import default_registry
from agents.llm import ChatMessage, ModelRequest, ToolDefinition
from agents.llm._bedrock import _request_kwargs  # the exact request the adapter sends
from agents.testing.bedrock.cache import prompt_chars

if TYPE_CHECKING:
    from agents.catalog import AgentRegistry
    from agents.tools import Tool

__all__ = ["BEFORE", "AgentDefinitions", "measure", "report"]

#: Per agent, ``(tools, characters)`` of its definitions at commit 80fb8a4, before round 6 tightened them.
BEFORE: dict[str, tuple[int, int]] = {"general": (0, 0), "monitor": (3, 3_320), "logs": (4, 3_124), "infra": (6, 2_674)}


@dataclass(frozen=True, slots=True)
class AgentDefinitions:
    """One agent's tool definitions as sent: characters per tool, in the order the agent offers them."""

    agent: str
    tools: tuple[tuple[str, int], ...]

    @property
    def chars(self) -> int:
        """All of the agent's definitions, in characters."""
        return sum(chars for _, chars in self.tools)

    @property
    def tokens(self) -> int:
        """The fake Bedrock's count: characters / 4."""
        return tokens(self.chars)


def tokens(chars: int) -> int:
    """Tokens by the fake Bedrock's rule (about four characters a token)."""
    return chars // 4


def definitions(tools: tuple[Tool[Any], ...]) -> list[dict[str, Any]]:
    """``tools`` as Converse's ``toolConfig.tools``, built by the Bedrock adapter (no cache point)."""
    if not tools:
        return []
    request = ModelRequest(
        model_id="m",
        system="s",
        messages=(ChatMessage("user", "q"),),
        tools=tuple(ToolDefinition(t.name, t.description, t.input_schema) for t in tools),
    )
    sent: list[dict[str, Any]] = _request_kwargs(request)["toolConfig"]["tools"]
    return sent


def measure(registry: AgentRegistry) -> list[AgentDefinitions]:
    """Every agent of ``registry`` with what its tool definitions take."""
    return [
        AgentDefinitions(
            agent.name,
            tuple((spec["toolSpec"]["name"], prompt_chars("tools", spec)) for spec in definitions(agent.toolset.tools)),
        )
        for agent in registry.all()
    ]


def report(measured: list[AgentDefinitions], *, before: dict[str, tuple[int, int]], per_tool: bool = False) -> str:
    """The table, as printed: per agent its tools, characters and tokens, before and now."""
    lines = [
        "Tool-definition tokens per agent (toolConfig JSON as sent; fake Bedrock accounting, ~4 chars/token)",
        (
            f"{'agent':8} {'tools':>5} {'chars before':>12} {'chars now':>9} {'tokens before':>13} "
            f"{'tokens now':>10} {'change':>7}"
        ),
    ]
    for row in measured:
        tools_before, chars_before = before.get(row.agent, (len(row.tools), row.chars))
        change = f"{(row.chars - chars_before) / chars_before:+.0%}" if chars_before else "-"
        count = f"{len(row.tools)}" if tools_before == len(row.tools) else f"{tools_before}→{len(row.tools)}"
        lines.append(
            f"{row.agent:8} {count:>5} {chars_before:>12,} {row.chars:>9,} {tokens(chars_before):>13,} "
            f"{row.tokens:>10,} {change:>7}"
        )
        if per_tool:
            lines += [f"  {name:30} {chars:>6,} chars {tokens(chars):>5,} tokens" for name, chars in row.tools]
    return "\n".join(lines)


def main() -> None:
    """``python -m benchmarks.tooldefs [--tools]``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tools", action="store_true", help="one line per tool under each agent")
    args = parser.parse_args()
    print(report(measure(default_registry()), before=BEFORE, per_tool=args.tools))


if __name__ == "__main__":
    main()
