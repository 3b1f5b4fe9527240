"""Answers as Slack messages.

The model writes Markdown; Slack's ``markdown`` block renders it natively (headings, lists, code,
tables, links), so nothing is converted by hand. Slack caps markdown blocks at 12,000 characters per
message: longer answers are shown in part and attached whole as a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.usage import warning_line

if TYPE_CHECKING:
    from agents.events import TaskResult
    from agents.llm import Usage

__all__ = ["INLINE_LIMIT", "RenderedAnswer", "render_answer", "token_count", "working_text"]

INLINE_LIMIT = 11_500  # below Slack's 12,000 markdown-block limit, with room for the note
_PREVIEW = 2_800
_FALLBACK = 300


@dataclass(frozen=True, slots=True)
class RenderedAnswer:
    """A message body, and the full text to attach when it did not fit."""

    text: str
    blocks: list[dict[str, Any]]
    attachment: str | None = None


def token_count(usage: Usage) -> str:
    """``1,234 in (980 cached) / 56 out tokens``: what the answer cost, and how much the prompt cache served."""
    cached = f" ({usage.cache_read_tokens:,} cached)" if usage.cache_read_tokens else ""
    return f"{usage.input_tokens:,} in{cached} / {usage.output_tokens:,} out tokens"


def footer(result: TaskResult, request_id: str) -> dict[str, Any]:
    """The context line under every answer: agent, model, time, tokens, request ID (and why this agent).

    A daily token budget at 80% or more adds a warning with the time it resets.
    """
    parts = [
        f"agent `{result.agent}`",
        f"model `{result.model_id}`",
        f"{result.seconds:.1f}s",
        token_count(result.usage),
        f"`{request_id}`",
    ]
    if result.attempts > 1:
        parts.insert(3, f"{result.attempts} attempts")
    elements = [{"type": "mrkdwn", "text": " · ".join(parts)}]
    elements.append({"type": "mrkdwn", "text": f"routed: {result.routing_reason}"})
    if result.sources:
        elements.append({"type": "mrkdwn", "text": "data: " + ", ".join(result.sources)})
    if result.failed_sources:
        elements.append({"type": "mrkdwn", "text": "unavailable: " + ", ".join(result.failed_sources)})
    if result.budget is not None:
        elements.append({"type": "mrkdwn", "text": warning_line(result.budget)})
    return {"type": "context", "elements": elements}


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` at a paragraph or line break when there is one nearby."""
    if len(text) <= limit:
        return text
    window = text[:limit]
    for sep in ("\n\n", "\n"):
        at = window.rfind(sep)
        if at > limit // 2:
            return window[:at]
    return window


def render_answer(result: TaskResult, request_id: str, *, can_attach: bool = True) -> RenderedAnswer:
    """The message for a successful task; without ``can_attach`` a long answer is shown cut, with a note."""
    body = result.text.strip() or "_(the model returned an empty answer)_"
    preview = body.replace("\n", " ")
    text = preview if len(preview) <= _FALLBACK else preview[: _FALLBACK - 1] + "…"
    if len(body) <= INLINE_LIMIT:
        return RenderedAnswer(text, [{"type": "markdown", "text": body}, footer(result, request_id)])
    shown = _cut(body, _PREVIEW)
    if shown.count("```") % 2:
        shown += "\n```"
    if can_attach:
        name = attachment_name(request_id)
        note = f"\n\n_…the full answer ({len(body):,} characters) is attached as `{name}`._"
    else:
        note = f"\n\n_…cut at {len(shown):,} of {len(body):,} chars. Invite me to the channel for all of it._"
    blocks = [{"type": "markdown", "text": shown + note}, footer(result, request_id)]
    return RenderedAnswer(text, blocks, attachment=body if can_attach else None)


def attachment_name(request_id: str) -> str:
    """File name for an answer too long to show inline."""
    return f"answer-{request_id}.md"


def working_text(agent: str, request_id: str) -> str:
    """The placeholder shown while an agent works."""
    return f":hourglass_flowing_sand: Working on it with `{agent}`… (`{request_id}`)"
