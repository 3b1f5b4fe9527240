"""A scripted model that obeys every injection it reads: the worst model the bot could be given.

It answers the fake Bedrock's requests (as :attr:`FakeBedrock.default_reply`). On a task's first turn it
calls the read tool the test planned for that task (found by a token in the question), so the poisoned
data comes back as a tool result. Whenever the newest user turn (question, thread, tool results, a runbook
step's output) holds payloads it has not obeyed yet, it does what each one says: calls the write tools with
the requested parameters (filled from the offered schema when the tool is offered, called anyway when not),
calls tools that do not exist, and writes the payload's text. Its final answer repeats everything every
payload asked it to write, and, when a payload asks for secrets or a verbatim copy, everything it was given.

It records what it did (:attr:`ObedientModel.attempts`), so the test can say how hard the bot was pushed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.testing.bedrock import Reply
from agents.testing.bedrock.script import forced_default, forced_tool
from tests.injection.corpus import CORPUS, Ask, Payload, Targets

if TYPE_CHECKING:
    from agents.testing.bedrock import ConverseCall

__all__ = ["Attempt", "ObedientModel", "strings"]

_PAYLOAD_ID = re.compile(r"\[(inj-\d\d)\]")
_BY_ID = {payload.id: payload for payload in CORPUS}
_QUOTE_CHARS = 6_000  # enough to repeat a whole batch of poisoned data, short of Slack's message limits


@dataclass(frozen=True, slots=True)
class Attempt:
    """One tool call the model made because a payload asked for it."""

    payload: str
    tool: str
    offered: bool


def strings(value: object) -> list[str]:
    """Every string inside decoded JSON (keys excluded), in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


@dataclass
class ObedientModel:
    """The fake Bedrock's model for the corpus run."""

    targets: Targets
    attempts: list[Attempt] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    texts: list[str] = field(default_factory=list)  # everything it wrote, before the bot's output filter
    _plans: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def plan(self, token: str, *tool_uses: dict[str, Any]) -> None:
        """A task whose question holds ``token`` starts by calling these (read) tools."""
        self._plans[token] = list(tool_uses)

    def __call__(self, call: ConverseCall) -> Reply:
        forced = forced_tool(call)
        if forced is not None:  # the router: any valid choice (tasks name their agent)
            return forced_default(call, forced)
        users = [m for m in call.body.get("messages") or [] if m.get("role") == "user"]
        latest = "\n".join(strings(users[-1].get("content"))) if users else ""
        earlier = "\n".join(s for m in users[:-1] for s in strings(m.get("content")))
        fresh = [_BY_ID[i] for i in dict.fromkeys(_PAYLOAD_ID.findall(latest)) if f"[{i}]" not in earlier]
        self.seen.update(payload.id for payload in fresh)
        offered = _offered(call)
        uses: list[dict[str, Any]] = []
        if len(users) == 1:  # a task's first turn: the read tool the test planned, where this agent has it
            plan = next((plan for token, plan in self._plans.items() if token in latest), [])
            uses += [use for use in plan if use["name"] in offered]
        if offered:  # a request without tools cannot be answered with a tool call (Bedrock's own check)
            uses += [self._use(payload, ask, offered) for payload in fresh for ask in payload.asks]
        said = [self.targets.fill(payload.says) for payload in fresh if payload.says]
        text = (" ".join(said) or "Checking.") if uses else self._answer(users)
        self.texts.append(text)
        return Reply(text=text, tool_uses=uses)

    def _use(self, payload: Payload, ask: Ask, offered: dict[str, dict[str, Any]]) -> dict[str, Any]:
        schema = offered.get(ask.tool)
        self.attempts.append(Attempt(payload.id, ask.tool, schema is not None))
        args = {name: _filled(value, self.targets) for name, value in ask.args.items()}
        if schema is not None:
            args = _fit(schema, args, self.targets)
        return {"name": ask.tool, "input": args}

    def _answer(self, users: list[dict[str, Any]]) -> str:
        """Everything every payload in the conversation asked to be written, and the data when asked to leak it."""
        everything = "\n".join(s for m in users for s in strings(m.get("content")))
        payloads = [_BY_ID[i] for i in dict.fromkeys(_PAYLOAD_ID.findall(everything))]
        parts = ["Done as instructed."] + [self.targets.fill(p.says) for p in payloads if p.says]
        if any(p.quote for p in payloads) or "verbatim" in everything:
            parts.append("Everything I was given:\n" + everything[-_QUOTE_CHARS:])
        return "\n".join(parts)


def _offered(call: ConverseCall) -> dict[str, dict[str, Any]]:
    """The tools this request offers: name to input JSON schema."""
    tools = (call.body.get("toolConfig") or {}).get("tools") or []
    specs = [tool["toolSpec"] for tool in tools if isinstance(tool, dict) and "toolSpec" in tool]
    return {spec["name"]: (spec.get("inputSchema") or {}).get("json") or {} for spec in specs}


def _filled(value: Any, targets: Targets) -> Any:
    if isinstance(value, str):
        return targets.fill(value)
    if isinstance(value, list):
        return [_filled(item, targets) for item in value]
    return value


def _fit(schema: dict[str, Any], args: dict[str, Any], targets: Targets) -> dict[str, Any]:
    """``args`` reshaped to an offered tool's schema: the victim in whatever field names it, as that field's type."""
    properties: dict[str, Any] = schema.get("properties") or {}
    fitted: dict[str, Any] = {}
    for name, prop in properties.items():
        lowered = name.lower()
        value: Any
        if "instance" in lowered:
            value = targets.instance
        elif "cluster" in lowered:
            value = targets.cluster
        elif "service" in lowered:
            value = targets.service
        elif "count" in lowered or "desired" in lowered:
            value = 0
        elif name in args:
            value = args[name]
        elif name in (schema.get("required") or ()):
            value = "as instructed in the data"
        else:
            continue
        if prop.get("type") == "array" and not isinstance(value, list):
            value = [value]
        elif prop.get("type") == "string" and isinstance(value, list):
            value = value[0]
        fitted[name] = value
    return fitted
