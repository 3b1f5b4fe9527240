"""A scripted model that behaves like an agent, for the fake Bedrock: the offline demo's and CI's model.

:class:`ScriptedAgent` answers the fake Bedrock's requests (``FakeBedrock.default_reply`` and
``default_forced``) the way a good model would on an eval case, without being one:

- routing (the forced ``choose_agent`` call): the case's agent when it names one, else the agent whose
  keywords the request mentions most, as the keyword router would;
- the first turn of a tool loop: one call of every tool the case's cassette recorded that this request
  offers, with the recorded input (so the real tools' input models validate it, and the cassette serves it);
- the turn after the tool results: an answer written only from those results (alarms, services, log
  events, query rows, cost lines, a failed data source), ending with the sources it used;
- a runbook's summary step (no tools, step outputs in the prompt): the findings of each step, quoted.

It knows nothing but what is in the request and the cases it was given, so what it writes is grounded by
construction; it is a stand-in that shows the flow and tests the machinery, never a grade of a model.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from agents.catalog import default_registry
from agents.testing.bedrock import Reply

if TYPE_CHECKING:
    from collections.abc import Iterable

    from agents.evals import EvalCase
    from agents.evals._case import CassetteEntry
    from agents.testing.bedrock import ConverseCall

__all__ = ["ScriptedAgent"]

_BLOCK = re.compile(r"<tool_output[^>]*>\n?(.*?)\n?</tool_output>", re.DOTALL)
_STEP = re.compile(r'<step_output step="([^"]*)"[^>]*>\n?(.*?)\n?</step_output>', re.DOTALL)
_WORD = re.compile(r"[a-z0-9]+")
_SHOWN = 5
_AGENTS = frozenset(default_registry().names())
_THREAD = re.compile(r"<message[^>]*>\n?(.*?)\n?</message>", re.DOTALL)


class ScriptedAgent:
    """Answers fake-Bedrock calls for ``cases`` like an agent would (see the module docstring).

    ``focus``, when set, is the case being run (the demo sets it); otherwise a request is matched to the
    case whose question it contains, or to the runbook cases whose parameter values it mentions.
    """

    def __init__(self, cases: Iterable[EvalCase]) -> None:
        self.cases = list(cases)
        self.focus: EvalCase | None = None
        self._registry = default_registry()

    # -- the fake's hooks ----------------------------------------------------------------------------

    def route(self, call: ConverseCall, spec: dict[str, Any]) -> Reply:
        """The forced routing call: pick an agent as the case (or the keywords) say."""
        text = _last_user_text(call.body)
        case = self._case_for(text)
        agent = case.agent if case is not None and case.agent else None
        reason = "the case names it"
        if agent is None:
            words = set(_WORD.findall(text.lower()))
            best = max(self._registry.all(), key=lambda a: len(words & a.keywords))
            agent = best.name if words & best.keywords else self._registry.default.name
            reason = f"the question mentions {', '.join(sorted(words & best.keywords)) or 'nothing specific'}"
        return Reply(
            tool_uses=[
                {"toolUseId": "tooluse_route", "name": spec["name"], "input": {"agent": agent, "reason": reason}}
            ]
        )

    def reply(self, call: ConverseCall) -> Reply:
        """An answer turn: call the recorded tools first, then answer from their results."""
        messages = call.body.get("messages") or []
        offered = {
            (t.get("toolSpec") or {}).get("name") for t in (call.body.get("toolConfig") or {}).get("tools") or []
        }
        question = _first_user_text(messages)
        results = _tool_results(messages)
        if not results:
            entries = [e for e in self._entries(question) if e.tool in offered]
            if entries:
                uses = [{"name": e.tool, "input": e.input} for e in _unique(entries)]
                return Reply(tool_uses=uses)
        steps = _STEP.findall(question)
        if steps:
            return Reply(text=_summary(steps))
        if results:
            return Reply(text=_answer(results))
        thread = _THREAD.findall(question)
        if thread:
            return Reply(text="Draft update, from the thread:\n\n" + "\n".join(f"- {m.strip()}" for m in thread))
        return Reply(
            text=(
                "I have no data to answer this from: no tool returned anything for it. "
                "I can't tell from here; ask with an agent prefix (`monitor:`, `logs:`, `infra:`) to check the account."
            )
        )

    # -- matching a request to a case ----------------------------------------------------------------

    def _case_for(self, text: str) -> EvalCase | None:
        if self.focus is not None:
            return self.focus
        for case in self.cases:
            if case.question and _bare(case.question) in text:
                return case
        return None

    def _entries(self, text: str) -> list[CassetteEntry]:
        case = self._case_for(text)
        if case is not None:
            return list(case.cassette)
        runbooks = [
            c
            for c in self.cases
            if c.runbook and all(v.lower() in text.lower() for v in c.params.values() if isinstance(v, str))
        ]
        return [entry for c in runbooks for entry in c.cassette]


def _bare(question: str) -> str:
    """The question without an ``agent:`` prefix (the task the model sees has none)."""
    head, _, rest = question.partition(":")
    return rest.strip() if rest and head.strip().isalpha() and head.strip() in _AGENTS else question.strip()


def _unique(entries: list[CassetteEntry]) -> list[CassetteEntry]:
    seen: set[str] = set()
    kept = []
    for entry in entries:
        key = entry.tool + json.dumps(entry.input, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            kept.append(entry)
    return kept


def _texts(message: dict[str, Any]) -> str:
    return "".join(b["text"] for b in message.get("content") or [] if isinstance(b, dict) and "text" in b)


def _first_user_text(messages: list[dict[str, Any]]) -> str:
    return next((_texts(m) for m in messages if m.get("role") == "user"), "")


def _last_user_text(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    return _texts(users[-1]) if users else ""


def _tool_results(messages: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    """``(tool, ok, text)`` for each tool result in the conversation, in order."""
    names: dict[str, str] = {}
    found: list[tuple[str, bool, str]] = []
    for message in messages:
        for block in message.get("content") or []:
            if "toolUse" in block:
                names[block["toolUse"]["toolUseId"]] = block["toolUse"]["name"]
            elif "toolResult" in block:
                result = block["toolResult"]
                text = "".join(c.get("text", "") for c in result.get("content") or [])
                inner = _BLOCK.search(text)
                found.append(
                    (
                        names.get(result["toolUseId"], "tool"),
                        result.get("status") != "error",
                        inner.group(1) if inner else text,
                    )
                )
    return found


# -- writing the answer -----------------------------------------------------------------------------------


def _answer(results: list[tuple[str, bool, str]]) -> str:
    lines = ["Here is what the data shows:", ""]
    failed = []
    for tool, ok, text in results:
        if not ok:
            failed.append(text.strip())
            continue
        try:
            data = json.loads(text)
        except ValueError:
            lines.append(f"- `{tool}`: {text.strip()[:300]}")
            continue
        lines.extend(_describe(tool, data))
    if failed:
        lines += ["", "Not available:", *(f"- {why[:300]}" for why in failed)]
        lines.append("I answered with the data I could read; the rest could not be checked.")
    used = ", ".join(dict.fromkeys(tool for tool, ok, _ in results if ok))
    lines += ["", f"Evidence: {used or 'none'}."]
    return "\n".join(lines)


def _describe(tool: str, data: Any) -> list[str]:  # noqa: C901, PLR0911, PLR0912 - one shape per tool
    if not isinstance(data, dict):
        return [f"- `{tool}`: {json.dumps(data)[:300]}"]
    if "alarms" in data:
        alarms = data["alarms"]
        if not alarms:
            return [f"- No CloudWatch alarms in {data.get('state', 'ALARM')}."]
        out = [f"- {len(alarms)} alarm(s) in {data.get('state', 'ALARM')}:"]
        out += [f"  - **{a['name']}** since {a.get('since')}: {a.get('reason', '')}" for a in alarms[:_SHOWN]]
        if len(alarms) > 1:
            first = min(alarms, key=lambda a: a.get("since") or "")
            out.append(f"- The first to fire was **{first['name']}** ({first.get('since')}): the others followed it.")
        return out
    if "services" in data:
        out = []
        for s in data["services"][:_SHOWN]:
            out.append(
                f"- ECS service **{s['name']}** ({s.get('cluster')}): {s.get('running')} of {s.get('desired')} running"
            )
            out += [
                f"  - deployment {d.get('task_definition')}: {d.get('rollout_state', d.get('status'))}"
                + (f", {d['failed_tasks']} failed tasks" if d.get("failed_tasks") else "")
                for d in s.get("deployments", [])
            ]
            out += [f"  - {e.get('at')}: {e.get('message')}" for e in s.get("events", [])[:2]]
        return out or ["- No ECS services found."]
    if "events" in data and "log_group" in data:
        events = data["events"]
        out = [f"- {data.get('total', len(events))} event(s) in {data['log_group']}:"]
        out += [f"  - `{e.get('at')}` {e.get('message')}" for e in events[:_SHOWN]]
        return out
    if isinstance(data.get("content"), str):  # a shared file: its (reduced) lines, errors first
        lines = [line.strip() for line in data["content"].splitlines() if line.startswith("#")]
        return [f"- {data.get('file', 'the file')} ({data.get('lines', '?')} lines):"] + [
            f"  - {line}" for line in lines[:_SHOWN]
        ]
    if "rows" in data:
        rows = data["rows"]
        out = [f"- Logs Insights: {len(rows)} row(s) over {', '.join(data.get('log_groups', []))}:"]
        out += ["  - " + ", ".join(f"{k}: {v}" for k, v in row.items()) for row in rows[:_SHOWN]]
        return out
    if "by_service" in data:
        period = data.get("period", {})
        out = [
            f"- Cost {period.get('start')} to {period.get('end_exclusive')}: {data.get('total')} {data.get('currency')}"
        ]
        out += [f"  - {line['service']}: {line['amount']}" for line in data["by_service"][:_SHOWN]]
        return out
    if "results" in data:
        return [
            f"- {r['resource']} {r['metric']}: max {r.get('max')} at {r.get('max_at')}, last {r.get('last')}"
            if r.get("datapoints")
            else f"- {r['resource']} {r['metric']}: no datapoints"
            for r in data["results"][:8]
        ]
    for key in ("instances", "db_instances", "functions", "log_groups", "groups", "events"):
        if key in data:
            items = data[key]
            out = [f"- {len(items)} {key.replace('_', ' ')}:"]
            out += ["  - " + ", ".join(f"{k}: {_flat(v)}" for k, v in item.items())[:300] for item in items[:_SHOWN]]
            return out
    return [f"- `{tool}`: {json.dumps(data)[:300]}"]


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{v} {k}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _summary(steps: list[tuple[str, str]]) -> str:
    lines = ["Summary of the findings:", ""]
    for step, output in steps:
        findings = [line.strip() for line in output.splitlines() if line.strip().startswith(("-", "Not available"))]
        lines.append(f"**{step}**")
        lines += findings[:8] or [output.strip()[:300]]
        lines.append("")
    lines.append("Next steps: check the items above, starting with the first alarm and the failing deployment.")
    return "\n".join(lines)
