"""Turning a journalled task into an eval case: a bad answer in Slack becomes a regression test.

The task's record holds what is needed: the question (or runbook and parameters), the thread it was asked
in, and every tool call with its validated input and its redacted, bounded output (:mod:`agents.toolcalls`),
which become the case's cassette. What people said was wrong (their 👎 texts, and ``--expect``) becomes
the case's note and the judge's rubric; the facts a right answer must contain are left for a person to
write, since the recorded answer is the one that was wrong.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import yaml

from agents.stores import RedisJournal, open_journal
from agents.task import Task
from agents.toolcalls import load_calls

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from agents.journal import TaskJournal, TaskRecord
    from agents.settings import Settings
    from agents.toolcalls import RecordedCall

__all__ = ["ExportError", "case_from_record", "export_case", "open_store_journal"]


class ExportError(Exception):
    """The task cannot be exported (unknown, or not a task with a question); the message says why."""


@asynccontextmanager
async def open_store_journal(settings: Settings) -> AsyncIterator[TaskJournal]:
    """The journal ``ORCH_STORE_URL`` names (SQLite or Redis), read-only use, closed on exit."""
    journal: TaskJournal
    if settings.shared_store:
        from agents.assembly import shared_redis  # noqa: PLC0415 - only for a Redis store

        journal = RedisJournal(shared_redis(settings.orch_store_url), prefix=settings.orch_redis_prefix)
    else:
        journal = await open_journal(settings.orch_store_url)
    try:
        yield journal
    finally:
        await journal.close()


def _entry(call: RecordedCall) -> dict[str, Any]:
    entry: dict[str, Any] = {"tool": call.tool, "input": call.input}
    if call.error is not None:
        entry["error"] = call.error.removeprefix(f"{call.source} failed: ")
        return entry
    try:
        entry["output"] = json.loads(call.output)
    except ValueError:
        entry["output"] = call.output  # cut to the record's bound: kept as the text the model saw
    return entry


def case_from_record(record: TaskRecord, *, expectation: str | None, redact: Callable[[str], str]) -> dict[str, Any]:
    """The case (as YAML-ready data) for the task ``record`` describes, with ``expectation`` as its note."""
    if not record.task_json:
        raise ExportError(f"{record.request_id} has no stored task to export")
    task = Task.model_validate_json(record.task_json)
    calls = load_calls(record.tool_calls)
    case: dict[str, Any] = {
        "name": f"export-{record.request_id}",
        "description": f"Exported from {record.request_id}" + (f" ({record.agent} agent)" if record.agent else ""),
    }
    if task.runbook is not None:
        case["runbook"] = task.runbook.name
        case["params"] = {k: v for k, v in task.runbook.params.items() if v is not None}
    else:
        case["question"] = task.text
        if task.agent:
            case["agent"] = task.agent
    if task.context:
        case["thread"] = [{"author": m.author, "text": m.text} for m in task.context]
    case["cassette"] = [_entry(call) for call in calls]
    case["unrecorded"] = "nearest"
    expect: dict[str, Any] = {"facts": [], "tools": list(dict.fromkeys(call.tool for call in calls if call.ok))}
    if expectation:
        expect["note"] = redact(expectation)
        case["judge"] = {
            "rubric": (
                "The recorded answer to this question was marked wrong: "
                f"{redact(expectation)}\nScore 5 only if the answer avoids that mistake and is grounded in the tool "
                "outputs; 1 if it repeats it."
            )
        }
    case["expect"] = expect
    return case


_HEADER = (
    "# Eval case exported by `orch-bot eval export`. Fill in expect.facts (what a right answer must say)\n"
    "# and expect.not_claims (what the wrong answer said), then run: orch-bot eval --cases {directory}\n"
)


async def export_case(
    journal: TaskJournal,
    request_id: str,
    *,
    out: Path,
    expectation: str | None,
    redact: Callable[[str], str],
) -> Path:
    """Write the case for ``request_id`` into ``out`` (created if needed); the new file's path.

    Its note is every 👎 text given for the task, then ``expectation``.
    """
    record = await journal.get(request_id)
    if record is None:
        raise ExportError(f"no task {request_id} in the journal (it may be older than the retention period)")
    # What people said was wrong (their 👎 texts, already redacted when stored), with the command line's note.
    said = [f.text for f in await journal.feedback(request_id) if f.rating == "down" and f.text]
    notes = [*said, *([expectation] if expectation else [])]
    case = case_from_record(record, expectation="\n".join(notes) or None, redact=redact)
    return await asyncio.to_thread(_write, out, case)


def _write(out: Path, case: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{case['name']}.yaml"
    number = 2
    while path.exists():  # exported twice: a second case, named after its file so names stay unique
        path = out / f"{case['name']}-{number}.yaml"
        number += 1
    case["name"] = path.stem
    body = yaml.safe_dump(case, sort_keys=False, allow_unicode=True, width=110)
    path.write_text(_HEADER.format(directory=out) + body, encoding="utf-8")
    return path
