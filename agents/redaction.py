"""Removing secrets from text before it is logged or shown to a model.

Two layers: the exact values this process knows are secret (its own tokens), and patterns for the
secrets people paste or logs leak (Slack and AWS keys, private keys, bearer tokens, URL passwords).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Redactor"]

# Shorter "secrets" would redact ordinary words; real tokens are far longer.
_MIN_SECRET_LEN = 6

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"xox[abposre]-[A-Za-z0-9-]{6,}"), "[REDACTED:slack-token]"),
    (re.compile(r"xapp-\d-[A-Za-z0-9-]{6,}"), "[REDACTED:slack-app-token]"),
    (re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b"), "[REDACTED:aws-key-id]"),
    (
        re.compile(r"(?i)(aws_secret_access_key|secret_?key|aws_session_token)(\s*[=:]\s*)[\"']?[^\s\"',;]{8,}"),
        r"\1\2[REDACTED]",
    ),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL),
        "[REDACTED:private-key]",
    ),
    (re.compile(r"(?i)\b(bearer|token)(\s+|=)[A-Za-z0-9._~+/-]{16,}=*"), r"\1\2[REDACTED]"),
    (re.compile(r"(?i)\b(password|passwd|pwd)(\s*[=:]\s*)[^\s\"',;]{3,}"), r"\1\2[REDACTED]"),
    (re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@]+):[^@/\s]+@"), r"\1:[REDACTED]@"),
)


class Redactor:
    """Replaces known secret values and secret-looking strings with ``[REDACTED…]`` markers."""

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        self._known = tuple(sorted({s for s in known_secrets if len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for secret in self._known:
            if secret in text:
                text = text.replace(secret, "[REDACTED]")
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text
