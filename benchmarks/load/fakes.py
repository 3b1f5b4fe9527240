"""The fakes of one step, and what the step's report needs from them.

A fake Slack that notes per channel (one task each) when an answer first showed, finished or failed, and a
fake Bedrock that streams the same answer for every task after a set latency; :class:`FakesHost` starts both
and reads, from what they saw, the figures of the tasks of a step.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.testing.bedrock import FakeBedrock, Reply
from benchmarks.load.metering import cpu_self
from bot.testing.environment import BOT_TOKEN
from bot.testing.slack import FakeSlack, RateLimits

if TYPE_CHECKING:
    from agents.testing.bedrock import ConverseCall
    from bot.testing.slack import SlackCall

_MARKER = re.compile(r"bench-(C[A-Z]\d{7})")
_WARNING = ":warning:"


def answer_text(chars: int) -> str:
    """A Markdown-ish answer of about ``chars`` characters (what the fake model streams for every task)."""
    paragraph = (
        "A 502 right after a deploy usually means the load balancer reached a target that was not ready: "
        "check the **deregistration delay**, the health-check grace period and the keep-alive timeout. "
    )
    return (paragraph * (chars // len(paragraph) + 1))[:chars]


def _channel_of(call: ConverseCall) -> str | None:
    match = _MARKER.search(json.dumps(call.body.get("messages")))
    return match.group(1) if match else None


def _is_forced(call: ConverseCall) -> bool:
    return bool(((call.body.get("toolConfig") or {}).get("toolChoice") or {}).get("tool"))


#: Calls that put something a person sees in the channel: the parent message, a placeholder, a stream, an edit.
_VISIBLE = frozenset({"chat.postMessage", "chat.postEphemeral", "chat.startStream", "chat.update"})


class BenchSlack(FakeSlack):
    """The fake Slack, indexing per channel when a task's answer first showed, finished, or failed.

    Every benchmark task has its own channel, so a channel stands for a task. Response URLs are
    ``{root}/response/{channel}`` and accepted without being issued first, so the load generator (in
    another process) can make them up.
    """

    def __init__(self, **kwargs: Any) -> None:
        # Slack's limits, counted per channel: a channel is a task here, and a run's hundreds of tasks stand
        # for many workspaces' traffic, not one workspace's minute.
        kwargs.setdefault("rate_limits", RateLimits(per="channel"))
        super().__init__(**kwargs)
        self.first_update: dict[str, float] = {}
        self.first_visible: dict[str, float] = {}  # the first message, stream or edit a person sees, per task
        self.done: dict[str, float] = {}
        self.failed: dict[str, float] = {}

    def _record(self, call: SlackCall) -> None:
        super()._record(call)
        self._observe(call)

    def _response_url_answer(self, response_id: str, *, valid: bool) -> tuple[int, dict[str, Any]]:
        self._response_urls.setdefault(response_id, 0)
        return super()._response_url_answer(response_id, valid=valid)

    def _observe(self, call: SlackCall) -> None:
        args = call.args
        if call.method == "response_url":  # only failures are answered privately in these scenarios
            self.failed.setdefault(str(args.get("_url", "")).rsplit("/", 1)[-1], call.at)
            return
        channel = args.get("channel")
        if not isinstance(channel, str):
            return
        if call.method in _VISIBLE:
            self.first_visible.setdefault(channel, call.at)
        text = f"{args.get('text') or ''}{args.get('markdown_text') or ''}"
        if _WARNING in text or call.method == "chat.postEphemeral":
            self.failed.setdefault(channel, call.at)
        elif call.method == "chat.startStream":
            self.first_update.setdefault(channel, call.at)
        elif call.method == "chat.stopStream":
            self.done.setdefault(channel, call.at)
        elif call.method in {"chat.update", "chat.postMessage"}:
            blocks = args.get("blocks")
            kinds = {b.get("type") for b in blocks if isinstance(b, dict)} if isinstance(blocks, list) else set()
            if "markdown" in kinds:
                self.first_update.setdefault(channel, call.at)
            # The footer (a context block) marks the final answer, in the thread; a command's parent message
            # (not in a thread) has a context line too.
            if "context" in kinds and (call.method == "chat.update" or args.get("thread_ts")):
                self.done.setdefault(channel, call.at)


@dataclass(frozen=True)
class FakeOptions:
    """How the fake model behaves."""

    latency: float
    chunk_delay: float
    chunk_size: int
    answer_chars: int

    @property
    def stream_seconds(self) -> float:
        """How long one answer takes to stream after its first delta."""
        return max(0, math.ceil(self.answer_chars / self.chunk_size) - 1) * self.chunk_delay


class FakesHost:
    """Fake Slack and Bedrock for one step, plus what the step's report needs from them."""

    def __init__(self, options: FakeOptions) -> None:
        self.slack = BenchSlack(bot_token=BOT_TOKEN)
        self.bedrock = FakeBedrock(
            latency=options.latency, chunk_delay=options.chunk_delay, chunk_size=options.chunk_size
        )
        reply = Reply(text=answer_text(options.answer_chars))
        self.bedrock.default_reply = lambda _call: reply
        self._timeline: list[tuple[float, int]] = []
        self._sampler: asyncio.Task[None] | None = None
        self._mark_calls = 0
        self._mark_cpu = 0.0
        self._watched: set[str] = set()

    async def start(self) -> dict[str, str]:
        """Start both servers; return the URLs the bot and the load generator need."""
        await self.slack.start()
        await self.bedrock.start()
        self._sampler = asyncio.create_task(self._sample())
        return {
            "slack_api_url": self.slack.base_url,
            "bedrock_url": self.bedrock.endpoint_url,
            "response_root": f"{self.slack.root_url}/response/",
        }

    async def _sample(self) -> None:
        while True:
            self._timeline.append((time.monotonic(), self.bedrock.in_flight))
            await asyncio.sleep(0.1)

    def mark(self) -> None:
        """Start of the measured part: reset the peak, the in-flight timeline and this process's CPU clock."""
        self.bedrock.peak_in_flight = self.bedrock.in_flight
        self._timeline.clear()
        self._mark_calls = len(self.slack.calls)
        self._mark_cpu = cpu_self()

    def watch(self, channels: list[str]) -> None:
        """The tasks (channels) :meth:`progress` counts from now on."""
        self._watched = set(channels)

    def progress(self) -> dict[str, int]:
        """Watched tasks that finished (answered or failed), and Bedrock calls in flight now."""
        slack = self.slack
        finished = sum(1 for c in self._watched if c in slack.done or c in slack.failed)
        return {"finished": finished, "in_flight": self.bedrock.in_flight}

    def report(self, prefix: str) -> dict[str, Any]:
        """Everything the fakes saw of the tasks whose channel starts with ``prefix`` since :meth:`mark`."""
        first_text: dict[str, float] = {}
        answer_calls = routing_calls = 0
        for call in self.bedrock.calls:
            channel = _channel_of(call)
            if channel is None or not channel.startswith(prefix):
                continue
            if _is_forced(call):
                routing_calls += 1
                continue
            answer_calls += 1
            if call.first_text_at is not None and channel not in first_text:
                first_text[channel] = call.first_text_at
        slack = self.slack
        token_to_update = [(slack.first_update[c] - t) * 1000 for c, t in first_text.items() if c in slack.first_update]
        calls = slack.calls[self._mark_calls :]
        methods: dict[str, int] = {}
        for call in calls:
            methods[call.method] = methods.get(call.method, 0) + 1
        failed = {c: t for c, t in slack.failed.items() if c.startswith(prefix)}
        done = {c: t for c, t in slack.done.items() if c.startswith(prefix) and c not in failed}
        return {
            "peak_in_flight": self.bedrock.peak_in_flight,
            "answer_calls": answer_calls,
            "routing_calls": routing_calls,
            "done_at": done,
            "failed_at": failed,
            "token_to_update_ms": token_to_update,
            "first_visible_at": {c: t for c, t in slack.first_visible.items() if c.startswith(prefix)},
            "slack_calls": methods,
            "slack_not_ok": sum(1 for c in calls if c.response is not None and c.response.get("ok") is False),
            "in_flight_timeline": self._timeline[:],
            "cpu_seconds": cpu_self() - self._mark_cpu,
        }

    async def stop(self) -> None:
        """Stop both servers."""
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        await self.bedrock.stop()
        await self.slack.stop()
