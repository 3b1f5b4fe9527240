"""YAML configuration files read with the line of every value, for ``path:line: problem`` reports.

Runbook files and the policy file are written by people and checked in several passes (shape, then
meaning); a problem found in any pass must point at the line that causes it. PyYAML's composer keeps where
each node starts: :func:`read_lined_yaml` turns the nodes into plain values while it records the line of
every key path (and each scalar's style), and :meth:`LinedYaml.line` finds the line of any path later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from pydantic import ValidationError

__all__ = ["KeyPath", "LineProblem", "LinedYaml", "dotted", "read_lined_yaml", "shape_problems"]

#: Where a value sits in a document: mapping keys and list indexes from the root.
KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True, order=True)
class LineProblem:
    """One problem in a file, shown as ``path:line: message``."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class LinedYaml:
    """A document's plain values, the 1-based line of each key path, and each scalar's style."""

    data: object
    lines: dict[KeyPath, int] = field(default_factory=dict)
    style: dict[KeyPath, str | None] = field(default_factory=dict)

    def line(self, loc: Iterable[str | int]) -> int:
        """The line of the longest known prefix of ``loc`` (a missing key is reported at its parent)."""
        path: KeyPath = ()
        best = self.lines.get((), 1)
        for part in loc:
            path = (*path, part)
            if path in self.lines:
                best = self.lines[path]
            else:
                break
        return best


class _Invalid(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _plain(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], style: dict[KeyPath, str | None]) -> object:
    """The node as plain values; records each path's 1-based line (and scalar style, for block text)."""
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


def read_lined_yaml(text: str, *, path: str) -> LinedYaml | LineProblem:
    """Compose ``text`` (safely: no tags that build objects) into plain values with lines, or its one problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        return LineProblem(path, line, f"not valid YAML: {exc.problem or exc.context}")
    if root is None:
        return LineProblem(path, 1, "the file is empty")
    lines: dict[KeyPath, int] = {}
    style: dict[KeyPath, str | None] = {}
    try:
        data = _plain(root, (), lines, style)
    except _Invalid as invalid:
        return LineProblem(path, invalid.line, invalid.message)
    return LinedYaml(data, lines, style)


def dotted(loc: Iterable[str | int]) -> str:
    """A key path as people write it: ``rules[1].users[0]``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


#: Pydantic's error types in the words of a person editing a YAML file.
_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "missing",
    "greater_than_equal": "must not be negative",
    "greater_than": "must be more than 0",
    "bool_type": "must be true or false",
    "list_type": "must be a list, e.g. [a, b]",
    "dict_type": "must be a mapping",
    "string_too_short": "must not be empty",
}
#: Location parts pydantic adds for the branches of a union (``float | None``): the field is what counts.
_BRANCHES = frozenset({"float", "int", "none", "function-after"})


def shape_problems(
    exc: ValidationError,
    path: str,
    document: LinedYaml,
    *,
    hint: Callable[[KeyPath, str], str | None] | None = None,
) -> list[LineProblem]:
    """Pydantic's validation errors as ``path:line: where: problem``, one per cause.

    ``hint(loc, error type)`` may word a problem better for one format (``None``: the general wording).
    """
    problems = []
    errors = exc.errors(include_url=False, include_input=False)
    deeper = {tuple(e["loc"][:n]) for e in errors for n in range(len(e["loc"]))}
    for error in errors:
        loc: KeyPath = tuple(part for part in error["loc"] if part not in _BRANCHES)
        kind = error["type"]
        if kind == "too_short" and tuple(error["loc"]) in deeper:
            continue  # an item failed, so the list looks short: the item's own problem says it
        message = (hint(loc, kind) if hint else None) or _message(error)
        place = dotted(loc)
        problems.append(LineProblem(path, document.line(loc), f"{place}: {message}" if place else message))
    return sorted(set(problems))


def _message(error: object) -> str:
    details = error if isinstance(error, dict) else {}
    kind = details.get("type", "")
    ctx = details.get("ctx", {})
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern', '')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    return _MESSAGES.get(kind) or str(details.get("msg", "")).removeprefix("Value error, ")
