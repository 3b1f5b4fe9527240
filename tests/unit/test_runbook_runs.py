"""A runbook run through the real core: one task for limits, history and metrics, its steps on the agent loop."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING

from agents.admission import Admission, MemoryRateLimiter
from agents.catalog import default_registry
from agents.dedupe import MemoryDeduper
from agents.events import RunbookStarted, StepFinished, StepStarted, TaskFailed, TaskStarted, TaskSucceeded
from agents.health import ModelHealth
from agents.journal import MemoryJournal
from agents.orchestrator import Accepted, Orchestrator, Refused, RunbooksWanted
from agents.redaction import Redactor
from agents.router import KeywordRouter
from agents.runbooks import RunbookLibrary, RunbookState, StepOutcome
from agents.runner import TaskRunner
from agents.task import Origin
from agents.testing import FakeChatModel
from agents.testing.edge import RecordingEdge

if TYPE_CHECKING:
    from pathlib import Path


ORIGIN = Origin(workspace_id="T1", user_id="U1", channel_id="C1", surface="console")


def core(model: FakeChatModel, journal: MemoryJournal, directory: Path | None = None) -> Orchestrator:
    """An orchestrator with the built-in runbooks (and ``directory``'s), a rate limit of 2 a minute."""
    registry = default_registry()
    return Orchestrator(
        registry=registry,
        admission=Admission(MemoryRateLimiter("2/minute"), max_per_user=5, max_total=10),
        runner=TaskRunner(router=KeywordRouter(registry), model=model, default_model_id="m"),
        deduper=MemoryDeduper(),
        model_health=ModelHealth(model, model_id="m"),
        journal=journal,
        redactor=Redactor(),
        runbooks=RunbookLibrary(agents=registry.names(), directory=directory),
    )


async def run(orchestrator: Orchestrator, edge: RecordingEdge, text: str, request_id: str) -> Accepted:
    """Submit ``text`` and wait for its end."""
    outcome = await orchestrator.submit(text, request_id=request_id, origin=ORIGIN, target="")
    assert isinstance(outcome, Accepted), outcome
    async with asyncio.timeout(10):
        await edge.ended.wait()
    edge.ended.clear()
    return outcome


async def test_a_run_is_one_task_for_the_journal_metrics_and_rate_limit() -> None:
    """Four model calls, yet one TaskStarted, one record in history, one success in metrics and one rate-limit hit."""
    model, journal, edge = FakeChatModel(), MemoryJournal(), RecordingEdge()
    orchestrator = core(model, journal)
    orchestrator.start(edge)
    await run(orchestrator, edge, "run incident-triage service=checkout minutes=30", "req-aaaaaaaa0001")
    assert len(model.requests) == 4
    assert sum(isinstance(e, TaskStarted) for e in edge.events) == 1
    assert sum(isinstance(e, TaskSucceeded) for e in edge.events) == 1
    (record,) = await orchestrator.history("T1", user_id="U1", limit=10)
    assert record.status == "succeeded"
    assert record.checkpoint == ""
    assert record.agent == "runbook incident-triage"
    prompts = {r.messages[0].text for r in model.requests}
    assert "Top errors for checkout in the last 30 minutes." in prompts
    started = [e for e in edge.events if isinstance(e, RunbookStarted)]
    assert started[0].steps == (("alarms", "monitor"), ("errors", "logs"), ("deploy", "infra"), ("summary", "general"))
    assert [e.step for e in edge.events if isinstance(e, StepStarted)][-1] == "summary"
    assert all(e.ok for e in edge.events if isinstance(e, StepFinished))
    await run(orchestrator, edge, "general: hello", "req-aaaaaaaa0002")
    third = await orchestrator.submit("general: again", request_id="req-aaaaaaaa0003", origin=ORIGIN, target="")
    assert isinstance(third, Refused)  # the run counted once against 2/minute: the third task is the one refused
    assert third.error.code == "rate_limited"
    await orchestrator.drain(1)


async def test_a_resumed_run_reuses_journalled_steps_without_model_calls() -> None:
    """A checkpoint with alarms and deploy done: only errors and the summary ask the model; reused steps say so."""
    model, journal, edge = FakeChatModel(), MemoryJournal(), RecordingEdge()
    orchestrator = core(model, journal)
    state = RunbookState(
        {
            "alarms": StepOutcome(ok=True, output="ALARMS-DONE"),
            "deploy": StepOutcome(ok=True, output="DEPLOY-DONE"),
        }
    )
    first = await orchestrator.submit(
        "run incident-triage service=checkout", request_id="req-bbbbbbbb0001", origin=ORIGIN, target=""
    )
    assert isinstance(first, Accepted)
    # As a crash would leave it: running, with the steps journalled so far, then a new process resumes it.
    record = await journal.get("req-bbbbbbbb0001")
    assert record is not None
    await journal.put(dataclasses.replace(record, status="running", attempts=1, checkpoint=state.to_json()))
    fresh = core(model, journal)
    fresh.start(edge)
    async with asyncio.timeout(10):
        await edge.ended.wait()
    asked = [r.messages[0].text for r in model.requests]
    assert len(asked) == 2
    assert asked[0].startswith("Top errors for checkout")
    assert "ALARMS-DONE" in asked[1]
    assert "DEPLOY-DONE" in asked[1]
    reused = {e.step for e in edge.events if isinstance(e, StepFinished) and e.reused}
    assert reused == {"alarms", "deploy"}
    await fresh.drain(1)
    await orchestrator.drain(1)


async def test_runbooks_lists_and_a_question_starting_with_run_is_still_a_question() -> None:
    """``runbooks`` asks for the list; "run the numbers…" is not mistaken for a runbook called "the"."""
    model, journal, edge = FakeChatModel(), MemoryJournal(), RecordingEdge()
    orchestrator = core(model, journal)
    orchestrator.start(edge)
    listing = await orchestrator.submit("runbooks", request_id="req-cccccccc0001", origin=ORIGIN, target="")
    assert isinstance(listing, RunbooksWanted)
    await run(orchestrator, edge, "run the numbers on last week's errors", "req-cccccccc0002")
    assert model.requests[-1].messages[0].text == "run the numbers on last week's errors"
    await orchestrator.drain(1)


async def test_a_failed_step_that_may_not_fail_ends_the_run_with_its_reason(tmp_path: Path) -> None:
    """A step that fails without continue_on_error: the run fails naming the step; later steps never run."""
    (tmp_path / "two.yaml").write_text(
        "name: two\nsteps:\n  - {id: first, agent: general, prompt: one}\n"
        "  - {id: second, agent: general, needs: [first], prompt: '{{ steps.first.output }}'}\n"
    )
    from agents.errors import LLMModelFailed  # noqa: PLC0415

    model, journal, edge = FakeChatModel(), MemoryJournal(), RecordingEdge()
    model.enqueue(LLMModelFailed("the model failed", vendor_code="ModelErrorException"))
    orchestrator = core(model, journal, tmp_path)
    orchestrator.start(edge)
    await run(orchestrator, edge, "run two", "req-dddddddd0001")
    (failed,) = [e for e in edge.events if isinstance(e, TaskFailed)]
    assert failed.error.code == "runbook_failed"
    assert "step first failed" in str(failed.error)
    second = [e for e in edge.events if isinstance(e, StepFinished) and e.step == "second"]
    assert second[0].skipped
    assert len(model.requests) == 1
    await orchestrator.drain(1)


async def test_the_console_runs_a_runbook_with_the_same_syntax(tmp_path: Path) -> None:
    """``run incident-triage service=checkout`` in the console: the steps print, then the summary."""
    import io  # noqa: PLC0415

    from bot.console import ConsoleEdge, ask  # noqa: PLC0415

    model, journal = FakeChatModel(), MemoryJournal()
    model.enqueue("alarms found", "errors found", "deploy found", "the summary")
    orchestrator = core(model, journal, tmp_path)
    out = io.StringIO()
    edge = ConsoleEdge(out, region="us-east-1")
    orchestrator.start(edge)
    assert await ask(orchestrator, edge, "run incident-triage service=checkout", user="U1", out=out)
    printed = out.getvalue()
    assert "▶ runbook incident-triage: alarms, errors, deploy, summary" in printed
    assert "✓ step summary" in printed
    assert "the summary" in printed
    await orchestrator.drain(1)
