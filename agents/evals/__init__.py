"""The eval suite: cases of recorded incidents, run through the real pipeline with tools from cassettes.

A case (:class:`EvalCase`, one YAML file) is a question or a runbook run, the thread it was asked in, a
cassette of recorded tool outputs, and what a good answer must and must not say. :func:`run_cases` runs
cases through the bot's own orchestrator on the configured Bedrock, with every tool served from the case's
cassette (:class:`CassetteDeck`), scores each run with deterministic checks and, optionally, an LLM judge,
and :func:`format_report` prints the table. :func:`export_case` turns a journalled task into a new case.
The shipped cases are in :data:`CASES_DIR`. Nothing here needs AWS or Slack.
"""

from agents.evals._case import CASES_DIR, CassetteEntry, EvalCase, Expectations, JudgeSpec, load_case_text, load_cases
from agents.evals._cassette import Cassette, CassetteDeck, canonical, tool_inputs
from agents.evals._command import eval_command, export_command
from agents.evals._demo import DEMO_RUNBOOK, OfflineDemo, offline_demo
from agents.evals._export import ExportError, case_from_record, export_case
from agents.evals._judge import DEFAULT_RUBRIC, Verdict, judge_answer, parse_verdict
from agents.evals._meter import ModelMeter
from agents.evals._report import Summary, format_report, summarise
from agents.evals._run import CaseRun, Judge, run_cases
from agents.evals._score import Check, matches, score_answer

__all__ = [
    "CASES_DIR",
    "DEFAULT_RUBRIC",
    "DEMO_RUNBOOK",
    "CaseRun",
    "Cassette",
    "CassetteDeck",
    "CassetteEntry",
    "Check",
    "EvalCase",
    "Expectations",
    "ExportError",
    "Judge",
    "JudgeSpec",
    "ModelMeter",
    "OfflineDemo",
    "Summary",
    "Verdict",
    "canonical",
    "case_from_record",
    "eval_command",
    "export_case",
    "export_command",
    "format_report",
    "judge_answer",
    "load_case_text",
    "load_cases",
    "matches",
    "offline_demo",
    "parse_verdict",
    "run_cases",
    "score_answer",
    "summarise",
    "tool_inputs",
]
