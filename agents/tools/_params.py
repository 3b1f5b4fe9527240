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
    """The JSON schema of ``model`` for Bedrock, tidied of what is noise to a model.

    Pydantic's generated titles, the class docstring (the tool's description says it better) and the
    ``anyOf [..., null]`` with ``default: null`` of optional fields go: leaving a field out is how a
    model says "none".
    """
    schema: dict[str, Any] = _tidy(model.model_json_schema())
    schema.pop("description", None)
    return schema


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


def _tidy(node: Any, *, inside_properties: bool = False) -> Any:
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    if inside_properties:
        return {name: _tidy(field) for name, field in node.items()}
    node = _unwrap_optional(node)
    return {key: _tidy(value, inside_properties=key == "properties") for key, value in node.items() if key != "title"}


def _unwrap_optional(node: dict[str, Any]) -> dict[str, Any]:
    variants = node.get("anyOf")
    if not isinstance(variants, list) or node.get("default", ...) is not None:
        return node
    kept = [variant for variant in variants if variant != {"type": "null"}]
    if len(kept) != 1:
        return node
    rest = {key: value for key, value in node.items() if key not in {"anyOf", "default"}}
    return {**kept[0], **rest}
