"""YAML files that report problems at their line: ``path:line: problem``.

PyYAML's composer keeps where each node starts; :func:`compose_with_lines` turns nodes into plain values
while it records the line of every key path, so a problem found later (by pydantic or a format's own
checks) is reported at the line that causes it. Runbook files and eval case files both read this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pydantic import ValidationError

__all__ = ["KeyPath", "LoadProblem", "Located", "compose_with_lines", "line_of", "shape_problems", "where"]

#: A path to a value in a document: mapping keys and list indexes.
KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True, order=True)
class LoadProblem:
    """One problem in a file, shown as ``path:line: message``."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class Located:
    """A document's plain value, the 1-based line of each key path, and each scalar's style (``|``, ``>``…)."""

    data: object
    lines: dict[KeyPath, int]
    style: dict[KeyPath, str | None]


class _Invalid(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _plain(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], style: dict[KeyPath, str | None]) -> object:
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


def compose_with_lines(text: str, *, path: str) -> Located | LoadProblem:
    """``text`` as plain values with the line of each key path; or the one problem that stops reading it."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        return LoadProblem(path, line, f"not valid YAML: {exc.problem or exc.context}")
    if root is None:
        return LoadProblem(path, 1, "the file is empty")
    lines: dict[KeyPath, int] = {}
    style: dict[KeyPath, str | None] = {}
    try:
        data = _plain(root, (), lines, style)
    except _Invalid as invalid:
        return LoadProblem(path, invalid.line, invalid.message)
    return Located(data, lines, style)


def line_of(lines: dict[KeyPath, int], loc: Iterable[str | int]) -> int:
    """The line of the longest known prefix of ``loc`` (a missing key is reported at its parent)."""
    path: KeyPath = ()
    best = lines.get((), 1)
    for part in loc:
        path = (*path, part)
        if path in lines:
            best = lines[path]
        else:
            break
    return best


def where(loc: Iterable[str | int]) -> str:
    """A key path as people write it: ``steps[2].prompt``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def shape_problems(exc: ValidationError, path: str, lines: dict[KeyPath, int]) -> list[LoadProblem]:
    """Pydantic's validation errors as ``path:line: where: problem``, one per cause."""
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
        place = where(loc)
        problems.append(LoadProblem(path, line_of(lines, loc), f"{place}: {message}" if place else message))
    return sorted(set(problems))
