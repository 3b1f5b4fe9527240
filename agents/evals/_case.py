"""The eval case format: one YAML file per case, checked with pydantic and reported as ``path:line``.

A case is a question (or a runbook and its parameters), optionally an agent and the thread so far; the
cassette of recorded tool outputs the tools are served from; the rule for a tool input the cassette does
not hold; and what a good answer must (and must not) contain. See the README's "Quality and cost" section
for the format with an example.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from agents.yamllines import LinedYaml, LineProblem, read_lined_yaml, shape_problems

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "CASES_DIR",
    "CassetteEntry",
    "EvalCase",
    "Expectations",
    "JudgeSpec",
    "ThreadMessage",
    "load_case_text",
    "load_cases",
]

#: The cases orch-bot ships (and the offline demo answers from).
CASES_DIR = Path(__file__).parent / "cases"

MAX_FILE_BYTES = 512 * 1024
_REGEX_PREFIX = "re:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThreadMessage(_Strict):
    """An earlier message of the thread the question was asked in."""

    author: Literal["user", "bot"] = "user"
    text: Annotated[str, StringConstraints(min_length=1)]


class CassetteEntry(_Strict):
    """One recorded tool call: the tool, its input, and what it returned (``output``) or why it failed (``error``)."""

    tool: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$")]
    input: dict[str, Any] = Field(default_factory=dict)
    output: Any = None
    error: str | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> CassetteEntry:
        if (self.output is None) == (self.error is None):
            raise ValueError("give exactly one of output (what the tool returned) or error (why it failed)")
        return self


class Expectations(_Strict):
    """What the answer is held to. ``facts`` and ``not_claims`` are case-insensitive; ``re:`` makes one a regex."""

    facts: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    not_claims: tuple[str, ...] = ()
    max_model_calls: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    #: Free text for people (and the judge): what was wrong last time, what a good answer does.
    note: str | None = None

    @field_validator("facts", "not_claims")
    @classmethod
    def _valid_patterns(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if value.startswith(_REGEX_PREFIX):
                try:
                    re.compile(value[len(_REGEX_PREFIX) :])
                except re.error as exc:
                    raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
        return values


class JudgeSpec(_Strict):
    """The LLM judge's rubric for this case, and the lowest score (1-5) that passes."""

    rubric: Annotated[str, StringConstraints(min_length=1)]
    min_score: int = Field(default=4, ge=1, le=5)


class EvalCase(_Strict):
    """One eval case (see the module docstring); ``name`` defaults to the file's stem."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    description: str = ""
    question: Annotated[str, StringConstraints(min_length=1, max_length=4000)] | None = None
    runbook: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")] | None = None
    params: dict[str, str | int] = Field(default_factory=dict)
    agent: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] | None = None
    thread: tuple[ThreadMessage, ...] = ()
    cassette: tuple[CassetteEntry, ...] = ()
    unrecorded: Literal["error", "nearest"] = "nearest"
    expect: Expectations = Field(default_factory=Expectations)
    judge: JudgeSpec | None = None
    #: Shown by ``orch-bot console --demo`` as an example question.
    demo: bool = False

    @model_validator(mode="after")
    def _question_or_runbook(self) -> EvalCase:
        if (self.question is None) == (self.runbook is None):
            raise ValueError("give exactly one of question or runbook")
        if self.params and self.runbook is None:
            raise ValueError("params go with a runbook")
        if self.runbook is not None and self.agent is not None:
            raise ValueError("a runbook names its agents per step: leave agent out")
        return self

    @property
    def text(self) -> str:
        """What is submitted, as a person would type it: ``[agent:] question`` or ``run <runbook> k=v …``."""
        if self.runbook is not None:
            params = " ".join(f"{key}={_quoted(value)}" for key, value in self.params.items())
            return f"run {self.runbook} {params}".strip()
        assert self.question is not None  # noqa: S101 - the validator guarantees it
        return f"{self.agent}: {self.question}" if self.agent else self.question


def _quoted(value: str | int) -> str:
    text = str(value)
    return f'"{text}"' if any(ch.isspace() for ch in text) else text


def load_case_text(
    text: str, *, path: str, tools: Mapping[str, type[BaseModel]] | None = None
) -> tuple[EvalCase | None, list[LineProblem]]:
    """Parse and check one case file's text; a case only when there are no problems.

    With ``tools`` (tool name → its input model), every cassette entry must name a known tool and its
    input must be valid for that tool, as the model's would have to be.
    """
    located = read_lined_yaml(text, path=path)
    if isinstance(located, LineProblem):
        return None, [located]
    data, lines = located.data, located.lines
    if not isinstance(data, dict):
        return None, [LineProblem(path, lines[()], "a case is a mapping with question (or runbook), cassette, expect")]
    data.setdefault("name", Path(path).stem)
    try:
        case = EvalCase.model_validate(data)
    except ValidationError as exc:
        return None, shape_problems(exc, path, located)
    problems = _cassette_problems(case, path, lines, tools) if tools is not None else []
    return (None, problems) if problems else (case, [])


def _cassette_problems(
    case: EvalCase, path: str, lines: dict[tuple[str | int, ...], int], tools: Mapping[str, type[BaseModel]]
) -> list[LineProblem]:
    problems: list[LineProblem] = []
    for index, entry in enumerate(case.cassette):
        model = tools.get(entry.tool)
        if model is None:
            line = lines.get(("cassette", index, "tool"), 1)
            known = ", ".join(sorted(tools))
            problems.append(LineProblem(path, line, f"cassette[{index}].tool: unknown tool {entry.tool!r} ({known})"))
            continue
        try:
            model.model_validate(entry.input)
        except ValidationError as exc:
            # The input's own lines, so each problem points at its field.
            inner = {key[3:]: line for key, line in lines.items() if key[:3] == ("cassette", index, "input")}
            problems.extend(
                LineProblem(path, problem.line, f"cassette[{index}].input: {problem.message}")
                for problem in shape_problems(exc, path, LinedYaml(None, inner))
            )
    for index, tool in enumerate(case.expect.tools):
        if tool not in tools:
            line = lines.get(("expect", "tools", index), 1)
            problems.append(LineProblem(path, line, f"expect.tools[{index}]: unknown tool {tool!r}"))
    return problems


def load_cases(
    directory: Path, *, tools: Mapping[str, type[BaseModel]] | None = None
) -> tuple[list[EvalCase], list[LineProblem]]:
    """Every ``*.yaml`` case in ``directory`` (sorted by file name), and every problem found in them."""
    cases: list[EvalCase] = []
    problems: list[LineProblem] = []
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        problems.append(LineProblem(str(directory), 1, "no *.yaml case files here"))
    names: dict[str, str] = {}
    for file in files:
        shown = str(file)
        try:
            if file.stat().st_size > MAX_FILE_BYTES:
                problems.append(LineProblem(shown, 1, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB"))
                continue
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(LineProblem(shown, 1, f"cannot read the file: {type(exc).__name__}"))
            continue
        case, found = load_case_text(text, path=shown, tools=tools)
        problems.extend(found)
        if case is not None:
            if case.name in names:
                problems.append(LineProblem(shown, 1, f"name {case.name!r} is also used by {names[case.name]}"))
                continue
            names[case.name] = shown
            cases.append(case)
    return cases, problems
