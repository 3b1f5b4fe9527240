"""Work in progress as Slack task cards: each tool call (and, later, each runbook step) a task in the answer.

Slack's streamed messages take ``task_update`` chunks (an id, a title, a status of ``pending``,
``in_progress``, ``complete`` or ``error``, details, and URL ``sources``) and show them as task cards among
the streamed text (``task_display_mode="timeline"``). This module turns "started" and "finished" into
those chunks and remembers which task is which; it calls nothing. :class:`~bot.delivery.ThreadDelivery`
sends the chunks with the stream and falls back to its placeholder or status where Slack refuses them.

Titles and details carry what a tool or the model wrote (a log group's name, an alarm's): they pass the
output filter like every other text the bot did not write.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.outfilter import OutputFilter

__all__ = ["TASK_DISPLAY_MODE", "TaskCards", "console_url"]

#: How Slack lays the task cards out: one card per task, interleaved with the streamed text.
TASK_DISPLAY_MODE = "timeline"

_TITLE_LIMIT = 200
_DETAILS_LIMIT = 500

# Where a person can look at the same data in the AWS console, by data source (``{r}`` is the region).
_CONSOLE_PATHS = {
    "CloudWatch alarms": "cloudwatch/home?region={r}#alarmsV2:",
    "CloudWatch metrics": "cloudwatch/home?region={r}#metricsV2:",
    "CloudWatch Logs": "cloudwatch/home?region={r}#logsV2:log-groups",
    "CloudWatch Logs Insights": "cloudwatch/home?region={r}#logsV2:logs-insights",
    "EC2": "ec2/home?region={r}#Instances:",
    "EC2 Auto Scaling": "ec2/home?region={r}#AutoScalingGroups:",
    "ECS": "ecs/v2/clusters?region={r}",
    "RDS": "rds/home?region={r}#databases:",
    "Lambda": "lambda/home?region={r}#/functions",
    "Cost Explorer": "costmanagement/home?region={r}#/cost-explorer",
}


def console_url(source: str, region: str) -> str | None:
    """The AWS console page showing ``source`` in ``region``, if the bot knows one."""
    path = _CONSOLE_PATHS.get(source)
    if path is None:
        return None
    return f"https://{region}.console.aws.amazon.com/{path.format(r=region)}"


@dataclass(slots=True)
class _Open:
    id: str
    key: str
    title: str
    source: str


class TaskCards:
    """The ``task_update`` chunks for one answer's work, in the order it happens.

    :meth:`started` opens a task (status ``in_progress``); :meth:`finished` closes the oldest open task
    with the same ``key`` (``complete`` or ``error``, with its time and data source). Keys are the
    caller's: a tool's name and data source, a runbook step's id.
    """

    def __init__(self, clean: OutputFilter, *, region: str) -> None:
        self._clean = clean
        self._region = region
        self._ids = itertools.count(1)
        self._open: list[_Open] = []

    def started(self, key: str, title: str, *, source: str) -> dict[str, Any]:
        """A new task called ``title``, in progress, reading ``source``."""
        task = _Open(f"task-{next(self._ids)}", key, self._text(title, _TITLE_LIMIT), source)
        self._open.append(task)
        return {"type": "task_update", "id": task.id, "title": task.title, "status": "in_progress"}

    def finished(self, key: str, *, ok: bool, seconds: float) -> dict[str, Any] | None:
        """Close the oldest open task with ``key``; ``None`` if no such task was shown."""
        task = next((t for t in self._open if t.key == key), None)
        if task is None:
            return None
        self._open.remove(task)
        took = f"{seconds:.1f} s"
        details = f"done in {took} · data: {task.source}" if ok else f"{task.source} failed after {took}"
        chunk: dict[str, Any] = {
            "type": "task_update",
            "id": task.id,
            "title": task.title,
            "status": "complete" if ok else "error",
            "details": self._text(details, _DETAILS_LIMIT),
        }
        url = console_url(task.source, self._region)
        if url is not None:
            chunk["sources"] = [{"type": "url", "url": url, "text": self._text(task.source, _TITLE_LIMIT)}]
        return chunk

    @property
    def open(self) -> int:
        """Tasks started and not finished."""
        return len(self._open)

    def _text(self, text: str, limit: int) -> str:
        cleaned = self._clean(text)  # filtered whole, then cut: a cut never hides a secret from the filter
        return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
