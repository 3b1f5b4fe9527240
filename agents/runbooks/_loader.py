"""Reading runbook files: YAML with line numbers, the format's checks, and ``path:line: problem`` reports.

:mod:`agents.yamllines` reads the YAML with the line of every key path, so a problem found later (by
pydantic, the DAG check or the template check) is reported at the line that causes it. A file either
loads completely or yields its problems: nothing half-checked is ever run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from agents.runbooks._model import Runbook
from agents.runbooks._templates import check_template
from agents.yamllines import KeyPath, LinedYaml, LineProblem, read_lined_yaml, shape_problems

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["LoadProblem", "check_runbook", "load_runbook_text"]

MAX_FILE_BYTES = 256 * 1024
#: A problem in a runbook file (the same ``path:line: problem`` as every checked YAML file).
LoadProblem = LineProblem


def _line(lines: dict[KeyPath, int], loc: tuple[str | int, ...]) -> int:
    return LinedYaml(None, lines).line(loc)


def load_runbook_text(text: str, *, path: str, agents: frozenset[str]) -> tuple[Runbook | None, list[LoadProblem]]:
    """Parse and check one runbook file's text; a runbook only when there are no problems."""
    document = read_lined_yaml(text, path=path)
    if isinstance(document, LineProblem):
        return None, [document]
    data, lines, style = document.data, document.lines, document.style
    if not isinstance(data, dict):
        return None, [LoadProblem(path, lines[()], "a runbook is a mapping with name, description, params and steps")]
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as exc:
        return None, shape_problems(exc, path, document)
    problems = [
        LoadProblem(path, line, message)
        for line, message in check_runbook(runbook, agents=agents, lines=lines, style=style)
    ]
    return (None, sorted(set(problems))) if problems else (runbook, [])


def check_runbook(
    runbook: Runbook,
    *,
    agents: frozenset[str],
    lines: dict[KeyPath, int] | None = None,
    style: dict[KeyPath, str | None] | None = None,
) -> list[tuple[int, str]]:
    """The DAG and template problems of a runbook that has the right shape: ``(line, message)`` pairs."""
    lines = lines or {}
    style = style or {}
    problems: list[tuple[int, str]] = []
    ids: dict[str, int] = {}
    for index, step in enumerate(runbook.steps):
        line = _line(lines, ("steps", index, "id"))
        if step.id in ids:
            problems.append((line, f"steps[{index}].id: duplicate step id {step.id!r}"))
        ids.setdefault(step.id, index)
        if step.agent not in agents:
            known = ", ".join(sorted(agents))
            problems.append(
                (
                    _line(lines, ("steps", index, "agent")),
                    f"steps.{step.id}.agent: unknown agent {step.agent!r} (known: {known})",
                )
            )
        for n, need in enumerate(step.needs):
            where = _line(lines, ("steps", index, "needs", n))
            if need == step.id:
                problems.append((where, f"steps.{step.id}.needs: a step cannot need itself"))
            elif need not in {s.id for s in runbook.steps}:
                problems.append((where, f"steps.{step.id}.needs: unknown step {need!r}"))
    if problems:
        return problems
    cycle = _cycle(runbook)
    if cycle:
        first = cycle[0]
        index = ids[first]
        return [(_line(lines, ("steps", index, "needs")), "steps form a cycle: " + " -> ".join([*cycle, first]))]
    return _template_problems(runbook, lines, style)


def _template_problems(
    runbook: Runbook, lines: dict[KeyPath, int], style: dict[KeyPath, str | None]
) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    params = frozenset(runbook.params)
    for index, step in enumerate(runbook.steps):
        loc = ("steps", index, "prompt")
        start = _line(lines, loc)
        # A block scalar (| or >) starts on the line after its indicator; a quoted or plain one on the same line.
        offset = start if style.get(loc) in {"|", ">"} else start - 1
        problems.extend(
            (offset + problem.line, f"steps.{step.id}.prompt: {problem.message}")
            for problem in check_template(step.prompt, params=params, steps=runbook.ancestors(step.id))
        )
    return problems


def _cycle(runbook: Runbook) -> list[str]:
    """One cycle of ``needs`` (as step ids in order), or ``[]``."""
    needs = {step.id: step.needs for step in runbook.steps}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for need in needs[node]:
            if state.get(need) == 1:
                return stack[stack.index(need) :]
            if need not in state and (found := visit(need)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for step in runbook.steps:
        if step.id not in state and (found := visit(step.id)):
            return found
    return []


def read_runbook_file(file: Path, *, agents: frozenset[str]) -> tuple[Runbook | None, list[LoadProblem]]:
    """Load one file from disk (bounded in size)."""
    shown = str(file)
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [LoadProblem(shown, 1, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")]
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, [LoadProblem(shown, 1, "the file is not UTF-8 text")]
    except OSError as exc:
        return None, [LoadProblem(shown, 1, f"cannot read the file: {exc.strerror or type(exc).__name__}")]
    return load_runbook_text(text, path=shown, agents=agents)
