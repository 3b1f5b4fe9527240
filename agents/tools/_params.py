"""The model's tool input, validated once, before any AWS call; and the JSON schema Bedrock gets for it.

Models sometimes send a wrong type, a misspelt key or an impossible value. Each tool declares its input
as a :class:`ToolInput` model; the runner validates the model's input against it once, and a failure
becomes an :class:`~agents.errors.InvalidToolInput` naming each bad field, which goes back to the model
as an error result so it corrects itself on its next turn. Tools then work with typed inputs only. The
same class yields the JSON schema that Bedrock's ``toolConfig`` carries, so the schema and the validation
cannot drift apart.

The schema is made for Bedrock and for the bill: an ``object`` at the top, ``$defs``/``$ref`` inlined
(tool schemas must be self-contained), and pydantic's titles, nullable ``anyOf`` and strings' ``maxLength``
removed, because the tool definitions are sent, and counted as input tokens, on every model call.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from agents.errors import InvalidToolInput

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["MAX_SCHEMA_CHARS", "NoInput", "ToolInput", "input_schema", "validate_input"]

#: The largest derived schema accepted, in characters of compact JSON: about 500 tokens per tool.
MAX_SCHEMA_CHARS = 2_000


class ToolInput(BaseModel):
    """Base of every tool's input: immutable, and unknown keys are reported rather than ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoInput(ToolInput):
    """Input of tools that take none."""


InputT = TypeVar("InputT", bound=ToolInput)

#: Keys of a schema node left out of what Bedrock gets (see :func:`input_schema`).
_NOISE = frozenset({"title"})
_STRING_NOISE = _NOISE | {"maxLength"}


def input_schema(model: type[ToolInput]) -> dict[str, Any]:
    """The JSON schema of ``model`` for Bedrock, self-contained and tidied of what is noise to a model.

    Pydantic's generated titles, the class docstring (the tool's description says it better) and the
    ``anyOf [..., null]`` with ``default: null`` of optional fields go: leaving a field out is how a
    model says "none". A string's ``maxLength`` goes too: it guards against runaway input (validation
    still enforces it), and no model writes a 512-character log group name. Nested models are inlined.
    A ``ValueError`` means the model cannot be a tool input (not an object, recursive, or too large to
    send on every call).
    """
    raw = model.model_json_schema()
    definitions = raw.pop("$defs", {})
    schema: dict[str, Any] = _tidy(_inline(raw, definitions, seen=()))
    schema.pop("description", None)
    if schema.get("type") != "object":
        raise ValueError(f"{model.__name__}: a tool's input schema must be an object")
    size = len(json.dumps(schema, separators=(",", ":")))
    if size > MAX_SCHEMA_CHARS:
        raise ValueError(f"{model.__name__}: its schema takes {size} characters, over {MAX_SCHEMA_CHARS}")
    return schema


def validate_input(model: type[InputT], arguments: object, *, tool: str, source: str) -> InputT:
    """``arguments`` validated as ``model``; :class:`InvalidToolInput` naming every bad field otherwise."""
    try:
        return model.model_validate(arguments)
    except ValidationError as exc:
        problems = tuple(
            (".".join(str(part) for part in error["loc"]) or "input", error["msg"])
            for error in exc.errors(include_url=False, include_input=False, include_context=False)
        )
        raise InvalidToolInput(tool=tool, source=source, problems=problems) from exc


def _inline(node: Any, definitions: Mapping[str, Any], *, seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, definitions, seen=seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix("#/$defs/")
        if name in seen or name not in definitions:
            raise ValueError(f"cannot inline {ref}: recursive or undefined")
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return {**_inline(definitions[name], definitions, seen=(*seen, name)), **rest}
    return {key: _inline(value, definitions, seen=seen) for key, value in node.items()}


def _tidy(node: Any, *, inside_properties: bool = False) -> Any:
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    if inside_properties:
        return {name: _tidy(field) for name, field in node.items()}
    node = _unwrap_optional(node)
    noise = _STRING_NOISE if node.get("type") == "string" else _NOISE
    return {key: _tidy(value, inside_properties=key == "properties") for key, value in node.items() if key not in noise}


def _unwrap_optional(node: dict[str, Any]) -> dict[str, Any]:
    variants = node.get("anyOf")
    if not isinstance(variants, list) or node.get("default", ...) is not None:
        return node
    kept = [variant for variant in variants if variant != {"type": "null"}]
    if len(kept) != 1:
        return node
    rest = {key: value for key, value in node.items() if key not in {"anyOf", "default"}}
    return {**kept[0], **rest}
