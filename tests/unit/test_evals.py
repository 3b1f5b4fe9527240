"""The eval suite's machinery against the fake Bedrock and a scripted model: it tests the suite, not a model."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from agents.assembly import open_core
from agents.catalog import default_registry
from agents.errors import LLMThrottled
from agents.evals import (
    CASES_DIR,
    Cassette,
    CassetteDeck,
    CassetteEntry,
    EvalCase,
    Expectations,
    Judge,
    eval_command,
    export_case,
    format_report,
    load_case_text,
    load_cases,
    parse_verdict,
    run_cases,
    score_answer,
    tool_inputs,
)
from agents.events import ToolCallRecorded, ToolFinished, ToolStarted
from agents.feedback import Feedback
from agents.journal import MemoryJournal, TaskRecord
from agents.orchestrator import Accepted
from agents.settings import load_settings
from agents.task import ContextMessage, Origin, Task
from agents.testing import FakeChatModel
from agents.testing.bedrock import FakeBedrock, Reply
from agents.testing.edge import RecordingEdge
from agents.testing.scripted_agent import ScriptedAgent
from agents.toolcalls import RecordedCall, dump_calls
from tests.unit.test_runbook_runs import ORIGIN

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

INPUTS = tool_inputs(default_registry())

ALARMS_CASE = """\
question: "what's alarming right now?"
agent: monitor
cassette:
  - tool: list_alarms
    input: {state: ALARM}
    output: {region: us-east-1, state: ALARM, alarms: [{name: checkout-db-connections-high, state: ALARM, since: "2026-03-12T14:03:00Z", reason: "Threshold Crossed"}], total: 1}
  - tool: list_alarms
    input: {state: ALARM, name_prefix: checkout}
    output: {region: us-east-1, state: ALARM, alarms: [], total: 0}
unrecorded: nearest
expect:
  facts: [checkout-db-connections-high, "re:since \\\\d{4}-"]
  tools: [list_alarms]
  not_claims: [AWS outage]
  max_model_calls: 3
"""


def _case(text: str, name: str = "case") -> EvalCase:
    case, problems = load_case_text(text, path=f"{name}.yaml", tools=INPUTS)
    assert not problems, problems
    assert case is not None
    return case


@pytest.fixture
async def scripted(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBedrock]:
    """A fake Bedrock in this process whose model is the scripted agent; the Bedrock client points at it."""
    async with FakeBedrock() as fake:
        for name, value in {
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake.endpoint_url,
            "AWS_ACCESS_KEY_ID": "AKIAEVALTEST00000000",
            "AWS_SECRET_ACCESS_KEY": "eval-secret",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            monkeypatch.setenv(name, value)
        yield fake


def _settings():  # type: ignore[no-untyped-def]
    return load_settings().model_copy(update={"orch_rate_limit": "1000/minute", "orch_max_tasks_per_user": 50})


def test_problems_in_a_case_file_are_reported_at_their_line() -> None:
    """Unknown keys, a case with neither question nor runbook, and a cassette input the real tool refuses: path:line."""
    text = """\
question: "what's alarming?"
expect:
  facts: [x]
  colour: blue
cassette:
  - tool: list_alarms
    input:
      state: BROKEN
    output: {}
  - tool: no_such_tool
    output: {}
