"""Tools served from a cassette: the real tools' names, descriptions and input models, recorded outputs.

:func:`cassette_registry` gives every agent the same tools it has in production, with one difference:
``run`` looks the call up in the cassette of the case being run instead of calling AWS. The runner still
validates the model's input with the real :class:`~agents.tools.ToolInput` first, so an input the real
tool would refuse is refused here too. A validated input is matched on its canonical JSON (every field,
defaults included, keys sorted); an input the cassette does not hold is, by the case's ``unrecorded``
rule, an error the model hears, or the recorded call of that tool whose fields agree with it most.
A recorded ``error`` is raised as :class:`~agents.errors.ToolFailed`, so the model sees what a failing data
source looks like in production.

Several cases may share one process: :class:`CassetteDeck` finds a call's cassette by its request ID.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.catalog import AgentRegistry
from agents.errors import ToolFailed
from agents.tools import Tool, ToolContext, ToolInput, ToolOutput, Toolset

if TYPE_CHECKING:
    from collections.abc import Iterable

    from agents.evals._case import CassetteEntry, EvalCase

__all__ = ["Cassette", "CassetteDeck", "canonical", "tool_inputs"]

_NOT_RECORDED = "no recorded output for this input in the eval case's cassette"


def canonical(data: dict[str, Any]) -> str:
    """The matching key of a validated input: JSON with sorted keys."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)


def _overlap(left: dict[str, Any], right: dict[str, Any]) -> int:
    """How many fields two inputs agree on, less how many they disagree on."""
    keys = left.keys() | right.keys()
    same = sum(1 for key in keys if canonical({"v": left.get(key)}) == canonical({"v": right.get(key)}))
    return 2 * same - len(keys)


@dataclass(frozen=True, slots=True)
class _Recorded:
    entry: CassetteEntry
    fields: dict[str, Any]


class Cassette:
    """One case's recorded calls, and its rule for inputs they do not cover (``error`` or ``nearest``)."""

    def __init__(
        self, entries: Iterable[CassetteEntry], *, unrecorded: str, inputs: dict[str, type[ToolInput]]
    ) -> None:
        self.unrecorded = unrecorded
        #: The tools asked for, in order (runbook steps' calls included, which the journal does not keep).
        self.played: list[str] = []
        self._by_tool: dict[str, list[_Recorded]] = {}
        for entry in entries:
            model = inputs.get(entry.tool)
            fields = model.model_validate(entry.input).model_dump(mode="json") if model else dict(entry.input)
            self._by_tool.setdefault(entry.tool, []).append(_Recorded(entry, fields))

    @classmethod
    def of(cls, case: EvalCase, inputs: dict[str, type[ToolInput]]) -> Cassette:
        """The cassette of ``case``."""
        return cls(case.cassette, unrecorded=case.unrecorded, inputs=inputs)

    def lookup(self, tool: str, fields: dict[str, Any]) -> CassetteEntry | None:
        """The recorded call for ``tool`` with these validated input ``fields``, by the cassette's rule."""
        recorded = self._by_tool.get(tool, [])
        key = canonical(fields)
        for item in recorded:
            if canonical(item.fields) == key:
                return item.entry
        if self.unrecorded != "nearest" or not recorded:
            return None
        return max(recorded, key=lambda item: _overlap(item.fields, fields)).entry  # first of equals wins

    def play(self, tool: Tool[Any], request: ToolInput) -> ToolOutput:
        """What ``tool`` returns for ``request``; raises :class:`ToolFailed` as the recorded call did."""
        self.played.append(tool.name)
        entry = self.lookup(tool.name, request.model_dump(mode="json"))
        if entry is None:
            raise ToolFailed(source=tool.source, reason=_NOT_RECORDED)
        if entry.error is not None:
            raise ToolFailed(source=tool.source, reason=entry.error)
        return ToolOutput(entry.output, summary="from the eval cassette")


class CassetteDeck:
    """The cassettes of the cases running in this process, by request ID."""

    def __init__(self) -> None:
        self._cassettes: dict[str, Cassette] = {}

    def insert(self, request_id: str, cassette: Cassette) -> None:
        """Serve ``request_id``'s tool calls from ``cassette``."""
        self._cassettes[request_id] = cassette

    def eject(self, request_id: str) -> None:
        """Forget ``request_id``'s cassette."""
        self._cassettes.pop(request_id, None)

    def cassette(self, request_id: str) -> Cassette | None:
        """The cassette for ``request_id``, if one was inserted."""
        return self._cassettes.get(request_id)

    def _served(self, tool: Tool[Any]) -> Tool[Any]:
        async def run(context: ToolContext, request: ToolInput) -> ToolOutput:
            cassette = self._cassettes.get(context.request_id)
            if cassette is None:
                raise ToolFailed(source=tool.source, reason="no eval cassette for this task")
            return cassette.play(tool, request)

        return dataclasses.replace(tool, run=run)

    def registry(self, base: AgentRegistry) -> AgentRegistry:
        """``base``'s agents with every tool served from this deck (same names, inputs and descriptions).

        Actions are left out: a case never reaches AWS, and nobody could approve one.
        """
        agents = [
            dataclasses.replace(
                agent,
                toolset=dataclasses.replace(agent.toolset, tools=tuple(self._served(t) for t in agent.toolset.tools)),
                actions=Toolset(),
            )
            for agent in base.all()
        ]
        return AgentRegistry(agents, default=base.default.name)


def tool_inputs(registry: AgentRegistry) -> dict[str, type[ToolInput]]:
    """Every tool name of ``registry`` with its input model (what cassette entries are checked against)."""
    inputs: dict[str, type[ToolInput]] = {}
    for agent in registry.all():
        for tool in agent.toolset.tools:
            inputs[tool.name] = tool.input_model
    return inputs
