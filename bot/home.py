"""The App Home tab and ``/orchestrate history``: a person's recent tasks, usage, health and how-to.

Both read the task journal; the App Home shows health as last known (no probe on every open, so opening
the tab never costs a model call), except the task store's, which is pinged (cheap, and cached briefly).
While the store is unreachable the tab still opens, and says so.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, assert_never

import structlog
from slack_sdk.errors import SlackApiError

from agents.errors import StoreUnavailable
from agents.health import overall
from agents.policy import ANY, DM
from bot.conversations import suggest_prompts
from bot.outfilter import OutputFilter
from bot.slack_client import slack_error
from bot.usage import feedback_summary

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from agents.attempts import Status
    from agents.lifecycle import TaskRecord
    from agents.orchestrator import Orchestrator
    from bot.health import SlackProbe
    from bot.viewing import ViewingContext

__all__ = ["history_blocks", "home_view", "is_admin", "register_home", "status_icon"]

log = structlog.get_logger(__name__)
_WEEK = 7 * 24 * 3600
_PREVIEW = 80


def status_icon(status: Status) -> str:
    """The emoji for a task's status; mypy checks every status has one."""
    match status:
        case "queued":
            return ":inbox_tray:"
        case "running":
            return ":hourglass_flowing_sand:"
        case "succeeded":
            return ":white_check_mark:"
        case "failed":
            return ":x:"
        case "interrupted":
            return ":double_vertical_bar:"
        case "waiting":
            return ":raised_hand:"
        case _:
            assert_never(status)


def _line(record: TaskRecord, *, show_user: bool, clean: OutputFilter) -> str:
    when = datetime.fromtimestamp(record.started_at, tz=UTC).strftime("%b %d %H:%M UTC")
    took = f"{record.seconds:.1f}s" if record.seconds is not None else "running"
    who = f"<@{record.user_id}> · " if show_user else ""
    error = f" · `{record.error_code}`" if record.error_code else ""
    text = clean(record.text)  # the task as typed: echoed through the output filter, before the cut
    text = text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"
    return (
        f"{status_icon(record.status)} {who}{when} · `{record.agent or '—'}` · {took}{error} · `{record.request_id}`\n"
        f"      _{text}_"
    )


def history_blocks(
    records: list[TaskRecord], *, everyone: bool, clean: OutputFilter
) -> tuple[str, list[dict[str, Any]]]:
    """Recent tasks as an ephemeral message (``everyone``: the workspace's, for admins)."""
    title = "Recent tasks in this workspace" if everyone else "Your recent tasks"
    if not records:
        text = f"*{title}*\nNothing yet. Try `/orchestrate help`."
    else:
        text = f"*{title}*\n" + "\n".join(_line(r, show_user=everyone, clean=clean) for r in records)
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}]


async def is_admin(client: AsyncWebClient, user_id: str) -> bool:
    """Whether ``user_id`` administers the workspace (admins see everyone's history)."""
    try:
        response = await client.users_info(user=user_id)
    except SlackApiError as exc:
        log.info("slack.users_info_failed", error=slack_error(exc))
        return False
    user = response.get("user") or {}
    return bool(user.get("is_admin") or user.get("is_owner"))


