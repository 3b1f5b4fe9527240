"""Slack's message markup, read back into plain text for the core.

Slack sends ``<@U123>``, ``<#C123|ops>``, ``<https://x|label>``, ``<!here>`` and HTML entities; the model
should see ``@U123``, ``#ops``, ``label (https://x)``, ``@here`` and the characters themselves.
"""

from __future__ import annotations

import re

__all__ = ["strip_leading_mention", "to_plain_text"]

_TOKEN = re.compile(r"<([^<>\n]{1,2000})>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s:,]*")


def _replace(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return f"@{label or target[1:]}"
    if target.startswith("#"):
        return f"#{label or target[1:]}"
    if target.startswith("!"):
        command = target[1:]
        if command.startswith(("subteam^", "date^")):
            return label or command.split("^", 1)[0]
        return f"@{label or command}"
    if label and label != target:
        return f"{label} ({target})"
    return target.removeprefix("mailto:")


def to_plain_text(text: str) -> str:
    """``text`` with Slack markup replaced by what a person reads, and entities decoded."""
    text = _TOKEN.sub(_replace, text)
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def strip_leading_mention(text: str) -> str:
    """Drop the ``<@BOT>`` that starts an app mention, so ``@orch help`` reads as ``help``."""
    return _LEADING_MENTION.sub("", text, count=1)
