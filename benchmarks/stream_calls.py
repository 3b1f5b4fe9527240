"""Slack calls per streamed answer, alone and with many answers streaming at once in one workspace.

Drives :class:`bot.delivery.ThreadDelivery` with a scripted answer (a mention in a channel: placeholder,
one tool call, 1,200 characters written in 8-character pieces every 20 ms) against the fake Slack at
Slack's real rate limits, on a simulated clock, and counts the calls by method and the 429s. Nothing is
timed: the figures are counts, the same on every machine.

    python -m benchmarks.stream_calls [--answers 10]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
from collections import Counter
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from agents.catalog import AgentSpec
from agents.events import (
    AgentRouted,
    AnswerDelta,
    TaskResult,
    TaskStarted,
    TaskSucceeded,
    ToolFinished,
    ToolStarted,
)
from agents.llm import Usage
from agents.redaction import Redactor
from agents.router import Routing
from agents.task import Origin, Task, new_request_id
from bot.delivery import ThreadDelivery
from bot.outfilter import OutputFilter
from bot.testing.slack import FakeSlack

_PIECE = 8
_PIECE_EVERY = 0.02
_ANSWER = " ".join(f"word{i:03d}" for i in range(150))  # 1,199 characters
_THREAD = "1700000000.000100"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def _delivery(client: AsyncWebClient, clock: _Clock, channel: str, budget: Any) -> ThreadDelivery:
    options: dict[str, Any] = {}
    if budget is not None and "budget" in inspect.signature(ThreadDelivery).parameters:
        options["budget"] = budget
    return ThreadDelivery(
        client,
        clean=OutputFilter(Redactor()),
        channel=channel,
        thread_ts=_THREAD,
        region="eu-west-1",
        recipient_team_id="T0TEST",
        recipient_user_id="U0ANA",
        clock=clock,
        sleep=clock.sleep,
        **options,
    )


async def _run(answers: int) -> tuple[Counter[str], Counter[str]]:
    clock = _Clock()
    budget: Any = None
    try:
        from bot.slack_budget import SlackBudget  # noqa: PLC0415 - absent before the budget existed
    except ImportError:
        pass
    else:
        budget = SlackBudget(clock=clock)
    async with FakeSlack(clock=clock) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        channels = [f"C0BENCH{i:03d}" for i in range(answers)]
        deliveries = [_delivery(client, clock, c, budget) for c in channels]
        agent = AgentSpec(name="monitor", description="d", examples=(), system_prompt="s")
        tasks = [
            Task(
                request_id=new_request_id(),
                origin=Origin(workspace_id="T0TEST", user_id="U0ANA", channel_id=c, surface="mention"),
                text="what's alarming?",
            )
            for c in channels
        ]

        async def each(make: Any) -> None:
            await asyncio.gather(*(d.emit(make(t)) for d, t in zip(deliveries, tasks, strict=True)))

        await each(TaskStarted)
        await each(lambda t: AgentRouted(t, Routing(agent, "keywords", explicit=False)))
        await each(lambda t: ToolStarted(t, "list_alarms", "CloudWatch alarms", "Listing CloudWatch alarms"))
        clock.now += 0.4
        await each(lambda t: ToolFinished(t, "list_alarms", "CloudWatch alarms", ok=True, seconds=0.4))
        for at in range(0, len(_ANSWER), _PIECE):
            await each(lambda t, at=at: AnswerDelta(t, _ANSWER[at : at + _PIECE]))
            clock.now += _PIECE_EVERY
        result = TaskResult(_ANSWER, "monitor", "keywords", "m", Usage(1, 1), 3.4, 1, sources=("CloudWatch alarms",))
        await each(lambda t: TaskSucceeded(t, result))
        calls = Counter(c.method for c in slack.calls)
        limited = Counter(c.method for c in slack.calls if c.response and c.response.get("error") == "ratelimited")
        still_streaming = sum(
            slack.is_streaming(c.args["channel"], str((c.response or {}).get("ts")))
            for c in slack.calls_to("chat.startStream")
            if (c.response or {}).get("ok")
        )
        if still_streaming:
            limited["(left streaming)"] = still_streaming
    return calls, limited


def main(argv: list[str] | None = None) -> int:
    """Print the calls per answer, alone and with ``--answers`` streaming at once."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=10, help="answers streaming at once in one workspace")
    args = parser.parse_args(argv)
    for answers in (1, args.answers):
        calls, limited = asyncio.run(_run(answers))
        per_answer = {m: round(n / answers, 1) for m, n in sorted(calls.items())}
        print(f"{answers} answer(s): {sum(calls.values()) / answers:.1f} calls per answer {per_answer}")
        print(f"   429s: {dict(limited) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
