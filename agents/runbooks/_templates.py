"""Step prompts as Jinja2 templates: sandboxed, checked when the file loads, strict when they render.

A prompt sees two names: ``params`` and ``steps``. ``steps`` holds only the steps this step needs,
directly or through a chain. Both rules are checked on the template's syntax tree when the runbook loads
(an unknown parameter or a step outside the chain is a load error with its line), so a run never fails
half-way on a typo; :class:`jinja2.StrictUndefined` catches anything the tree check cannot see.

Step outputs are untrusted: :func:`step_view` wraps each one in a ``<step_output>`` block
(:func:`agents.untrusted.untrusted_block`), redacted and bounded, before a later prompt sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from agents.untrusted import untrusted_block

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["STEP_FIELDS", "TemplateProblem", "check_template", "render", "step_view"]

#: What a template may read of a step it needs.
STEP_FIELDS = frozenset({"output", "ok"})
MAX_STEP_OUTPUT_CHARS = 8_000
_STEP_FIELD_AT = 2  # steps.<id>.<field>


def _finalize(value: object) -> object:
    return "" if value is None else value  # an optional parameter left out renders as nothing, not "None"


_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, finalize=_finalize, keep_trailing_newline=True)


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """A problem in a template; ``line`` counts from the template's first line (1)."""

    line: int
    message: str


def check_template(source: str, *, params: frozenset[str], steps: frozenset[str]) -> list[TemplateProblem]:
    """The problems of ``source`` as a prompt that may read ``params`` and the ``steps`` it needs."""
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [TemplateProblem(exc.lineno or 1, f"template syntax error: {exc.message}")]
    problems: list[TemplateProblem] = []
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in {"store", "param"}}
    # Getattr/Getitem chains whose root is a Name: report the outermost access once.
    accesses = _accesses(tree)
    inner = {id(node.node) for node in accesses if isinstance(node.node, (nodes.Getattr, nodes.Getitem))}
    for node in accesses:
        if id(node) in inner:
            continue
        path = _path(node)
        if path is None or path[0] not in {"params", "steps"}:
            continue
        problems += _check_path(path, node.lineno, params=params, steps=steps)
    problems += _check_names(tree, local)
    return sorted(set(problems), key=lambda p: (p.line, p.message))


def _accesses(tree: nodes.Template) -> list[nodes.Getattr | nodes.Getitem]:
    """Every ``a.b`` and ``a["b"]`` in the template."""
    return [n for n in tree.find_all((nodes.Getattr, nodes.Getitem)) if isinstance(n, (nodes.Getattr, nodes.Getitem))]


def _check_names(tree: nodes.Template, local: set[str]) -> list[TemplateProblem]:
    """Names other than ``params`` and ``steps`` (and loop variables), and those two used alone."""
    problems = []
    reached = {id(n.node) for n in _accesses(tree) if isinstance(n.node, nodes.Name)}
    for name in tree.find_all(nodes.Name):
        if name.ctx != "load" or name.name in local:
            continue
        if name.name not in {"params", "steps"}:
            message = f"unknown name {name.name!r}: use params.<name> or steps.<id>.output"
            problems.append(TemplateProblem(name.lineno, message))
        elif id(name) not in reached:
            problems.append(TemplateProblem(name.lineno, f"use {name.name}.<name>, not {name.name} alone"))
    return problems


def _path(node: nodes.Node) -> list[str] | None:
    """``params.service`` → ``["params", "service"]``; ``None`` when a part is not a constant name."""
    parts: list[str] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            parts.append("\0")  # computed: the tree cannot say which; StrictUndefined decides at render
        node = node.node
    if not isinstance(node, nodes.Name):
        return None
    parts.append(node.name)
    return parts[::-1]


def _check_path(path: list[str], line: int, *, params: frozenset[str], steps: frozenset[str]) -> list[TemplateProblem]:
    root, key = path[0], path[1]
    field = path[2] if len(path) > _STEP_FIELD_AT else None
    if key == "\0":
        message = f"{root}[…] must name a constant key"
    elif root == "params":
        message = "" if key in params else f"unknown parameter {key!r}"
    elif key not in steps:
        message = f"step {key!r} is not in this step's needs (directly or through a chain)"
    elif field is None:
        message = f"use steps.{key}.output"
    elif field not in STEP_FIELDS:
        message = f"steps.{key} has no {field!r}: use steps.{key}.output or steps.{key}.ok"
    else:
        message = ""
    return [TemplateProblem(line, message)] if message else []


def step_view(output: str, *, ok: bool, step_id: str, redact: Callable[[str], str]) -> dict[str, object]:
    """What a later prompt sees of a finished step: its output as a bounded, redacted, delimited block."""
    text = redact(output)
    if len(text) > MAX_STEP_OUTPUT_CHARS:
        text = text[:MAX_STEP_OUTPUT_CHARS] + f"\n[truncated: {MAX_STEP_OUTPUT_CHARS:,} of {len(text):,} characters]"
    return {"output": untrusted_block("step_output", text, step=step_id, ok=str(ok).lower()), "ok": ok}


def render(source: str, *, params: Mapping[str, object], steps: Mapping[str, Mapping[str, object]]) -> str:
    """``source`` rendered in the sandbox; raises :class:`jinja2.TemplateError` on anything undefined."""
    return _ENV.from_string(source).render(params=dict(params), steps={k: dict(v) for k, v in steps.items()})