"""
    case, problems = load_case_text(text, path="cases/bad.yaml", tools=INPUTS)
    assert case is None
    shown = [str(problem) for problem in problems]
    assert "cases/bad.yaml:4: expect.colour: unknown key" in shown
    _, problems = load_case_text(text.replace("  colour: blue\n", ""), path="cases/bad.yaml", tools=INPUTS)
    shown = [str(problem) for problem in problems]
    assert any(s.startswith("cases/bad.yaml:7: cassette[0].input: state: Input should be 'ALARM'") for s in shown), (
        shown
    )
    assert any(s.startswith("cases/bad.yaml:9: cassette[1].tool: unknown tool 'no_such_tool'") for s in shown), shown
    _, problems = load_case_text("agent: monitor\n", path="c.yaml", tools=INPUTS)
    assert [str(p) for p in problems] == ["c.yaml:1: give exactly one of question or runbook"]


def test_the_shipped_cases_load_and_cover_every_agent_and_the_runbooks() -> None:
    """At least 20 valid cases, over monitor, logs, infra, general and all three built-in runbooks."""
    cases, problems = load_cases(CASES_DIR, tools=INPUTS)
    assert problems == []
    assert len(cases) >= 20
    assert {"monitor", "logs", "infra", "general"} <= {case.agent for case in cases if case.agent}
    assert {"incident-triage", "deploy-check", "cost-report"} <= {case.runbook for case in cases if case.runbook}
    assert any(entry.error for case in cases for entry in case.cassette)  # a tool failing mid-investigation
    assert {"error", "nearest"} == {case.unrecorded for case in cases}


def test_a_cassette_serves_the_exact_input_then_the_nearest_or_nothing_by_its_rule() -> None:
    """Exact canonical match first; otherwise the entry with the most fields in common, or nothing under ``error``."""
    entries = [
        CassetteEntry(tool="list_alarms", input={"state": "ALARM"}, output={"n": 1}),
        CassetteEntry(tool="list_alarms", input={"state": "ALARM", "name_prefix": "checkout"}, output={"n": 2}),
        CassetteEntry(tool="list_alarms", input={"state": "OK"}, error="AccessDenied"),
    ]
    nearest = Cassette(entries, unrecorded="nearest", inputs=INPUTS)
    strict = Cassette(entries, unrecorded="error", inputs=INPUTS)
    full = INPUTS["list_alarms"].model_validate
    assert nearest.lookup("list_alarms", full({}).model_dump(mode="json")) is entries[0]  # defaults fill state=ALARM
    prefixed = full({"name_prefix": "checkout"}).model_dump(mode="json")
    assert nearest.lookup("list_alarms", prefixed) is entries[1]
    other = full({"state": "ALARM", "name_prefix": "payments"}).model_dump(mode="json")
    assert nearest.lookup("list_alarms", other) is entries[0]
    assert strict.lookup("list_alarms", other) is None
    assert nearest.lookup("list_ec2_instances", {}) is None  # never another tool's output


def test_scoring_checks_facts_tools_claims_and_budgets() -> None:
    """Facts are case-insensitive (``re:`` for a regex); each missed expectation is named."""
    expect = Expectations(
        facts=("Checkout-DB", "re:\\b3 of 6\\b"),
        tools=("list_alarms", "describe_ecs_services"),
        not_claims=("aws outage",),
        max_model_calls=2,
        max_tokens=100,
    )
    good = score_answer(
        expect,
        answer="checkout-db: 3 of 6 running",
        tools_called=["list_alarms", "describe_ecs_services"],
        model_calls=2,
        tokens=90,
    )
    assert good.passed
    bad = score_answer(expect, answer="An AWS outage.", tools_called=["list_alarms"], model_calls=3, tokens=101)
    assert bad.problems == (
        "missing fact 'Checkout-DB'",
        "missing fact 're:\\\\b3 of 6\\\\b'",
        "tool describe_ecs_services was not called",
        "claims 'aws outage'",
        "3 model calls (at most 2)",
        "101 tokens (at most 100)",
    )


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ('{"score": 4, "reason": "grounded"}', 4),
        ('Here you go:\n```json\n{"score": 2, "reason": "guessed the cause"}\n```', 2),
        ('{"score": 7, "reason": "off the scale"}', None),
        ('{"score": "five"}', None),
        ("I think it is a 4.", None),
        ('{"score": 3.0, "reason": "ok"}', 3),
    ],
)
def test_the_judges_reply_is_parsed_never_trusted(reply: str, score: int | None) -> None:
    """Only an integer score from 1 to 5 counts; anything else is a verdict without a score."""
    assert parse_verdict(reply).score == score


async def test_cases_run_through_the_pipeline_with_tools_from_the_cassette(scripted: FakeBedrock) -> None:
    """The scripted model calls the real tool, the cassette answers, the answer is scored; tokens come from Bedrock."""
    case = _case(ALARMS_CASE, "alarms")
    agent = ScriptedAgent([case])
    scripted.default_reply, scripted.default_forced = agent.reply, agent.route
    (run,) = await run_cases(_settings(), [case])
    assert run.passed, run.check.problems
    assert run.tools_called == ("list_alarms",)
    assert run.model_calls == 2  # explicit agent: no routing call; a tool turn, then the answer
    assert run.usage.cache_read_tokens > 0  # the second call read the first one's prefix
    assert "checkout-db-connections-high" in run.answer
    assert [(c.tool, c.input["name_prefix"], c.ok) for c in run.calls] == [
        ("list_alarms", None, True),
        ("list_alarms", "checkout", True),
    ]
    table = format_report([run], min_pass=1.0)
    assert table.splitlines()[0].split() == [
        "case",
        "result",
        "score",
        "tokens",
        "in",
        "(cached)",
        "out",
        "calls",
        "seconds",
    ]
    assert "alarms " in table
    assert " pass " in table
    assert "1/1 runs passed (100%): ok." in table


async def test_an_unrecorded_input_under_the_error_rule_is_a_failed_data_source(scripted: FakeBedrock) -> None:
    """The model asks for an input the cassette lacks: it hears the data source failed, and the run says so."""
    case = _case(ALARMS_CASE.replace("unrecorded: nearest", "unrecorded: error"), "strict")
    scripted.enqueue_forced()

    scripted.enqueue(
        Reply(tool_uses=[{"name": "list_alarms", "input": {"state": "ALARM", "name_prefix": "pay"}}]),
        Reply(text="CloudWatch alarms failed; I cannot tell what is alarming."),
    )
    (run,) = await run_cases(_settings(), [case])
    assert not run.passed
    assert [(c.tool, c.ok) for c in run.calls] == [("list_alarms", False)]
    assert "no recorded output" in (run.calls[0].error or "")
    assert "missing fact 'checkout-db-connections-high'" in run.check.problems
    tool_result = scripted.calls[-1].body["messages"][-1]["content"][0]["toolResult"]
    assert tool_result["status"] == "error"


async def test_a_judge_below_the_minimum_fails_a_run_that_passed_its_checks(scripted: FakeBedrock) -> None:
    """The judge's score is parsed from its reply; 2 < the default minimum 4 fails the run, with its reason shown."""
    case = _case(ALARMS_CASE, "judged")
    agent = ScriptedAgent([case])
    scripted.default_reply, scripted.default_forced = agent.reply, agent.route
    judge_model = FakeChatModel()
    judge_model.enqueue('{"score": 2, "reason": "does not connect the alarms"}', LLMThrottled("busy"))
    runs = await run_cases(_settings(), [case], repeat=2, judge=Judge(judge_model, "judge-model"))
    assert [run.check.passed for run in runs] == [True, True]
    assert [(run.verdict.score, run.passed) for run in runs if run.verdict] == [(2, False), (None, False)]
    assert judge_model.requests[0].model_id == "judge-model"
    assert "<answer>" in judge_model.requests[0].messages[0].text
    table = format_report(runs, min_pass=0.5)
    assert "judged " in table
    assert "0/2" in table
    assert "2.0" in table
    assert "judge 2: does not connect the alarms" in table
    assert "0/2 runs passed (0%): below --min-pass 0.5." in table


