"""Reading runbook files: YAML with line numbers, the format's checks, and ``path:line: problem`` reports.

PyYAML's composer keeps where each node starts; the loader turns nodes into plain values while it
records the line of every key path, so a problem found later (by pydantic, the DAG check or the template
check) is reported at the line that causes it. A file either loads completely or yields its problems:
nothing half-checked is ever run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml
from pydantic import ValidationError

from agents.runbooks._model import Runbook
from agents.runbooks._templates import check_template

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = ["LoadProblem", "check_runbook", "load_runbook_text"]

MAX_FILE_BYTES = 256 * 1024
_Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True, order=True)
class LoadProblem:
    """One problem in a runbook file, shown as ``path:line: message``."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class _Invalid(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _plain(node: yaml.Node, path: _Path, lines: dict[_Path, int], style: dict[_Path, str | None]) -> object:
    """The node as plain values; records each path's 1-based line (and scalar style, for block prompts)."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[object, object] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Invalid(key_node.start_mark.line + 1, "a key must be a plain name")
            key = key_node.value
            if key in out:
                raise _Invalid(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            out[key] = _plain(value_node, (*path, key), lines, style)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, i), lines, style) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.ScalarNode):
        style[path] = node.style
        return yaml.SafeLoader(node.value).construct_object(node) if node.tag != "tag:yaml.org,2002:str" else node.value
    raise _Invalid(node.start_mark.line + 1, "unsupported YAML node")  # pragma: no cover


def _line(lines: dict[_Path, int], loc: Iterable[str | int]) -> int:
    """The line of the longest known prefix of ``loc`` (a missing key is reported at its parent)."""
    path: _Path = ()
    best = lines.get((), 1)
    for part in loc:
        path = (*path, part)
        if path in lines:
            best = lines[path]
        else:
            break
    return best


def _where(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_runbook_text(text: str, *, path: str, agents: frozenset[str]) -> tuple[Runbook | None, list[LoadProblem]]:
    """Parse and check one runbook file's text; a runbook only when there are no problems."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        return None, [LoadProblem(path, line, f"not valid YAML: {exc.problem or exc.context}")]
    if root is None:
        return None, [LoadProblem(path, 1, "the file is empty")]
    lines: dict[_Path, int] = {}
    style: dict[_Path, str | None] = {}
    try:
        data = _plain(root, (), lines, style)
    except _Invalid as invalid:
        return None, [LoadProblem(path, invalid.line, invalid.message)]
    if not isinstance(data, dict):
        return None, [LoadProblem(path, lines[()], "a runbook is a mapping with name, description, params and steps")]
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as exc:
        return None, _shape_problems(exc, path, lines)
    problems = [
        LoadProblem(path, line, message)
        for line, message in check_runbook(runbook, agents=agents, lines=lines, style=style)
    ]
    return (None, sorted(set(problems))) if problems else (runbook, [])


def _shape_problems(exc: ValidationError, path: str, lines: dict[_Path, int]) -> list[LoadProblem]:
    """The validation errors as ``path:line: where: problem``."""
    problems = []
    errors = exc.errors(include_url=False, include_input=False)
    deeper = {tuple(e["loc"][:n]) for e in errors for n in range(len(e["loc"]))}
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "too_short" and loc in deeper:
            continue  # an item failed, so the list looks short: the item's own problem says it
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "string_pattern_mismatch":
            message = f"must match {error.get('ctx', {}).get('pattern', '')}"
        elif error["type"] == "missing":
            message = "missing"
        problems.append(LoadProblem(path, _line(lines, loc), f"{_where(loc)}: {message}"))
    return sorted(set(problems))


def check_runbook(
    runbook: Runbook,
    *,
    agents: frozenset[str],
    lines: dict[_Path, int] | None = None,
    style: dict[_Path, str | None] | None = None,
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
    runbook: Runbook, lines: dict[_Path, int], style: dict[_Path, str | None]
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
