"""``orch-bot eval`` and ``orch-bot eval export``: what the commands do, apart from reading their arguments."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, TextIO

from agents.catalog import default_registry
from agents.evals._case import load_cases
from agents.evals._cassette import tool_inputs
from agents.evals._export import ExportError, export_case, open_store_journal
from agents.evals._report import format_report, summarise
from agents.evals._run import CaseRun, Judge, run_cases
from agents.llm import BedrockChatModel, RetryingChatModel, RetryPolicy, bedrock_client
from agents.redaction import Redactor

if TYPE_CHECKING:
    from pathlib import Path

    from agents.settings import Settings

__all__ = ["EXIT_BELOW_MIN_PASS", "EXIT_INVALID_CASES", "eval_command", "export_command"]

EXIT_BELOW_MIN_PASS = 1
EXIT_INVALID_CASES = 2


async def eval_command(
    settings: Settings,
    *,
    cases_dir: Path,
    repeat: int,
    judge_model: str | None,
    min_pass: float,
    out: TextIO,
    err: TextIO,
) -> int:
    """Load the cases (every problem as ``path:line``, exit 2), run them, print the table; 1 below ``min_pass``."""
    cases, problems = load_cases(cases_dir, tools=dict(tool_inputs(default_registry())))
    if problems:
        err.writelines(f"{problem}\n" for problem in problems)
        err.write(f"{len(problems)} problem(s) in the cases: nothing was run.\n")
        return EXIT_INVALID_CASES
    bedrock = settings.bedrock
    out.write(
        f"Running {len(cases)} case(s) x{repeat} on {bedrock.model_id} (router {bedrock.router_model_id}) "
        f"in {bedrock.region}" + (f", judged by {judge_model}" if judge_model else "") + ".\n"
    )
    out.flush()

    def progress(run: CaseRun) -> None:
        err.write(f"  {'pass' if run.passed else 'FAIL'} {run.case.name} ({run.seconds:.1f}s)\n")
        err.flush()

    async with AsyncExitStack() as stack:
        judge = None
        if judge_model:
            client = await stack.enter_async_context(bedrock_client(region=bedrock.region))
            model = RetryingChatModel(
                BedrockChatModel(client),
                RetryPolicy(max_attempts=bedrock.max_attempts, deadline=bedrock.deadline_seconds),
            )
            judge = Judge(model, judge_model)
        runs = await run_cases(settings, cases, repeat=repeat, judge=judge, on_run=progress)
    out.write("\n" + format_report(runs, min_pass=min_pass))
    return 0 if summarise(runs).rate >= min_pass else EXIT_BELOW_MIN_PASS


async def export_command(
    settings: Settings, request_id: str, *, out_dir: Path, expectation: str | None, out: TextIO, err: TextIO
) -> int:
    """Write the case for ``request_id`` and print its path; 1 (and why) if it cannot be exported."""
    redactor = Redactor(settings.secrets())
    async with open_store_journal(settings) as journal:
        try:
            path = await export_case(journal, request_id, out=out_dir, expectation=expectation, redact=redactor)
        except ExportError as error:
            err.write(f"Cannot export {request_id}: {error}\n")
            return 1
    out.write(f"{path}\n")
    return 0
