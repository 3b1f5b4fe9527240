"""Reading log files people shared in the thread.

Files come through the ``FileSource`` port (the Slack edge downloads them with the bot token). A file is
decoded as text and its secrets are redacted first, before reduction, so no template or sample shows part
of one (the runner then redacts the tool result like every other). A large file is reduced to line
templates with counts, first and last sightings and samples (:mod:`agents.logreduce`), so a 50,000-line
log fits the model's context while its error patterns survive.
"""

from __future__ import annotations

import asyncio

from pydantic import Field

from agents.errors import ToolFailed
from agents.logreduce import ReducedLog, reduce_log
from agents.redaction import Redactor
from agents.tools._base import Tool, ToolContext, ToolOutput, Toolset
from agents.tools._params import ToolInput

__all__ = ["READ_SHARED_FILE", "UPLOAD_TOOLS", "SharedFileInput"]

_SOURCE = "shared files"
MAX_FILE_BYTES = 25 * 1024 * 1024
_TOKEN_BUDGET = 8_000
_REDACT = Redactor()


def _redact_and_reduce(text: str) -> ReducedLog:
    # The file's own door: redacted whole, before templates mask or samples clip a secret beyond recognition.
    return reduce_log(_REDACT(text).splitlines(), token_budget=_TOKEN_BUDGET)


class SharedFileInput(ToolInput):
    """Input of ``read_shared_file``."""

    file_id: str = Field(min_length=1, max_length=64, description="Its id in <shared_files>.")


def _progress(_: ToolContext, request: SharedFileInput) -> str:
    return f"Reading shared file {request.file_id}…"


async def _read_shared_file(context: ToolContext, request: SharedFileInput) -> ToolOutput:
    file_id = request.file_id
    if context.files is None:
        raise ToolFailed(source=_SOURCE, reason="files cannot be read in this conversation")
    if file_id not in context.file_ids:
        shared = ", ".join(context.file_ids) or "none"
        raise ToolFailed(source=_SOURCE, reason=f"file {file_id} was not shared here (shared: {shared})")
    name, data = await context.files.read(file_id, max_bytes=MAX_FILE_BYTES)
    if b"\x00" in data[:8192]:
        raise ToolFailed(source=_SOURCE, reason=f"{name} looks binary, not a text log")
    truncated = len(data) >= MAX_FILE_BYTES
    text = data.decode("utf-8", errors="replace")
    # Redacting and mining templates is CPU work proportional to the file: keep it off the event loop.
    reduced = await asyncio.to_thread(_redact_and_reduce, text)
    return ToolOutput(
        data={
            "file": name,
            "bytes_read": len(data),
            "truncated_at_bytes": MAX_FILE_BYTES if truncated else None,
            "lines": reduced.total_lines,
            "templates": len(reduced.templates),
            "content": reduced.text,
        },
        summary=f"{reduced.total_lines:,} lines of {name}",
    )


READ_SHARED_FILE = Tool(
    name="read_shared_file",
    description=(
        "Read a log or text file shared in this thread. Small files come back verbatim; large ones as line "
        "templates with counts, first/last seen and sample lines, errors first."
    ),
    input_model=SharedFileInput,
    source=_SOURCE,
    effect="read",
    progress=_progress,
    run=_read_shared_file,
)

UPLOAD_TOOLS = Toolset((READ_SHARED_FILE,))
