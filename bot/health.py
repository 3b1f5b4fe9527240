"""``/orch-health``: the bot's own status, assembled from cached checks.

Slack is checked with ``auth.test`` at most once a minute; the model through :class:`ModelHealth`,
which mostly learns from real traffic; the task store with a ping (short timeout). The report works, and
says so, when Bedrock or the store is down.
"""

from __future__ import annotations

import asyncio
import time
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from agents.health import Check, overall
from bot.slack_client import slack_error

if TYPE_CHECKING:
    from collections.abc import Callable

    from slack_sdk.web.async_client import AsyncWebClient

    from agents.orchestrator import Orchestrator

__all__ = ["SlackProbe", "app_version", "health_report"]

_ICON = {"healthy": ":large_green_circle:", "degraded": ":large_yellow_circle:", "unhealthy": ":red_circle:"}


def app_version() -> str:
    """The installed orch-bot version."""
    try:
        return version("orch-bot")
    except PackageNotFoundError:
        return "unknown"


class SlackProbe:
    """``auth.test``, cached for ``ttl`` seconds."""

    def __init__(
        self, client: AsyncWebClient, *, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._cached: tuple[float, Check] | None = None

    async def check(self) -> Check:
        """Whether the bot token works, and for which workspace."""
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._ttl:
            return self._cached[1]
        started = time.perf_counter()
        try:
            response = await self._client.auth_test()
        except SlackApiError as exc:
            error = slack_error(exc)
            check = Check("Slack", "unhealthy", f"auth.test failed: `{error}`")
        except (OSError, TimeoutError) as exc:
            check = Check("Slack", "unhealthy", f"Slack API unreachable ({type(exc).__name__})")
        else:
            ms = (time.perf_counter() - started) * 1000
            check = Check(
                "Slack",
                "healthy",
                f"connected to {response.get('team', '?')} as @{response.get('user', '?')} ({ms:.0f} ms)",
            )
        self._cached = (now, check)
        return check


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"


async def health_report(
    orchestrator: Orchestrator, slack: SlackProbe, *, within: float = 8.0
) -> tuple[str, list[dict[str, Any]]]:
    """The report: overall status, each check, version, uptime and load."""
    try:
        async with asyncio.timeout(within):
            slack_check, model_check, store_check = await asyncio.gather(
                slack.check(), orchestrator.model_health.check(), orchestrator.store_health.check()
            )
    except TimeoutError:
        slack_check = Check("Slack", "degraded", "check timed out")
        model_check = Check("Bedrock", "unhealthy", f"no answer within {within:.0f}s")
        store_check = await orchestrator.store_health.check()
    registry = orchestrator.registry
    checks = [
        slack_check,
        model_check,
        store_check,
        Check(
            "Agents",
            "healthy",
            f"{len(registry.all())} registered: " + ", ".join(f"`{n}`" for n in sorted(registry.names())),
        ),
        Check(
            "Rate limiter",
            "healthy",
            f"{orchestrator.rate_limit} per person; {orchestrator.in_flight} tasks admitted",
        ),
    ]
    status = overall(checks)
    lines = "\n".join(f"{_ICON[c.status]} *{c.name}*: {c.detail}" for c in checks)
    text = (
        f"*orch-bot is {status}*\n{lines}\n"
        f"version {app_version()} · up {_duration(orchestrator.uptime)} · "
        f"{orchestrator.in_flight} tasks in flight"
    )
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
