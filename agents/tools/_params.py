"""The model's tool input, validated before any AWS call.

Models sometimes send a wrong type, a misspelt key or an impossible value. Validating with pydantic turns
that into a :class:`~agents.errors.ToolFailed` whose reason names the field, so the model corrects itself on
its next turn; the tools then work with typed inputs instead of dictionaries. The same class yields the JSON
schema that Bedrock's ``toolConfig`` carries, so the schema and the validation cannot drift apart.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from agents.errors import ToolFailed

__all__ = ["ToolInput", "input_schema", "parse_input"]


class ToolInput(BaseModel):
    """Base of every tool's input: immutable, and unknown keys are reported rather than ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


InputT = TypeVar("InputT", bound=ToolInput)


def input_schema(model: type[ToolInput]) -> dict[str, Any]:
    """The JSON schema of ``model`` for Bedrock, without pydantic's generated titles (noise to the model)."""
    return _without_titles(model.model_json_schema())


def parse_input(model: type[InputT], params: dict[str, Any], *, source: str) -> InputT:
    """``params`` validated as ``model``; a ToolFailed naming every bad field otherwise."""
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'input'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise ToolFailed(source=source, reason=f"invalid input: {problems}") from exc


def _without_titles(node: Any, *, inside_properties: bool = False) -> Any:
    if isinstance(node, dict):
        return {
            key: _without_titles(value, inside_properties=key == "properties" and not inside_properties)
            for key, value in node.items()
            if inside_properties or key != "title"
        }
    if isinstance(node, list):
        return [_without_titles(item) for item in node]
    return node
