"""``run <runbook> key=value …``: the one parser every surface shares (slash command, mention, console).

Values may be quoted (``note="two words"``), shell-style. The parsed call is checked against the runbook
(:func:`resolve`): missing, unknown or invalid parameters and unknown runbooks raise
:class:`~agents.errors.InvalidTask` with a friendly reason and the runbook's usage line as the hint, so
each surface shows them as it shows any invalid task, privately and with the request ID.
"""

from __future__ import annotations

import difflib
import re
import shlex
from typing import TYPE_CHECKING

from agents.errors import InvalidTask
from agents.task import RunbookCall

if TYPE_CHECKING:
    from collections.abc import Collection

    from agents.runbooks._library import RunbookLibrary
    from agents.runbooks._model import Runbook

__all__ = ["parse_run", "resolve"]

_RUN = re.compile(r"^\s*run(?:\s+|\Z)(.*)\Z", re.DOTALL | re.IGNORECASE)
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_VALUE_CHARS = 500
_CLOSE = 0.5  # difflib's ratio for "did you mean" (the library uses the same)


def parse_run(text: str, *, names: Collection[str] | None = None) -> tuple[str, dict[str, str]] | None:
    """``(runbook, raw values)`` when ``text`` is a ``run …`` command, else ``None``.

    With ``names`` (the runbooks there are), ``run`` followed by a word that is no runbook, nor close to
    one, and no ``key=value`` is a question ("run the numbers on last week's errors"), not a command.

    Raises :class:`InvalidTask` for a ``run`` command that cannot be read (no name, an unclosed quote,
    a word that is not ``key=value``, a key given twice).
    """
    match = _RUN.match(text)
    if match is None:
        return None
    rest = match.group(1)
    first = rest.split(maxsplit=1)[0].lower() if rest.strip() else ""
    if (
        names is not None
        and first
        and first not in names
        and "=" not in rest
        and not difflib.get_close_matches(first, list(names), n=1, cutoff=_CLOSE)
    ):
        return None
    try:
        words = shlex.split(rest)
    except ValueError:
        raise InvalidTask(
            "a quote is not closed in your command", hint='run incident-triage service=checkout note="two words"'
        ) from None
    if not words:
        raise InvalidTask("say which runbook to run", hint="run <runbook> key=value …   (see `runbooks` for the list)")
    name, values = words[0].lower(), {}
    for word in words[1:]:
        key, equals, value = word.partition("=")
        key = key.strip().lower()
        if not equals or not _KEY.match(key):
            raise InvalidTask(f"`{word[:60]}` is not a `key=value` parameter", hint=f"run {name} key=value …")
        if key in values:
            raise InvalidTask(f"the parameter `{key}` is given twice", hint=f"run {name} key=value …")
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidTask(f"the value of `{key}` is longer than {MAX_VALUE_CHARS} characters", hint=f"run {name} …")
        values[key] = value
    return name, values


def resolve(library: RunbookLibrary, name: str, values: dict[str, str]) -> tuple[Runbook, RunbookCall]:
    """Check ``values`` against the runbook ``name``; every problem at once, with its usage line."""
    runbook = library.get(name)
    if runbook is None:
        close = library.closest(name)
        reason = f"there is no runbook called `{name[:64]}`"
        if close is not None:
            reason += f". Did you mean `{close}`?"
        suggested = library.get(close) if close is not None else None
        hint = suggested.usage() if suggested is not None else "runbooks   (lists them)"
        raise InvalidTask(reason, hint=hint)
    problems: list[str] = []
    params: dict[str, str | int | None] = {}
    for key in values:
        if key not in runbook.params:
            known = ", ".join(f"`{k}`" for k in runbook.params) or "none"
            problems.append(f"`{key}` is not a parameter of `{runbook.name}` (its parameters: {known})")
    for key, spec in runbook.params.items():
        if key not in values:
            if spec.required:
                problems.append(f"`{key}` is required" + (f" ({spec.description})" if spec.description else ""))
            params[key] = spec.default
            continue
        try:
            params[key] = spec.convert(values[key])
        except ValueError as exc:
            problems.append(f"`{key}` {exc}")
    if problems:
        raise InvalidTask("; ".join(problems), hint=runbook.usage())
    return runbook, RunbookCall(name=runbook.name, params=params)