async def home_view(
    orchestrator: Orchestrator, slack_probe: SlackProbe, *, workspace_id: str, user_id: str, admin: bool = False
) -> dict[str, Any]:
    """The Home tab for ``user_id`` (an ``admin`` also sees the week's ratings of answers per agent and model)."""
    checks = [await slack_probe.check(), orchestrator.model_health.snapshot(), await orchestrator.store_health.check()]
    status = overall(checks)
    health = "\n".join(f"• *{c.name}*: {c.detail}" for c in checks)
    clean = OutputFilter(orchestrator.redactor)
    try:
        records = await orchestrator.history(workspace_id, user_id=user_id, limit=8)
        usage = await orchestrator.usage(workspace_id, user_id=user_id, since=time.time() - _WEEK)
        ratings = await orchestrator.feedback_counts(workspace_id, since=time.time() - _WEEK) if admin else None
    except StoreUnavailable as error:
        log.warning("home.store_unavailable", store=error.store, reason=error.reason)
        records, usage, ratings = [], None, None
    if usage is None:
        recent = "Unavailable: the task store is unreachable. Try again in a minute."
    else:
        recent = "\n".join(_line(r, show_user=False, clean=clean) for r in records) or "Nothing yet."
    agents = _permitted(orchestrator, user_id)

    def section(text: str) -> dict[str, Any]:
        return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}

    feedback: list[dict[str, Any]] = []
    if admin:
        summary = feedback_summary(ratings) if ratings is not None else "unavailable: the task store is unreachable"
        feedback = [section(f"*Ratings of answers this week* (admins)\n{summary}")]
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "orch: ask about your AWS systems"}},
            section(f"*Health: {status}*\n{health}"),
            {"type": "divider"},
            section(f"*Your recent tasks*\n{recent}"),
            section(
                f"*This week*: {usage.tasks} tasks ({usage.failed} failed), "
                f"{usage.input_tokens:,} input and {usage.output_tokens:,} output tokens"
                if usage is not None
                else "*This week*: unavailable while the task store is unreachable"
            ),
            *feedback,
            {"type": "divider"},
            section(
                "*How to use*\n`/orchestrate <task>` or `/orchestrate <agent>: <task>` anywhere; `@orch` in a thread "
                "(the thread is context); or message me here.\n" + agents
            ),
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "`/orchestrate history` lists your tasks · `/orch-health`"}],
            },
        ],
    }


def _where(places: frozenset[str]) -> str:
    """`` (only in #ops, DMs)`` for a restricted grant; nothing when it holds everywhere."""
    if ANY in places:
        return ""
    named = [f"<#{place}>" for place in sorted(places) if place != DM] + (["DMs"] if DM in places else [])
    return f" _(only in {', '.join(named)})_"


def _permitted(orchestrator: Orchestrator, user_id: str) -> str:
    """The agents and runbooks ``user_id`` may use anywhere, each marked with where if not everywhere.

    The Home tab belongs to no channel, so it lists what the person may use in any place rather than
    in one; ``/orchestrate help`` in a channel lists what they may use there.
    """
    policy = orchestrator.policy.current()
    lines = []
    for agent in orchestrator.registry.all():
        places = policy.places(user_id, agent=agent.name)
        if places:
            example = f"\n      `/orchestrate {agent.examples[0]}`" if agent.examples else ""
            lines.append(f"• `{agent.name}`: {agent.description}{_where(places)}{example}")
    if not lines:
        lines.append("You may not use any agent yet: ask an admin for access in orch's policy.")
    runbooks = orchestrator.runbooks.all() if orchestrator.runbooks is not None else ()
    granted = [
        f"`{runbook.name}`{_where(places)}"
        for runbook in runbooks
        if (places := policy.places(user_id, runbook=runbook.name))
    ]
    if granted:
        lines.append("*Runbooks* (`/orchestrate run <runbook> …`): " + ", ".join(granted))
    return "\n".join(lines)


def register_home(
    app: AsyncApp, orchestrator: Orchestrator, viewing: ViewingContext, *, slack_probe: SlackProbe
) -> None:
    """Publish the Home tab whenever someone opens it; offer prompts when they open the Messages tab."""

    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], client: AsyncWebClient, context: Any) -> None:
        user_id = str(event.get("user") or "")
        if event.get("tab") == "messages":
            # The agent pane (agent_view): prompts are set per DM, without a thread_ts, which would fail silently.
            viewing.saw(context.team_id or "", user_id, event.get("context"))
            channel = event.get("channel")
            if isinstance(channel, str) and channel:
                await suggest_prompts(client, channel=channel)
            return
        if event.get("tab") != "home":
            return
        admin = await is_admin(client, user_id)
        view = await home_view(
            orchestrator, slack_probe, workspace_id=context.team_id or "", user_id=user_id, admin=admin
        )
        try:
            await client.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            log.warning("slack.home_publish_failed", error=slack_error(exc))
