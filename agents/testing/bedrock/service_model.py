"""Bedrock Runtime's own service model, as the installed botocore ships it, used to hold requests to it.

Why it exists: a fake that accepts whatever the bot sends lets a malformed request pass every test and
fail on the first real call. botocore's client validates little before sending (required members and
Python types, no patterns, no upper bounds, nothing about blank text), so :class:`FakeBedrock` checks
each request body here against the same ``service-2.json`` AWS generates its SDKs from: required
members, types, unions, enum values, length and value bounds, name patterns, and members the model does
not know (strict: botocore never sends one, so only hand-built requests can hit this). Messages follow the
wording of AWS's "1 validation error detected: Value … at '…' failed to satisfy constraint: …".

The same model lists every documented error (with its HTTP status and whether AWS says to retry it),
every stream event and every ``stopReason``, so the fake can send each one and tests can iterate over
them instead of over a list of our own.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from botocore.loaders import Loader

__all__ = [
    "BLANK_TEXT_MESSAGE",
    "ErrorSpec",
    "documented_errors",
    "request_problem",
    "stop_reasons",
    "stream_exceptions",
]

#: What Bedrock answers when a text content block holds only whitespace (the whole request is refused).
BLANK_TEXT_MESSAGE = "messages: text content blocks must contain non-whitespace text"

_OPERATIONS = {False: "Converse", True: "ConverseStream"}


@functools.cache
def _service() -> dict[str, Any]:
    model: dict[str, Any] = Loader().load_service_model("bedrock-runtime", "service-2")
    return model


def _shapes() -> dict[str, Any]:
    shapes: dict[str, Any] = _service()["shapes"]
    return shapes


class ErrorSpec:
    """One documented error: its code, HTTP status, whether AWS marks it retryable, and its documentation."""

    def __init__(self, code: str, shape: dict[str, Any]) -> None:
        self.code = code
        self.status = int(shape.get("error", {}).get("httpStatusCode", 400))
        self.retryable = "retryable" in shape
        self.documentation = re.sub(r"<[^>]+>", "", str(shape.get("documentation", "")))

    def __repr__(self) -> str:
        return f"ErrorSpec({self.code!r}, status={self.status}, retryable={self.retryable})"


@functools.cache
def documented_errors() -> dict[str, ErrorSpec]:
    """Every exception shape of bedrock-runtime, by code."""
    return {name: ErrorSpec(name, shape) for name, shape in _shapes().items() if shape.get("exception")}


def stream_exceptions() -> tuple[str, ...]:
    """The error codes ConverseStream can send mid-stream, as event-stream exception events (lowerCamel)."""
    members = _shapes()["ConverseStreamOutput"]["members"]
    return tuple(name for name, member in members.items() if _shapes()[member["shape"]].get("exception"))


def stop_reasons() -> tuple[str, ...]:
    """Every documented ``stopReason``."""
    return tuple(_shapes()["StopReason"]["enum"])


def request_problem(model_id: str, body: dict[str, Any], *, stream: bool) -> str | None:
    """Why Bedrock would refuse this request with a ValidationException, or ``None`` when it is valid."""
    request_shape = _shapes()[_service()["operations"][_OPERATIONS[stream]]["input"]["shape"]]
    problems: list[str] = []
    members = request_shape["members"]
    uri_members = {name for name, member in members.items() if member.get("location") == "uri"}
    _check_value(model_id, members["modelId"]["shape"], "modelId", problems)
    body_shape = {
        "type": "structure",
        "members": {name: m for name, m in members.items() if name not in uri_members},
        "required": [name for name in request_shape.get("required", []) if name not in uri_members],
    }
    _check_structure(body, body_shape, "", problems)
    if problems:
        count = len(problems)
        return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems)
    return _blank_text(body)


def _blank_text(body: dict[str, Any]) -> str | None:
    for message in body.get("messages") or []:
        for block in message.get("content") or []:
            text = block.get("text") if isinstance(block, dict) else None
            if isinstance(text, str) and not text.strip():
                return BLANK_TEXT_MESSAGE
    return None


def _constraint(value: object, path: str, rule: str) -> str:
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: Member must {rule}"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "blob": (str,),
    "timestamp": (str, int, float),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "list": (list,),
    "map": (dict,),
    "structure": (dict,),
}


def _check_value(value: object, shape_name: str, path: str, problems: list[str]) -> None:
    shape = _shapes()[shape_name]
    kind = shape["type"]
    if shape.get("document"):
        return  # any JSON value
    expected = _JSON_TYPES[kind]
    if not isinstance(value, expected) or (kind in {"integer", "long", "float", "double"} and isinstance(value, bool)):
        problems.append(_constraint(value, path, f"be of type {kind}"))
        return
    # The type check above holds; each isinstance only tells the type checker so.
    if kind == "structure" and isinstance(value, dict):
        _check_structure(value, shape, path, problems)
    elif kind == "list" and isinstance(value, list):
        _check_length(value, shape, path, problems, what="length")
        for index, item in enumerate(value):
            _check_value(item, shape["member"]["shape"], f"{path}.{index + 1}.member", problems)
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            _check_value(key, shape["key"]["shape"], f"{path}.{key}.key", problems)
            _check_value(item, shape["value"]["shape"], f"{path}.{key}.value", problems)
    elif kind == "string" and isinstance(value, str):
        _check_string(value, shape, path, problems)
    elif kind in {"integer", "long", "float", "double"} and isinstance(value, int | float):
        _check_number(value, shape, path, problems)


def _check_structure(value: dict[str, Any], shape: dict[str, Any], path: str, problems: list[str]) -> None:
    members = shape["members"]
    problems.extend(
        _constraint(None, _join(path, name), "not be null")
        for name in shape.get("required", [])
        if value.get(name) is None
    )
    present = [name for name in value if name in members and value[name] is not None]
    if shape.get("union") and len(present) != 1:
        problems.append(_constraint(sorted(present), path or "request", "have exactly one member set"))
    for name, item in value.items():
        if name not in members:
            problems.append(_constraint(name, _join(path, name), "be a known member"))
        elif item is not None:
            _check_value(item, members[name]["shape"], _join(path, name), problems)


def _check_length(value: str | list[Any], shape: dict[str, Any], path: str, problems: list[str], *, what: str) -> None:
    shown = value if isinstance(value, str) else f"list of {len(value)}"
    if "min" in shape and len(value) < shape["min"]:
        problems.append(_constraint(shown, path, f"have {what} greater than or equal to {shape['min']}"))
    if "max" in shape and len(value) > shape["max"]:
        problems.append(_constraint(shown[:64], path, f"have {what} less than or equal to {shape['max']}"))


def _check_string(value: str, shape: dict[str, Any], path: str, problems: list[str]) -> None:
    _check_length(value, shape, path, problems, what="length")
    if "enum" in shape and value not in shape["enum"]:
        problems.append(_constraint(value, path, f"satisfy enum value set: [{', '.join(shape['enum'])}]"))
    pattern = shape.get("pattern")
    if pattern and _compiled(pattern).fullmatch(value) is None:
        problems.append(_constraint(value[:64], path, f"satisfy regular expression pattern: {pattern}"))


def _check_number(value: float, shape: dict[str, Any], path: str, problems: list[str]) -> None:
    if "min" in shape and value < shape["min"]:
        problems.append(_constraint(value, path, f"have value greater than or equal to {shape['min']}"))
    if "max" in shape and value > shape["max"]:
        problems.append(_constraint(value, path, f"have value less than or equal to {shape['max']}"))


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
