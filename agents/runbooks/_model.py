"""What a runbook file says, as typed data: its parameters, its steps, and the checks on the values people pass.

The YAML shape is a contract (issue 13): ``name``, ``description``, ``params`` (each ``type`` string or
integer, ``required``, ``default``, ``description``, ``pattern``, ``min``/``max``, ``choices``) and
``steps`` (``id``, ``agent``, ``prompt``, ``needs``, ``timeout``, ``continue_on_error``). Unknown keys are
errors, so a typo (``need:``) is reported instead of silently ignored.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = ["ParamSpec", "Runbook", "RunbookStep"]

_NAME = r"^[a-z0-9-]+$"
_STEP_ID = r"^[a-z][a-z0-9_]*$"  # a Jinja2 attribute name: ``steps.<id>.output`` must parse


class ParamSpec(BaseModel):
    """One parameter of a runbook, and how a value given as ``key=value`` text is checked."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["string", "integer"] = "string"
    required: bool = False
    default: str | int | None = None
    description: str = ""
    pattern: str | None = None
    min: int | None = None
    max: int | None = None
    choices: tuple[str | int, ...] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ParamSpec:
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a regular expression: {exc}") from None
        if self.type == "string" and (self.min is not None or self.max is not None):
            raise ValueError("min and max apply to integer parameters only")
        if self.required and self.default is not None:
            raise ValueError("a required parameter has no default")
        if self.default is not None:
            problem = self.problem(str(self.default))
            if problem is not None:
                raise ValueError(f"the default {self.default!r} is invalid: {problem}")
        if self.choices is not None:
            for choice in self.choices:
                problem = self.problem(str(choice))
                if problem is not None:
                    raise ValueError(f"the choice {choice!r} is invalid: {problem}")
        return self

    def convert(self, raw: str) -> str | int:
        """``raw`` as this parameter's type; raises :class:`ValueError` saying what is wrong."""
        problem = self.problem(raw)
        if problem is not None:
            raise ValueError(problem)
        return int(raw) if self.type == "integer" else raw

    def problem(self, raw: str) -> str | None:
        """What is wrong with ``raw`` for this parameter, or ``None``."""
        if self.type == "integer":
            try:
                number = int(raw.strip())
            except ValueError:
                return "must be a whole number"
            if self.min is not None and number < self.min:
                return f"must be at least {self.min}"
            if self.max is not None and number > self.max:
                return f"must be at most {self.max}"
            value: str | int = number
        else:
            value = raw
            if self.pattern is not None and re.search(self.pattern, raw) is None:
                return f"must match {self.pattern}"
        if self.choices is not None and value not in {c if self.type == "string" else int(c) for c in self.choices}:
            return "must be one of " + ", ".join(str(c) for c in self.choices)
        return None

    def placeholder(self) -> str:
        """A value for the usage line: the first choice, the default, or the type."""
        if self.choices:
            return str(self.choices[0])
        if self.default is not None:
            return str(self.default)
        return "<number>" if self.type == "integer" else "<text>"


class RunbookStep(BaseModel):
    """One step: an agent, a prompt template, and the steps it waits for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=_STEP_ID, max_length=40)]
    agent: str
    prompt: Annotated[str, StringConstraints(min_length=1, max_length=8000)]
    needs: tuple[str, ...] = ()
    timeout: float | None = Field(default=None, gt=0, le=3600)
    continue_on_error: bool = False


class Runbook(BaseModel):
    """A named DAG of agent steps with typed parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(pattern=_NAME, max_length=64)]
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    params: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)], ParamSpec] = Field(
        default_factory=dict
    )
    steps: Annotated[tuple[RunbookStep, ...], Field(min_length=1, max_length=20)]

    def step(self, step_id: str) -> RunbookStep:
        """The step called ``step_id`` (it exists: the loader checked the references)."""
        return next(s for s in self.steps if s.id == step_id)

    def final_steps(self) -> tuple[RunbookStep, ...]:
        """The steps no other step needs: their outputs are the run's answer."""
        needed = {need for step in self.steps for need in step.needs}
        return tuple(step for step in self.steps if step.id not in needed)

    def ancestors(self, step_id: str) -> frozenset[str]:
        """Every step ``step_id`` needs, directly or through a chain."""
        seen: set[str] = set()
        todo = list(self.step(step_id).needs)
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(self.step(current).needs)
        return frozenset(seen)

    def usage(self) -> str:
        """``run <name> key=value …``: required parameters first, optional ones in brackets."""
        parts = [f"run {self.name}"]
        for key, spec in self.params.items():
            part = f"{key}={spec.placeholder()}"
            parts.append(part if spec.required else f"[{part}]")
        return " ".join(parts)

    def example(self) -> str:
        """A command that runs this runbook with its required parameters."""
        parts = [f"run {self.name}"]
        parts += [f"{key}={spec.placeholder()}" for key, spec in self.params.items() if spec.required]
        return " ".join(parts)
