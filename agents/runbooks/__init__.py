"""Runbooks: typed, multi-step, multi-agent investigations, written as YAML and run as one task.

A runbook (:class:`Runbook`) names parameters and a DAG of steps, each an agent with a Jinja2 prompt.
:class:`RunbookLibrary` loads the built-ins and the team's ``ORCH_RUNBOOKS_DIR`` (reloaded on change),
:func:`parse_run` and :func:`resolve` read ``run <runbook> key=value …`` for every surface,
:func:`run_steps` schedules the DAG and :class:`RunbookRunner` runs it on the agent loop, journalled per
step so a resumed run re-uses what is done. Nothing here knows about Slack.
"""

from agents.runbooks._command import parse_run, resolve
from agents.runbooks._executor import RunbookRunner, RunbookState
from agents.runbooks._library import RunbookLibrary, builtin_runbooks, check_directory, listing
from agents.runbooks._loader import LoadProblem, load_runbook_text, read_runbook_file
from agents.runbooks._model import ParamSpec, Runbook, RunbookStep
from agents.runbooks._scheduler import StepOutcome, StepRunner, run_steps

__all__ = [
    "LoadProblem",
    "ParamSpec",
    "Runbook",
    "RunbookLibrary",
    "RunbookRunner",
    "RunbookState",
    "RunbookStep",
    "StepOutcome",
    "StepRunner",
    "builtin_runbooks",
    "check_directory",
    "listing",
    "load_runbook_text",
    "parse_run",
    "read_runbook_file",
    "resolve",
    "run_steps",
]
