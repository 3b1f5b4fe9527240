"""A task: what one person asked, cleaned and checked before anything expensive happens.

Validation lives here so every surface (slash command, mention, DM, console) applies the same rules:
control and bidirectional-override characters are removed, the text is bounded, and an explicit
``agent:`` prefix must name a registered agent. Invalid input raises :class:`InvalidTask`, never anything
else, and never reaches the model.
"""

from __future__ import annotations

import difflib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from agents.errors import InvalidTask

__all__ = [
    "CHANNEL_ID_PATTERN",
    "MAX_TASK_CHARS",
    "ContextMessage",
    "HelpRequest",
    "Origin",
    "ParsedText",
    "RunbookCall",
    "SharedFile",
    "Task",
    "clean_text",
    "new_request_id",
    "parse_text",
]

MAX_TASK_CHARS = 4000
REQUEST_ID_PATTERN = r"^req-[a-z0-9]{8,32}$"

# Bidirectional controls can make text read differently from what the model receives (Trojan Source).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KEEP_CONTROLS = frozenset("\n\t")
_PREFIX = re.compile(r"^\s*([A-Za-z][\w-]{0,31})\s*:\s*(.*)\Z", re.DOTALL)
# "usage" alone is the token usage report (agents.orchestrator), not help.
_HELP_WORDS = frozenset({"help", "?", "-h", "--help"})


def new_request_id() -> str:
    """A fresh ``req-`` id: 12 lowercase hex digits, unguessable, short enough to read aloud."""
    return "req-" + secrets.token_hex(6)


def clean_text(text: str) -> str:
    """Remove control and bidi characters, normalise to NFC, and trim surrounding white space."""
    text = unicodedata.normalize("NFC", text)
    kept = (
        ch
        for ch in text
        if ch not in _BIDI and (ch in _KEEP_CONTROLS or unicodedata.category(ch) not in {"Cc", "Cs", "Co", "Cn"})
    )
    return "".join(kept).replace("\r", "").strip()


CleanText = Annotated[str, AfterValidator(clean_text)]


#: A chat channel id as the core accepts it in an :class:`Origin` (a public, private or direct conversation).
CHANNEL_ID_PATTERN = r"^[CGD][A-Z0-9]{2,20}$"


class Origin(BaseModel):
    """Where a task came from and where its answer goes, in platform-neutral terms."""

    model_config = ConfigDict(frozen=True)

    workspace_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    user_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    channel_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    thread_id: str | None = None
    surface: Literal["command", "mention", "dm", "assistant", "console"]
    #: The channel the person was looking at when they asked (the agent pane's context), if known.
    viewing_channel_id: Annotated[str, StringConstraints(pattern=CHANNEL_ID_PATTERN)] | None = None

    @property
    def user_key(self) -> str:
        """The key limits are counted under: one person in one workspace."""
        return f"{self.workspace_id}:{self.user_id}"


class ContextMessage(BaseModel):
    """An earlier message of the thread, given to the model as untrusted context."""

    model_config = ConfigDict(frozen=True)

    author: Literal["user", "bot"]
    text: CleanText


class SharedFile(BaseModel):
    """A file shared in the task's conversation, which a tool may read."""

    model_config = ConfigDict(frozen=True)

    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    name: CleanText
    size: int = 0


class RunbookCall(BaseModel):
    """A runbook and its checked parameter values (:mod:`agents.runbooks`): what a runbook task runs."""

    model_config = ConfigDict(frozen=True)

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$", max_length=64)]
    params: dict[str, str | int | None]


class Task(BaseModel):
    """A validated request, ready for admission and an agent."""

    model_config = ConfigDict(frozen=True)

    request_id: Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
    origin: Origin
    text: Annotated[CleanText, Field(min_length=1, max_length=MAX_TASK_CHARS)]
    agent: str | None = None
    context: tuple[ContextMessage, ...] = ()
    files: tuple[SharedFile, ...] = ()
    #: Set for ``run <runbook> …``: the task runs that runbook's steps instead of one agent.
    runbook: RunbookCall | None = None
    #: The agents the router may choose from, as the policy allowed at submit (``None``: any). Journalled
    #: with the task, so a resumed or re-delivered task is routed under the decision it was accepted with.
    allowed_agents: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class HelpRequest:
    """The user asked for usage (or sent nothing)."""


@dataclass(frozen=True, slots=True)
class ParsedText:
    """Task text with its explicit agent, if it named one."""

    text: str
    agent: str | None


def parse_text(raw: str, *, agents: frozenset[str]) -> HelpRequest | ParsedText:
    """Read ``[agent:] task`` from already de-marked-up text.

    A leading ``word:`` selects an agent only when ``word`` is one; when it is a near miss of one
    (``genral:``) the user gets a correction instead of a silently misrouted task. Any other
    ``word:`` ("error: connection refused…") is part of the task.
    """
    text = clean_text(raw)
    if not text or text.lower() in _HELP_WORDS:
        return HelpRequest()
    agent: str | None = None
    match = _PREFIX.match(text)
    if match:
        word = match.group(1).lower()
        if word in agents:
            agent, text = word, clean_text(match.group(2))
        else:
            close = difflib.get_close_matches(word, sorted(agents), n=1, cutoff=0.75)
            if close:
                raise InvalidTask(
                    f"there is no agent called `{word}`. Did you mean `{close[0]}`?",
                    hint=f"{close[0]}: {match.group(2)[:80] or 'your question'}",
                )
    if not text:
        raise InvalidTask(f"you chose the `{agent}` agent but gave it nothing to do", hint=f"{agent}: …")
    if len(text) > MAX_TASK_CHARS:
        raise InvalidTask(
            f"the task is {len(text):,} characters long; the limit is {MAX_TASK_CHARS:,}",
            hint="summarise it, or upload long logs as a file in the thread",
        )
    return ParsedText(text=text, agent=agent)