async def test_eval_exits_zero_at_the_pass_rate_one_below_it_two_for_invalid_cases(
    scripted: FakeBedrock, tmp_path: Path
) -> None:
    """``orch-bot eval``'s exit codes: 0 when enough runs pass, 1 below --min-pass, 2 (nothing run) for bad cases."""
    good = _case(ALARMS_CASE, "good")
    failing = ALARMS_CASE.replace("facts: [", "facts: [never-said, ")
    (tmp_path / "good.yaml").write_text(ALARMS_CASE)
    (tmp_path / "failing.yaml").write_text(failing)
    agent = ScriptedAgent([good])
    scripted.default_reply, scripted.default_forced = agent.reply, agent.route
    out, err = io.StringIO(), io.StringIO()
    common = {"cases_dir": tmp_path, "repeat": 1, "judge_model": None, "out": out, "err": err}
    assert await eval_command(_settings(), min_pass=0.5, **common) == 0  # type: ignore[arg-type]
    assert await eval_command(_settings(), min_pass=1.0, **common) == 1  # type: ignore[arg-type]
    assert "failing (req-" in out.getvalue()
    assert "missing fact 'never-said'" in out.getvalue()
    (tmp_path / "broken.yaml").write_text("question: hi\nunrecorded: sometimes\n")
    calls = len(scripted.calls)
    assert await eval_command(_settings(), min_pass=0.0, **common) == 2  # type: ignore[arg-type]
    assert "broken.yaml:2: unrecorded:" in err.getvalue()
    assert len(scripted.calls) == calls  # nothing ran


