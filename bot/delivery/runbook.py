"""A runbook run's steps in its thread: a plan of task cards, or one checklist message, and the outputs file.

Where Slack takes task chunks the steps are ``task_update`` chunks in the answer's stream, laid out as a
plan (``task_display_mode="plan"``): every step pending at the start, then in progress, then complete or
error with its time and data sources; the synthesis streams below them. Where Slack refuses chunks the
same states are one checklist message in the thread, edited in place (never a message per step). When
the run ends, every step's full output goes into one file, so the thread shows the summary, not a wall.

Step titles, errors and outputs are text the bot did not write alone: they pass the output filter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from bot.progress import console_url

if TYPE_CHECKING:
    from agents.events import RunbookStarted, StepFinished, StepStarted
    from bot.delivery.port import SlackPort
    from bot.outfilter import OutputFilter

__all__ = ["PLAN_DISPLAY_MODE", "RunbookProgress"]

log = structlog.get_logger(__name__)

#: How Slack lays out a runbook's steps: a plan, every step listed from the start.
PLAN_DISPLAY_MODE = "plan"
_MARKS = {"pending": "◻️", "in_progress": ":hourglass_flowing_sand:", "complete": ":white_check_mark:", "error": ":x:"}
_DETAILS_LIMIT = 500
_TITLE_LIMIT = 200


@dataclass(slots=True)
class _Step:
    id: str
    agent: str
    status: str = "pending"
    details: str = ""
    sources: tuple[str, ...] = ()
    output: str = ""
    error: str = ""


@dataclass(slots=True)
class RunbookProgress:
    """The steps of one run, as chunks or as a checklist, in ``channel``/``thread_ts``."""

    slack: SlackPort
    clean: OutputFilter
    channel: str
    thread_ts: str
    region: str
    runbook: str = ""
    steps: dict[str, _Step] = field(default_factory=dict)
    checklist_ts: str | None = None

    def begin(self, event: RunbookStarted) -> list[dict[str, Any]]:
        """The run's steps, all pending: their chunks."""
        self.runbook = event.runbook
        self.steps = {step: _Step(step, agent) for step, agent in event.steps}
        return [self.chunk(step) for step in self.steps]

    def started(self, event: StepStarted) -> dict[str, Any] | None:
        """A step is in progress: its chunk (``None`` for a step this run does not know)."""
        step = self.steps.get(event.step)
        if step is None:
            return None
        step.status = "in_progress"
        step.details = f"{step.agent} agent working…"
        return self.chunk(event.step)

    def finished(self, event: StepFinished) -> dict[str, Any] | None:
        """A step ended: its chunk, complete or error, with its time and sources."""
        step = self.steps.get(event.step)
        if step is None:
            return None
        step.status = "complete" if event.ok else "error"
        step.sources, step.output, step.error = event.sources, event.output, event.error
        if event.reused:
            step.details = "done before the restart (re-used)"
        elif event.skipped:
            step.details = event.error
        elif event.ok:
            data = f" · data: {', '.join(event.sources)}" if event.sources else ""
            step.details = f"done in {event.seconds:.1f} s{data}"
        else:
            step.details = f"failed after {event.seconds:.1f} s: {event.error}"
        return self.chunk(event.step)

    def chunk(self, step_id: str) -> dict[str, Any]:
        """The ``task_update`` chunk of one step as it stands."""
        step = self.steps[step_id]
        chunk: dict[str, Any] = {
            "type": "task_update",
            "id": f"step-{step.id}",
            "title": self._cut(f"{step.id} ({step.agent})", _TITLE_LIMIT),
            "status": step.status,
        }
        if step.details:
            chunk["details"] = self._cut(step.details, _DETAILS_LIMIT)
        urls = [(source, console_url(source, self.region)) for source in step.sources]
        sources = [{"type": "url", "url": url, "text": self._cut(s, _TITLE_LIMIT)} for s, url in urls if url]
        if sources:
            chunk["sources"] = sources
        return chunk

    def checklist(self) -> str:
        """The steps as one message's text."""
        lines = [f"*Runbook `{self.runbook}`*"]
        for step in self.steps.values():
            details = f": {step.details}" if step.details else ""
            lines.append(f"{_MARKS[step.status]} `{step.id}` ({step.agent}){details}")
        return self.clean("\n".join(lines))

    async def show_checklist(self) -> None:
        """Post the checklist, or edit it in place (one message for the whole run)."""
        text = self.checklist()
        if self.checklist_ts is None:
            outcome = await self.slack.post_message(channel=self.channel, thread_ts=self.thread_ts, text=text)
            if outcome.ok:
                self.checklist_ts = outcome.ts
            else:
                log.info("slack.checklist_failed", error=outcome.error)
            return
        outcome = await self.slack.update_message(channel=self.channel, ts=self.checklist_ts, text=text)
        if not outcome.ok:
            log.info("slack.checklist_update_failed", error=outcome.error)

    def outputs(self, request_id: str) -> str:
        """Every step's full output, one section each, for the file attached to the answer."""
        parts = [f"Runbook {self.runbook} · {request_id}"]
        for step in self.steps.values():
            body = step.output or f"(no output: {step.error or step.status})"
            parts.append(f"\n## {step.id} ({step.agent}) · {step.status}\n\n{body}")
        return self.clean("\n".join(parts))

    async def attach_outputs(self, request_id: str) -> None:
        """The outputs file in the thread; a refusal is logged (the summary is already there)."""
        outcome = await self.slack.upload(
            channel=self.channel,
            thread_ts=self.thread_ts,
            content=self.outputs(request_id),
            filename=f"{self.runbook}-{request_id}-steps.md",
            title=f"Step outputs of {self.runbook} ({request_id})",
        )
        if not outcome.ok:
            log.warning("slack.step_outputs_not_attached", error=outcome.error)

    def _cut(self, text: str, limit: int) -> str:
        cleaned = self.clean(text)
        return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