async def test_export_turns_a_task_its_tool_calls_and_its_thumbs_down_text_into_a_case(tmp_path: Path) -> None:
    """The journal's task, tool calls (outputs as data, errors as reasons) and 👎 text make a case that loads."""
    origin = Origin(workspace_id="T1", user_id="U1", channel_id="C1", surface="mention")
    task = Task(
        request_id="req-0123456789ab",
        origin=origin,
        text="why is checkout failing?",
        agent="infra",
        context=(ContextMessage(author="user", text="checkout 5xx since 14:05"),),
    )
    calls = (
        RecordedCall(
            "describe_ecs_services", "ECS", {"clusters": None, "services": ["checkout"]}, '{"services": []}', 0.2
        ),
        RecordedCall(
            "month_to_date_cost",
            "Cost Explorer",
            {"period": "month_to_date"},
            "",
            0.1,
            error="Cost Explorer failed: AccessDenied",
        ),
    )
    journal = MemoryJournal()
    await journal.put(TaskRecord.queued(task, now=1.0))
    record = await journal.get(task.request_id)
    assert record is not None

    await journal.put(replace(record, tool_calls=dump_calls(calls), status="done"))
    await journal.put_feedback(Feedback(task.request_id, "U2", "down", 5.0, "T1", text="it blamed the database"))
    path = await export_case(journal, task.request_id, out=tmp_path, expectation="name the bad deploy", redact=str)
    case, problems = load_case_text(path.read_text(), path=str(path), tools=INPUTS)
    assert problems == []
    assert case is not None
    assert (case.name, case.agent, case.question) == ("export-req-0123456789ab", "infra", "why is checkout failing?")
    assert [m.text for m in case.thread] == ["checkout 5xx since 14:05"]
    assert [(e.tool, e.output, e.error) for e in case.cassette] == [
        ("describe_ecs_services", {"services": []}, None),
        ("month_to_date_cost", None, "AccessDenied"),
    ]
    assert case.expect.tools == ("describe_ecs_services",)
    assert case.expect.note == "it blamed the database\nname the bad deploy"
    again = await export_case(journal, task.request_id, out=tmp_path, expectation=None, redact=str)
    assert again.name == "export-req-0123456789ab-2.yaml"


async def test_a_runbook_tasks_step_calls_are_journalled_and_export_to_a_cassette(
    scripted: FakeBedrock, tmp_path: Path
) -> None:
    """A runbook run through the real core: each step's calls, marked with its step, are the task's; export keeps them."""
    (case,) = [c for c in load_cases(CASES_DIR, tools=INPUTS)[0] if c.runbook == "incident-triage"]
    agent = ScriptedAgent([case])
    scripted.default_reply, scripted.default_forced = agent.reply, agent.route
    deck = CassetteDeck()
    async with open_core(_settings(), private=True, tools=deck.registry) as orchestrator:
        edge = RecordingEdge()
        orchestrator.start(edge)
        deck.insert("req-runbook00001", Cassette.of(case, INPUTS))
        outcome = await orchestrator.submit(case.text, request_id="req-runbook00001", origin=ORIGIN, target="")
        assert isinstance(outcome, Accepted)
        async with asyncio.timeout(30):
            await edge.ended.wait()
        calls = await orchestrator.tool_calls("req-runbook00001")
        record = await orchestrator.task_status("req-runbook00001")
    assert record is not None
    assert record.status == "succeeded"
    assert sorted((c.step, c.tool, c.ok) for c in calls) == [
        ("alarms", "list_alarms", True),
        ("deploy", "describe_ecs_services", True),
        ("errors", "logs_insights_query", True),
    ]
    # The edge still gets steps, not tools: only the records (which it ignores), one per call.
    assert not [e for e in edge.events if isinstance(e, ToolStarted | ToolFinished)]
    assert [e.record for e in edge.events if isinstance(e, ToolCallRecorded)] == list(calls)

    journal = MemoryJournal()
    await journal.put(record)
    path = await export_case(journal, "req-runbook00001", out=tmp_path, expectation=None, redact=str)
    exported, problems = load_case_text(path.read_text(), path=str(path), tools=INPUTS)
    assert problems == []
    assert exported is not None
    assert (exported.runbook, dict(exported.params)) == ("incident-triage", {"service": "checkout", "minutes": 60})
    # The steps' recorded calls are the cassette: the same tools, the outputs the original case served.
    assert {e.tool: e.output for e in exported.cassette} == {e.tool: e.output for e in case.cassette}
    assert set(exported.expect.tools) == {"list_alarms", "logs_insights_query", "describe_ecs_services"}


def test_an_eval_registry_serves_every_tool_from_cassettes_and_offers_no_action() -> None:
    """Evals never reach AWS: every agent's tools are the deck's, and no agent keeps an action, whatever the policy."""
    base = default_registry()
    assert any(agent.actions.tools for agent in base.all())  # the infra agent has the four actions
    served = CassetteDeck().registry(base)
    assert all(not agent.actions.tools for agent in served.all())
    assert {t.name for a in served.all() for t in a.toolset.tools} == {
        t.name for a in base.all() for t in a.toolset.tools
    }
