"""Load benchmark: the real ``orch-bot`` (HTTP mode) against the fakes, driven at fixed rates, with a ceiling.

``python -m benchmarks.load [--rates 10,50,100,200] [--duration 10] [--bedrock-latency 2.0] [--smoke]
[--json PATH]``

For every step the bot is started afresh (``orch-bot serve``, settings from the environment as an operator
would give them) against a fake Slack and a fake Bedrock (``tests/fakes``), warmed up with a few tasks, and
then sent signed slash commands and ``app_mention`` events at a fixed rate, open loop: each send is
scheduled on a clock, never waits for the previous answer, and records how late it left. After the sends
the step waits (bounded) for the tasks still waiting on Bedrock to finish, then reads the figures:

* ack latency p50/p99/max, from the sender's side of the HTTP request (what Slack would see);
* tasks completed (a ``chat.stopStream`` or final ``chat.update`` reached the fake Slack) and errors
  (non-2xx or timed-out acks, refusals, warning messages posted, tasks not finished in time);
* peak in-flight Bedrock calls at the fake;
* bot CPU seconds per task (``utime + stime`` of the bot process over the step, divided by tasks
  completed: the HTTP server, Bolt, the Slack and Bedrock clients, everything but the model);
* peak RSS (``VmHWM`` of the bot, which is restarted per step so each peak is that step's);
* from the fake Bedrock writing a task's first text delta to the fake Slack receiving that task's first
  answer update (``chat.startStream``, or a ``chat.update`` carrying the answer).

The same steps are then sent to :mod:`benchmarks.ceiling_app`, a bare Bolt app that only acks, and our
throughput and latency are printed as ratios to it. With ``--floor`` (the default), :mod:`benchmarks.floor`
then makes each step's client calls alone, at its rate, and the bot's CPU per task outside the LLM (its
Bedrock client's own CPU, which the bot counts, taken out) is printed against that floor plus the ceiling's
ack. ``--smoke`` is one short step for CI (figures printed, never asserted). docs/performance.md explains
the method and holds the results.

The fakes run in a helper process by default (``--fakes process``), so that serving the bot's Slack and
Bedrock traffic does not share an event loop with the load generator; ``--fakes inproc`` runs them here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

from tests.e2e.harness import BOT_TOKEN, ORCH_BOT, SIGNING_SECRET, bot_env, free_port
from tests.fakes.bedrock import FakeBedrock, Reply
from tests.fakes.slack import FakeSlack, RateLimits, app_mention_event, event_callback, sign_request, slash_command_form
from tests.redis_keys import delete_prefix

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tests.fakes.bedrock import ConverseCall
    from tests.fakes.slack import SlackCall

ROOT = Path(__file__).resolve().parents[1]
TABLE_TITLE = "orch-bot under load (HTTP mode, fake Slack and Bedrock)"
CEILING_TITLE = "ceiling: bare Bolt AsyncApp that only acks"
RATIO_TITLE = "orch-bot / ceiling"
TARGET_TITLE = "targets (docs/performance.md)"

STEP_PREFIX = "CS"  # channel ids of measured tasks
WARMUP_PREFIX = "CW"  # channel ids of warm-up tasks
SLACK_ACK_TIMEOUT = 3.0  # Slack shows the user an error when an ack takes longer
CLIENT_TIMEOUT = 10.0
TASK = "why do ALB 502s happen right after a deploy, and what should we check first?"
_MARKER = re.compile(r"bench-(C[A-Z]\d{7})")
_WARNING = ":warning:"
_MB = 1024 * 1024
_STREAM_LIMIT = 64 * _MB  # the helper's report is one (long) JSON line


# ---------------------------------------------------------------------------------------- the fakes


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


def _cpu_self() -> float:
    times = os.times()
    return times.user + times.system


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
        self._mark_cpu = _cpu_self()

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
            "slack_calls": methods,
            "slack_not_ok": sum(1 for c in calls if c.response is not None and c.response.get("ok") is False),
            "in_flight_timeline": self._timeline[:],
            "cpu_seconds": _cpu_self() - self._mark_cpu,
        }

    async def stop(self) -> None:
        """Stop both servers."""
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        await self.bedrock.stop()
        await self.slack.stop()


class Fakes(Protocol):
    """The fakes as the load generator sees them, wherever they run."""

    urls: dict[str, str]
    pid: int

    async def mark(self) -> None:
        """See :meth:`FakesHost.mark`."""

    async def watch(self, channels: list[str]) -> None:
        """See :meth:`FakesHost.watch`."""

    async def progress(self) -> dict[str, int]:
        """See :meth:`FakesHost.progress`."""
        ...

    async def report(self, prefix: str) -> dict[str, Any]:
        """See :meth:`FakesHost.report`."""
        ...

    async def close(self) -> None:
        """Stop the fakes."""


class LocalFakes:
    """The fakes in this process (``--fakes inproc``)."""

    def __init__(self, host: FakesHost, urls: dict[str, str]) -> None:
        self._host = host
        self.urls = urls
        self.pid = os.getpid()

    @classmethod
    async def open(cls, options: FakeOptions) -> LocalFakes:
        """Start the fakes here."""
        host = FakesHost(options)
        return cls(host, await host.start())

    async def mark(self) -> None:
        """See :meth:`FakesHost.mark`."""
        self._host.mark()

    async def watch(self, channels: list[str]) -> None:
        """See :meth:`FakesHost.watch`."""
        self._host.watch(channels)

    async def progress(self) -> dict[str, int]:
        """See :meth:`FakesHost.progress`."""
        return self._host.progress()

    async def report(self, prefix: str) -> dict[str, Any]:
        """See :meth:`FakesHost.report`."""
        return self._host.report(prefix)

    async def close(self) -> None:
        """Stop the fakes."""
        await self._host.stop()


class HelperFakes:
    """The fakes in a helper process (``--fakes process``), driven by JSON lines over its stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process, urls: dict[str, str]) -> None:
        self._proc = proc
        self.urls = urls
        self.pid = proc.pid
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, options: FakeOptions, *, cpus: set[int] | None) -> HelperFakes:
        """Start the helper and read the URLs it prints."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.load",
            "--serve-fakes",
            json.dumps(asdict(options)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=_STREAM_LIMIT,
        )
        if cpus:
            os.sched_setaffinity(proc.pid, cpus)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line:
            raise RuntimeError(f"the fakes helper exited with {await proc.wait()}")
        return cls(proc, json.loads(line))

    async def _ask(self, **command: Any) -> Any:
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        async with self._lock:
            self._proc.stdin.write(json.dumps(command).encode() + b"\n")
            await self._proc.stdin.drain()
            return json.loads(await self._proc.stdout.readline())

    async def mark(self) -> None:
        """See :meth:`FakesHost.mark`."""
        await self._ask(cmd="mark")

    async def watch(self, channels: list[str]) -> None:
        """See :meth:`FakesHost.watch`."""
        await self._ask(cmd="watch", channels=channels)

    async def progress(self) -> dict[str, int]:
        """See :meth:`FakesHost.progress`."""
        return dict(await self._ask(cmd="progress"))

    async def report(self, prefix: str) -> dict[str, Any]:
        """See :meth:`FakesHost.report`."""
        return dict(await self._ask(cmd="report", prefix=prefix))

    async def close(self) -> None:
        """Ask the helper to stop; kill it if it does not."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ask(cmd="stop"), 10)
        try:
            await asyncio.wait_for(self._proc.wait(), 10)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()


async def serve_fakes(options: FakeOptions) -> None:
    """The helper process: start the fakes, print their URLs, then answer commands read from stdin."""
    host = FakesHost(options)
    urls = await host.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_STREAM_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    loop.add_signal_handler(signal.SIGINT, lambda: None)  # the parent's Ctrl-C; it stops us itself

    def answer(value: object) -> None:
        sys.stdout.write(json.dumps(value) + "\n")
        sys.stdout.flush()

    answer(urls)
    try:
        while line := await reader.readline():
            command = json.loads(line)
            match command["cmd"]:
                case "mark":
                    host.mark()
                    answer({"ok": True})
                case "watch":
                    host.watch(command["channels"])
                    answer({"ok": True})
                case "progress":
                    answer(host.progress())
                case "report":
                    answer(host.report(command["prefix"]))
                case _:
                    answer({"ok": True})
                    break
    finally:
        await host.stop()


async def open_fakes(mode: str, options: FakeOptions, *, cpus: set[int] | None) -> Fakes:
    """The fakes for one step, here or in a helper process."""
    if mode == "inproc":
        return await LocalFakes.open(options)
    return await HelperFakes.open(options, cpus=cpus)


# ---------------------------------------------------------------------------------------- processes


def proc_cpu_seconds(pid: int) -> float:
    """``utime + stime`` of ``pid`` in seconds, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # fields 14 and 15 of stat(5), counted after "(comm)"


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (``/proc/stat``, less idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


async def wait_for_quiet(within: float, *, busy_cores: float = 0.15) -> float:
    """Wait (at most ``within`` s) until the machine is nearly idle for a second; return the seconds waited.

    Other work on the machine (a test run, a build) competes for the same two cores and distorts every
    latency figure, so each step starts when the machine is quiet, and reports what else ran during it.
    """
    started = time.monotonic()
    while time.monotonic() - started < within:
        before = machine_busy_seconds()
        await asyncio.sleep(1.0)
        if machine_busy_seconds() - before < busy_cores:
            break
    return time.monotonic() - started


def proc_memory_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of ``pid`` in MB, from ``/proc/<pid>/status``."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0]) / 1024
    return {"rss": values.get("VmRSS", 0.0), "hwm": values.get("VmHWM", 0.0)}


class Server:
    """A server subprocess (orch-bot or the ceiling app) with its log, ready once ``/healthz`` answers."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, port: int) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """Slack's request URL for this server."""
        return f"http://127.0.0.1:{self.port}/slack/events"

    @property
    def metrics_url(self) -> str:
        """Where this server serves Prometheus metrics (the HTTP port, or a worker's ``ORCH_METRICS_PORT``)."""
        return f"http://127.0.0.1:{self.port}/metrics"

    @property
    def pid(self) -> int:
        """The process id."""
        assert self.proc is not None
        return self.proc.pid

    async def start(self, session: aiohttp.ClientSession, *, cpus: set[int] | None, within: float = 30.0) -> None:
        """Start the process and wait until ``/healthz`` answers 200."""
        with self.log_path.open("ab") as log:
            # The working directory is the run's own: no developer .env is read, and files the server
            # writes (its default SQLite journal, say) stay out of the checkout.
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, env=self.env, stdout=log, stderr=log, cwd=self.log_path.parent
            )
        if cpus:
            os.sched_setaffinity(self.proc.pid, cpus)
        self.log_path.with_suffix(".pid").write_text(f"{self.proc.pid}\n")  # for a profiler: py-spy --pid
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} did not serve /healthz within {within}s:\n{self.log_tail()}")

    async def stop(self, within: float = 30.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit ``within`` seconds."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), within)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        """The end of the process's log."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class MemorySampler:
    """Samples the RSS of the bot's processes every 100 ms while a step runs (the largest one's)."""

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin sampling."""
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(OSError):
                rss = max(proc_memory_mb(pid)["rss"] for pid in self._pids)
                self.samples.append((time.monotonic(), rss))
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class RedisServer:
    """A throwaway ``redis-server`` (no persistence) for split-mode steps, when no Redis URL is given."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self._workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, within: float = 10.0) -> None:
        """Start it and wait until it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("--workers needs Redis: install redis-server or pass --redis-url")
        self.proc = subprocess.Popen(  # noqa: S603 - a fixed argv
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self._workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING")

    def stop(self) -> None:
        """Stop it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


# ---------------------------------------------------------------------------------------- load


@dataclass(slots=True)
class Outbound:
    """One signed request, built before the step so the sender only sends."""

    kind: str  # "command" or "event"
    channel: str
    body: bytes
    headers: dict[str, str]


@dataclass(slots=True)
class Ack:
    """What came back for one request."""

    kind: str
    channel: str
    planned: float  # when the clock said to send it (time.monotonic)
    sent: float  # when it was sent
    ms: float  # ack latency, from send to the whole response read
    status: int  # 0: no HTTP response (timeout, connection error)
    accepted: bool  # 200 and, for a command, an empty body (a refusal is a 200 with a private message)
    error: str | None = None


@dataclass(frozen=True)
class LoadShape:
    """What the requests look like."""

    mention_share: float  # share of requests that are app_mention events (the rest are /orchestrate)
    users: int  # distinct user ids, round robin
    agent_prefix: bool  # "general: …" skips the routing call
    response_root: str


def build_request(index: int, prefix: str, shape: LoadShape) -> Outbound:
    """Request ``index`` of a step: its own channel (``{prefix}{index:07d}``), user ``index % users``."""
    channel = f"{prefix}{index:07d}"
    user = f"UB{index % shape.users:05d}"
    task = f"{'general: ' if shape.agent_prefix else ''}bench-{channel} {TASK}"
    is_event = int((index + 1) * shape.mention_share) > int(index * shape.mention_share)
    if is_event:
        ts = f"{1_700_000_000 + index}.000100"
        event = app_mention_event(text=f"<@UBOT> {task}", user=user, channel=channel, ts=ts)
        body = json.dumps(event_callback(event, event_id=f"Ev{prefix}{index:07d}")).encode()
        headers = {"Content-Type": "application/json", **sign_request(body, SIGNING_SECRET)}
        return Outbound("event", channel, body, headers)
    body = slash_command_form(
        text=task, user_id=user, user_name=user.lower(), channel_id=channel, response_url=shape.response_root + channel
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign_request(body, SIGNING_SECRET)}
    return Outbound("command", channel, body, headers)


async def send(session: aiohttp.ClientSession, url: str, out: Outbound, planned: float) -> Ack:
    """POST one request and time its ack."""
    sent = time.monotonic()
    try:
        async with session.post(url, data=out.body, headers=out.headers) as response:
            text = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        ms = (time.monotonic() - sent) * 1000
        return Ack(out.kind, out.channel, planned, sent, ms, 0, accepted=False, error=type(exc).__name__)
    ms = (time.monotonic() - sent) * 1000
    accepted = status == 200 and (out.kind == "event" or not text.strip())
    error = None if accepted else (f"HTTP {status}" if status != 200 else "refused")
    return Ack(out.kind, out.channel, planned, sent, ms, status, accepted, error)


async def drive_open_loop(
    session: aiohttp.ClientSession, url: str, requests: Sequence[Outbound], rate: float
) -> list[Ack]:
    """Send ``requests`` at ``rate`` per second on a fixed clock, each without waiting for the others."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    pending = []
    for index, out in enumerate(requests):
        planned = start + index / rate
        delay = planned - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(send(session, url, out, planned)))
    return list(await asyncio.gather(*pending))


async def drive_closed_loop(
    session: aiohttp.ClientSession,
    url: str,
    make: Callable[[int], Outbound],
    *,
    concurrency: int,
    duration: float,
) -> list[Ack]:
    """``concurrency`` senders, each sending its next request as soon as the last is acked, for ``duration``."""
    deadline = time.monotonic() + duration
    acks: list[Ack] = []
    counter = iter(range(10**9))

    async def worker() -> None:
        while time.monotonic() < deadline:
            out = make(next(counter))
            acks.append(await send(session, url, out, time.monotonic()))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return acks


# ---------------------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class StepPlan:
    """One load step: a fixed ``rate`` (open loop) or ``concurrency`` senders (closed loop)."""

    label: str
    duration: float
    latency: float
    rate: float | None = None
    concurrency: int | None = None

    @property
    def offered(self) -> str:
        """The offered load, for tables."""
        return f"{self.rate:g}" if self.rate is not None else f"max({self.concurrency})"


@dataclass
class StepResult:
    """The figures of one step against one server (orch-bot or the ceiling)."""

    target: str
    label: str
    offered: str
    rate: float | None
    duration: float
    bedrock_latency: float
    sent: int = 0
    accepted: int = 0
    achieved_rps: float = 0.0
    ack_p50_ms: float = 0.0
    ack_p99_ms: float = 0.0
    ack_max_ms: float = 0.0
    ack_errors: int = 0  # no response or non-2xx
    refused: int = 0  # 200 with a private refusal
    acks_over_3s: int = 0
    send_late_p99_ms: float = 0.0
    send_late_max_ms: float = 0.0
    completed: int = 0
    failed: int = 0  # a warning (error) message was posted
    unfinished: int = 0  # accepted but neither answered nor failed when the drain wait ended
    answered_without_ack: int = 0  # ran to an answer although its ack failed (late 404): Slack showed an error
    errors: int = 0  # ack_errors + refused + failed + unfinished
    offered_in_flight: float = 0.0  # rate x seconds a task spends at the fake model (Little's law)
    peak_in_flight: int = 0
    bedrock_calls: int = 0
    routing_calls: int = 0
    cpu_seconds: float = 0.0  # all of the bot's processes
    cpu_ms_per_task: float = 0.0  # per completed task (orch-bot) or per ack (ceiling)
    llm_client_cpu_seconds: float = 0.0  # the part of cpu_seconds the Bedrock client spent (the bot's own count)
    llm_client_cpu_ms_per_task: float = 0.0
    outside_llm_cpu_ms_per_task: float = 0.0  # cpu_ms_per_task without the Bedrock client's part
    ingress_cpu_seconds: float = 0.0  # the process that acks (the only one unless split)
    ingress_cpu_ms_per_task: float = 0.0
    redis_cpu_seconds: float = 0.0  # the benchmark's own redis-server in split mode (not in cpu_seconds)
    redis_cpu_ms_per_task: float = 0.0
    processes: int = 1
    total_peak_rss_mb: float = 0.0  # sum over the bot's processes of each one's peak
    rss_start_mb: float = 0.0
    peak_rss_mb: float = 0.0
    rss_at_peak_in_flight_mb: float = 0.0
    token_to_update_p50_ms: float = 0.0
    token_to_update_p99_ms: float = 0.0
    token_to_update_max_ms: float = 0.0
    task_p50_s: float = 0.0
    task_p99_s: float = 0.0
    drain_seconds: float = 0.0
    slack_calls_per_task: float = 0.0
    slack_calls_by_method: dict[str, int] = field(default_factory=dict)
    slack_not_ok: int = 0
    driver_cpu_seconds: float = 0.0
    fakes_cpu_seconds: float = 0.0
    other_cpu_seconds: float = 0.0  # machine CPU used by anything else meanwhile: other work disturbing the step
    quiet_wait_seconds: float = 0.0  # how long the step waited for the machine to be idle before starting
    step_seconds: float = 0.0  # wall time of the measured part (load and drain)
    error_kinds: dict[str, int] = field(default_factory=dict)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _summarise_acks(result: StepResult, acks: list[Ack]) -> None:
    result.sent = len(acks)
    result.accepted = sum(a.accepted for a in acks)
    answered = [a for a in acks if a.status]
    latencies = [a.ms for a in answered]
    result.ack_p50_ms = percentile(latencies, 50)
    result.ack_p99_ms = percentile(latencies, 99)
    result.ack_max_ms = max(latencies, default=0.0)
    result.acks_over_3s = sum(ms > SLACK_ACK_TIMEOUT * 1000 for ms in latencies)
    result.ack_errors = sum(1 for a in acks if not a.accepted and a.error != "refused")
    result.refused = sum(1 for a in acks if a.error == "refused")
    for ack in acks:
        if ack.error:
            result.error_kinds[ack.error] = result.error_kinds.get(ack.error, 0) + 1
    late = [(a.sent - a.planned) * 1000 for a in acks]
    result.send_late_p99_ms = percentile(late, 99)
    result.send_late_max_ms = max(late, default=0.0)
    if acks:
        window = max(a.sent + a.ms / 1000 for a in acks) - min(a.sent for a in acks)
        result.achieved_rps = sum(1 for a in answered if a.status < 300) / window if window > 0 else 0.0


async def wait_finished(fakes: Fakes, channels: list[str], within: float) -> float:
    """Wait until the tasks of ``channels`` finished (at most ``within`` s); return the seconds waited."""
    started = time.monotonic()
    await fakes.watch(channels)
    while time.monotonic() - started < within:
        if (await fakes.progress())["finished"] >= len(channels):
            break
        await asyncio.sleep(0.1)
    return time.monotonic() - started


@dataclass
class RunOptions:
    """Everything a run needs besides the step plans."""

    fakes_mode: str
    fake: FakeOptions  # latency is replaced per step
    shape_mention_share: float
    users: int
    agent_prefix: bool
    warmup: int
    drain_timeout: float
    log_level: str
    workdir: Path
    pin: bool
    quiet_wait: float = 0.0
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: int = 0  # 0: one `orch-bot serve`; N: `serve --ingress-only` and N `orch-bot worker`s on Redis
    redis_url: str = ""
    redis_pid: int | None = None  # the benchmark's own redis-server, whose CPU is then measured

    def server_cpus(self) -> set[int] | None:
        """CPUs for the server under test when pinning (the first one)."""
        return {0} if self.pin else None

    def harness_cpus(self) -> set[int] | None:
        """CPUs for the load generator and the fakes when pinning (all but the first)."""
        return set(range(1, os.cpu_count() or 1)) if self.pin else None


def _bot_env(urls: dict[str, str], options: RunOptions, *, store: Path) -> dict[str, str]:
    """The e2e tests' environment for the bot, with limits out of the way and the journal in ``store``."""
    settings = {
        "ORCH_RATE_LIMIT": "1000000/minute",
        "ORCH_MAX_TASKS_PER_USER": "5000",
        "ORCH_MAX_CONCURRENT_TASKS": "5000",
        "ORCH_LOG_LEVEL": options.log_level,
        "ORCH_STORE_URL": f"sqlite:///{store}",
        **options.extra_env,
    }
    if "store_url" in inspect.signature(bot_env).parameters:  # it picks a journal unless told which
        env = bot_env(
            slack_api_url=urls["slack_api_url"],
            bedrock_url=urls["bedrock_url"],
            store_url=settings["ORCH_STORE_URL"],
        )
    else:
        env = bot_env(slack_api_url=urls["slack_api_url"], bedrock_url=urls["bedrock_url"])
    env.update(settings)
    # The servers run in the work directory; the checkout stays importable (benchmarks.ceiling_app), after
    # any PYTHONPATH of the caller's (which lets another checkout of the bot be measured).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))
    return env


async def _drive(session: aiohttp.ClientSession, url: str, plan: StepPlan, shape: LoadShape) -> list[Ack]:
    if plan.rate is not None:
        count = max(1, round(plan.rate * plan.duration))
        requests = [build_request(i, STEP_PREFIX, shape) for i in range(count)]
        return await drive_open_loop(session, url, requests, plan.rate)
    return await drive_closed_loop(
        session,
        url,
        lambda i: build_request(i, STEP_PREFIX, shape),
        concurrency=plan.concurrency or 1,
        duration=plan.duration,
    )


def _server(target: str, plan: StepPlan, options: RunOptions, urls: dict[str, str]) -> Server:
    """The server under test for one step: ``orch-bot serve`` or the ceiling app, on a free port."""
    port = free_port()
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", plan.label)
    env = _bot_env(urls, options, store=options.workdir / f"{target}-{slug}.db")
    if options.workers and target == "orch-bot":
        env.update(ORCH_STORE_URL=options.redis_url, ORCH_REDIS_PREFIX=f"bench-{slug}-{os.getpid()}:")
    if target == "orch-bot":
        argv = [str(ORCH_BOT), "serve", "--host", "127.0.0.1", "--port", str(port)]
        if options.workers:
            argv.append("--ingress-only")
    else:
        argv = [sys.executable, "-m", "benchmarks.ceiling_app", "--host", "127.0.0.1", "--port", str(port)]
    return Server(target, argv, env, options.workdir / f"{target}-{slug}.log", port)


def _workers(plan: StepPlan, options: RunOptions, front: Server) -> list[Server]:
    """``orch-bot worker`` processes for a split step, on the ingress's Redis; each serves /healthz."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", plan.label)
    workers = []
    for index in range(options.workers):
        port = free_port()
        env = {**front.env, "ORCH_METRICS_PORT": str(port)}
        log_path = options.workdir / f"worker{index + 1}-{slug}.log"
        workers.append(Server(f"worker{index + 1}", [str(ORCH_BOT), "worker"], env, log_path, port))
    return workers


LLM_CLIENT_CPU = "orch_bedrock_client_cpu_seconds_total"


async def llm_client_cpu_seconds(session: aiohttp.ClientSession, bots: list[Server]) -> float:
    """The CPU the bot's processes say their Bedrock client spent so far (``/metrics``, summed over models)."""
    total = 0.0
    for bot in bots:
        async with session.get(bot.metrics_url) as response:
            response.raise_for_status()
            text = await response.text()
        for line in text.splitlines():
            name, _, rest = line.partition("{")
            if name == LLM_CLIENT_CPU:
                total += float(rest.rpartition(" ")[2])
    return total


class Meter:
    """CPU and memory of the bot's processes (and the benchmark's Redis) from now until :meth:`read`.

    With ``llm_client_cpu`` (the bot's reading at the start, see :func:`llm_client_cpu_seconds`), :meth:`read`
    also needs the reading at the end, to tell the Bedrock client's CPU from the rest.
    """

    def __init__(self, bots: list[Server], *, redis_pid: int | None, llm_client_cpu: float | None = None) -> None:
        self._bots = bots
        self._redis_pid = redis_pid
        self._llm_client_cpu = llm_client_cpu
        self._cpu = {bot.pid: proc_cpu_seconds(bot.pid) for bot in bots}
        self._redis = proc_cpu_seconds(redis_pid) if redis_pid else 0.0
        self._driver = _cpu_self()
        self._busy = machine_busy_seconds()
        self._started = time.monotonic()

    def read(self, result: StepResult, *, llm_client_cpu: float | None = None) -> float:
        """Fill in ``result``'s CPU, time and peak-memory figures; return the machine's busy CPU seconds."""
        spent = {bot.pid: proc_cpu_seconds(bot.pid) - self._cpu[bot.pid] for bot in self._bots}
        if self._llm_client_cpu is not None and llm_client_cpu is not None:
            result.llm_client_cpu_seconds = llm_client_cpu - self._llm_client_cpu
        result.cpu_seconds = sum(spent.values())
        result.ingress_cpu_seconds = spent[self._bots[0].pid]
        result.redis_cpu_seconds = proc_cpu_seconds(self._redis_pid) - self._redis if self._redis_pid else 0.0
        result.driver_cpu_seconds = _cpu_self() - self._driver
        busy = machine_busy_seconds() - self._busy
        result.step_seconds = time.monotonic() - self._started
        peaks = [proc_memory_mb(bot.pid)["hwm"] for bot in self._bots]
        result.peak_rss_mb = max(peaks)
        result.total_peak_rss_mb = sum(peaks)
        return busy


async def run_step(session: aiohttp.ClientSession, plan: StepPlan, options: RunOptions, *, target: str) -> StepResult:
    """One step against a fresh ``orch-bot`` (``target="orch-bot"``) or ceiling app (``"ceiling"``)."""
    fake_options = FakeOptions(
        latency=plan.latency,
        chunk_delay=options.fake.chunk_delay,
        chunk_size=options.fake.chunk_size,
        answer_chars=options.fake.answer_chars,
    )
    quiet_wait = await wait_for_quiet(options.quiet_wait) if options.quiet_wait else 0.0
    fakes = await open_fakes(options.fakes_mode, fake_options, cpus=options.harness_cpus())
    server = _server(target, plan, options, fakes.urls)
    shape = LoadShape(options.shape_mention_share, options.users, options.agent_prefix, fakes.urls["response_root"])
    result = StepResult(target, plan.label, plan.offered, plan.rate, plan.duration, plan.latency)
    result.quiet_wait_seconds = quiet_wait
    if plan.rate is not None:  # unknown for a closed loop
        result.offered_in_flight = plan.rate * (plan.latency + fake_options.stream_seconds)
    workers = _workers(plan, options, server) if options.workers and target == "orch-bot" else []
    bots = [server, *workers]
    result.processes = len(bots)
    try:
        await asyncio.gather(*(bot.start(session, cpus=options.server_cpus()) for bot in bots))
        warm = [build_request(i, WARMUP_PREFIX, shape) for i in range(options.warmup)]
        warm_acks = await drive_open_loop(session, server.url, warm, rate=20)
        if target == "orch-bot":
            await wait_finished(fakes, [a.channel for a in warm_acks if a.accepted], plan.latency + 30)
        await fakes.mark()
        llm_cpu_start = await llm_client_cpu_seconds(session, bots) if target == "orch-bot" else None
        meter = Meter(bots, redis_pid=options.redis_pid if workers else None, llm_client_cpu=llm_cpu_start)
        result.rss_start_mb = max(proc_memory_mb(bot.pid)["rss"] for bot in bots)
        sampler = MemorySampler([bot.pid for bot in bots])
        sampler.start()
        acks = await _drive(session, server.url, plan, shape)
        _summarise_acks(result, acks)
        if target == "orch-bot":
            budget = plan.latency + fake_options.stream_seconds + options.drain_timeout
            accepted = [a.channel for a in acks if a.accepted]
            result.drain_seconds = await wait_finished(fakes, accepted, budget)
        llm_cpu_end = await llm_client_cpu_seconds(session, bots) if target == "orch-bot" else None
        busy = meter.read(result, llm_client_cpu=llm_cpu_end)
        await sampler.stop()
        report = await fakes.report(STEP_PREFIX)
        _summarise_tasks(result, acks, report, sampler.samples, fakes_in_process=options.fakes_mode == "inproc")
        ours = result.cpu_seconds + result.driver_cpu_seconds + result.fakes_cpu_seconds + result.redis_cpu_seconds
        result.other_cpu_seconds = max(0.0, busy - ours)
    finally:
        await asyncio.gather(*(bot.stop() for bot in bots))
        await fakes.close()
        if workers:
            await delete_prefix(options.redis_url, server.env["ORCH_REDIS_PREFIX"])  # a shared Redis is left as found
    return result


def _summarise_tasks(
    result: StepResult,
    acks: list[Ack],
    report: dict[str, Any],
    rss_samples: list[tuple[float, float]],
    *,
    fakes_in_process: bool,
) -> None:
    accepted = {a.channel: a for a in acks if a.accepted}
    done = {c: t for c, t in report["done_at"].items() if c in accepted}
    failed = {c for c in report["failed_at"] if c in accepted}
    result.fakes_cpu_seconds = 0.0 if fakes_in_process else report["cpu_seconds"]
    if result.target == "ceiling":
        result.cpu_ms_per_task = result.cpu_seconds * 1000 / result.accepted if result.accepted else 0.0
        result.errors = result.ack_errors + result.refused
        return
    result.completed = len(done)
    result.failed = len(failed)
    result.unfinished = len(accepted) - len(done) - len(failed)
    result.errors = result.ack_errors + result.refused + result.failed + result.unfinished
    for kind, count in (("task failed", result.failed), ("unfinished", result.unfinished)):
        if count:
            result.error_kinds[kind] = count
    result.peak_in_flight = report["peak_in_flight"]
    result.bedrock_calls = report["answer_calls"]
    result.routing_calls = report["routing_calls"]
    # A command whose ack came too late (Bolt answers 404 after 3 s) may still run: its CPU is in the figure,
    # so it counts among the tasks the CPU is shared by, and is reported apart.
    ran = set(report["done_at"]) | set(report["failed_at"])
    result.answered_without_ack = len(ran - set(accepted))
    tasks_run = len(ran)
    result.cpu_ms_per_task = result.cpu_seconds * 1000 / tasks_run if tasks_run else 0.0
    result.ingress_cpu_ms_per_task = result.ingress_cpu_seconds * 1000 / tasks_run if tasks_run else 0.0
    result.llm_client_cpu_ms_per_task = result.llm_client_cpu_seconds * 1000 / tasks_run if tasks_run else 0.0
    result.outside_llm_cpu_ms_per_task = result.cpu_ms_per_task - result.llm_client_cpu_ms_per_task
    result.redis_cpu_ms_per_task = result.redis_cpu_seconds * 1000 / tasks_run if tasks_run else 0.0
    delays = report["token_to_update_ms"]
    result.token_to_update_p50_ms = percentile(delays, 50)
    result.token_to_update_p99_ms = percentile(delays, 99)
    result.token_to_update_max_ms = max(delays, default=0.0)
    task_seconds = [t - accepted[c].sent for c, t in done.items()]
    result.task_p50_s = percentile(task_seconds, 50)
    result.task_p99_s = percentile(task_seconds, 99)
    calls = sum(report["slack_calls"].values())
    result.slack_calls_per_task = calls / tasks_run if tasks_run else 0.0
    result.slack_calls_by_method = dict(sorted(report["slack_calls"].items()))
    result.slack_not_ok = report["slack_not_ok"]
    timeline = report["in_flight_timeline"]
    if timeline and rss_samples:
        peak_at = max(timeline, key=lambda sample: sample[1])[0]
        result.rss_at_peak_in_flight_mb = min(rss_samples, key=lambda sample: abs(sample[0] - peak_at))[1]


# ---------------------------------------------------------------------------------------- output


Column = tuple[str, "Callable[[StepResult], str]"]


def _ms(value: float) -> str:
    return f"{value:.1f}"


# What every server is measured on: the load it got and how fast it acked.
_ACK_COLUMNS: list[Column] = [
    ("step", lambda r: r.label),
    ("offered/s", lambda r: r.offered),
    ("achieved/s", lambda r: f"{r.achieved_rps:.1f}"),
    ("sent", lambda r: str(r.sent)),
    ("ack p50 ms", lambda r: _ms(r.ack_p50_ms)),
    ("ack p99 ms", lambda r: _ms(r.ack_p99_ms)),
    ("ack max ms", lambda r: _ms(r.ack_max_ms)),
]

BOT_COLUMNS: list[Column] = [
    *_ACK_COLUMNS,
    ("completed", lambda r: str(r.completed)),
    ("errors", lambda r: str(r.errors)),
    ("peak in-flight", lambda r: str(r.peak_in_flight)),
    ("procs", lambda r: str(r.processes)),
    ("CPU ms/task", lambda r: f"{r.cpu_ms_per_task:.2f}"),
    ("Bedrock client CPU ms/task", lambda r: f"{r.llm_client_cpu_ms_per_task:.2f}"),
    ("outside-LLM CPU ms/task", lambda r: f"{r.outside_llm_cpu_ms_per_task:.2f}"),
    ("ingress CPU ms/task", lambda r: f"{r.ingress_cpu_ms_per_task:.2f}"),
    ("redis CPU ms/task", lambda r: f"{r.redis_cpu_ms_per_task:.2f}"),
    ("peak RSS MB", lambda r: f"{r.peak_rss_mb:.0f}"),
    ("tok->Slack p50 ms", lambda r: _ms(r.token_to_update_p50_ms)),
    ("tok->Slack p99 ms", lambda r: _ms(r.token_to_update_p99_ms)),
    ("task p50 s", lambda r: f"{r.task_p50_s:.2f}"),
    ("send late p99 ms", lambda r: _ms(r.send_late_p99_ms)),
    ("other CPU s", lambda r: f"{r.other_cpu_seconds:.1f}"),
]

CEILING_COLUMNS: list[Column] = [
    *_ACK_COLUMNS,
    ("errors", lambda r: str(r.errors)),
    ("CPU ms/ack", lambda r: f"{r.cpu_ms_per_task:.2f}"),
    ("peak RSS MB", lambda r: f"{r.peak_rss_mb:.0f}"),
    ("send late p99 ms", lambda r: _ms(r.send_late_p99_ms)),
    ("other CPU s", lambda r: f"{r.other_cpu_seconds:.1f}"),
]


def format_table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with right-aligned columns."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = [f"== {title} =="]
    lines.append("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    lines.extend("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(lines)


def results_table(title: str, columns: list[Column], results: list[StepResult]) -> str:
    """The table of ``results`` with ``columns``."""
    return format_table(title, [c[0] for c in columns], [[c[1](r) for c in columns] for r in results])


def ratios(bot: list[StepResult], ceiling: list[StepResult]) -> list[dict[str, Any]]:
    """Our achieved throughput and ack latency as multiples of the ceiling's, step by step."""
    by_label = {r.label: r for r in ceiling}
    rows = []
    for ours in bot:
        base = by_label.get(ours.label)
        if base is None:
            continue
        rows.append(
            {
                "label": ours.label,
                "throughput": _ratio(ours.achieved_rps, base.achieved_rps),
                "ack_p50": _ratio(ours.ack_p50_ms, base.ack_p50_ms),
                "ack_p99": _ratio(ours.ack_p99_ms, base.ack_p99_ms),
                "cpu_per_request": _ratio(ours.cpu_ms_per_task, base.cpu_ms_per_task),
            }
        )
    return rows


def _ratio(ours: float, base: float) -> float | None:
    return ours / base if base else None


def ratio_table(rows: list[dict[str, Any]]) -> str:
    """The ratios as a table (``x`` = times the ceiling's figure)."""

    def cell(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}x"

    headers = ["step", "throughput", "ack p50", "ack p99", "CPU per request"]
    keys = ["throughput", "ack_p50", "ack_p99", "cpu_per_request"]
    return format_table(RATIO_TITLE, headers, [[row["label"], *(cell(row[k]) for k in keys)] for row in rows])


def evaluate_targets(results: list[StepResult]) -> list[dict[str, Any]]:
    """The design targets, each checked on the steps where its condition holds (the worst of them counts).

    A step "holds 500 tasks on Bedrock" when its offered load does (rate x time a task spends at the fake
    model >= 500); the in-flight peak it actually reached is shown beside it.
    """
    loaded = [r for r in results if r.offered_in_flight >= 500]
    with_tasks = [r for r in results if r.completed]
    specs: list[tuple[str, list[StepResult], Callable[[StepResult], float], float, bool]] = [
        (
            "ack p99 <= 50 ms at >= 100 req/s with >= 500 tasks on Bedrock",
            [r for r in loaded if r.rate is not None and r.rate >= 100],
            lambda r: r.ack_p99_ms,
            50,
            True,
        ),
        (">= 500 concurrent Bedrock calls", loaded, lambda r: r.peak_in_flight, 500, False),
        (
            "<= 5 ms bot CPU per task outside the LLM (the Bedrock client's own CPU excluded)",
            with_tasks,
            lambda r: r.outside_llm_cpu_ms_per_task,
            5,
            True,
        ),
        ("(for reference) bot CPU per task, all of it, <= 5 ms", with_tasks, lambda r: r.cpu_ms_per_task, 5, True),
        ("<= 200 MB RSS at >= 500 in flight", loaded, lambda r: r.peak_rss_mb, 200, True),
        (
            "first streamed text in Slack <= 300 ms after Bedrock's first token (p99)",
            with_tasks,
            lambda r: r.token_to_update_p99_ms,
            300,
            True,
        ),
    ]
    checks: list[dict[str, Any]] = []
    for name, steps, value, limit, at_most in specs:
        if not steps:
            checks.append({"target": name, "measured": None, "met": None, "steps": []})
            continue
        # The highest value is the worst step for a ceiling ("at most") and the capacity shown for an "at least".
        chosen = max(steps, key=value)
        measured = value(chosen)
        met = measured <= limit if at_most else measured >= limit
        where = [f"{s.label}: {value(s):.1f} (peak in-flight {s.peak_in_flight})" for s in steps]
        checks.append({"target": name, "measured": round(measured, 2), "met": met, "steps": where})
    return checks


def targets_text(checks: list[dict[str, Any]]) -> str:
    """The target checks as lines."""
    lines = [f"== {TARGET_TITLE} =="]
    for check in checks:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[check["met"]]
        lines.append(f"  {check['target']}: {check['measured']} -> {verdict}")
        lines.extend(f"      {where}" for where in check["steps"])
    return "\n".join(lines)


def _code_version() -> str:
    """The checkout measured: commit, and whether the work tree had changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}{' + uncommitted changes' if dirty else ''}"


def describe_machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    memory_gb = 0.0
    with contextlib.suppress(OSError, ValueError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory_gb = int(first.split()[1]) / 1024 / 1024
    return {
        "code": _code_version(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_gb, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------------------------------- CLI


def add_fake_model_options(parser: argparse.ArgumentParser) -> None:
    """The fake model's options (latency and streaming speed), shared with :mod:`benchmarks.floor`."""
    parser.add_argument("--bedrock-latency", type=float, default=2.0, help="seconds before the fake's first token")
    parser.add_argument("--chunk-delay", type=float, default=0.04, help="seconds between streamed deltas")
    parser.add_argument("--chunk-size", type=int, default=32, help="characters per streamed delta")
    parser.add_argument("--answer-chars", type=int, default=800, help="characters in each answer")


def fake_options(args: argparse.Namespace) -> FakeOptions:
    """The :class:`FakeOptions` given by :func:`add_fake_model_options`' arguments."""
    return FakeOptions(args.bedrock_latency, args.chunk_delay, args.chunk_size, args.answer_chars)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load", description="Load benchmark of orch-bot (HTTP mode) against the fakes."
    )
    parser.add_argument("--rates", default="10,50,100,200", help="requests per second, one step each")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per step")
    add_fake_model_options(parser)
    parser.add_argument(
        "--target-step",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add a step at 100 req/s with Bedrock latency 5 s, so >= 500 tasks wait on Bedrock (default on)",
    )
    parser.add_argument(
        "--max-concurrency", type=int, default=0, help="add a closed-loop step with N senders (0: none)"
    )
    parser.add_argument("--mention-share", type=float, default=0.2, help="share of requests that are @mentions")
    parser.add_argument("--users", type=int, default=1000, help="distinct user ids, round robin")
    parser.add_argument(
        "--agent-prefix",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="start tasks with 'general:' so no routing call is made (default on)",
    )
    parser.add_argument("--warmup", type=int, default=10, help="tasks sent (and finished) before each step")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="extra seconds to wait for tasks")
    parser.add_argument("--log-level", default="warning", help="the bot's ORCH_LOG_LEVEL")
    parser.add_argument("--fakes", choices=["process", "inproc"], default="process", help="where the fakes run")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="pin the server to CPU 0 and the load generator and fakes to the others",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=60.0, help="seconds to wait for an idle machine before each step"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="0: one `orch-bot serve`; N: `serve --ingress-only` plus N `orch-bot worker` processes on Redis",
    )
    parser.add_argument(
        "--redis-url", default="", help="Redis for --workers (default: start a throwaway redis-server and measure it)"
    )
    parser.add_argument("--ceiling", action=argparse.BooleanOptionalAction, default=True, help="measure the ceiling")
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run benchmarks.floor (the clients alone) at each step's rate; off with --smoke",
    )
    parser.add_argument("--smoke", action="store_true", help="one short step for CI (< 30 s)")
    parser.add_argument("--json", type=Path, help="write machine-readable results here")
    parser.add_argument("--workdir", type=Path, help="where server logs go (default: a temporary directory)")
    parser.add_argument("--serve-fakes", help=argparse.SUPPRESS)  # the helper process (JSON FakeOptions)
    return parser.parse_args(argv)


def plan_steps(args: argparse.Namespace) -> list[StepPlan]:
    """The steps of this run."""
    if args.smoke:
        return [StepPlan("smoke-20/s", duration=2.0, latency=0.2, rate=20)]
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    steps = [StepPlan(f"{r:g}/s", duration=args.duration, latency=args.bedrock_latency, rate=r) for r in rates]
    if args.target_step:
        steps.append(StepPlan("100/s@5s", duration=args.duration, latency=5.0, rate=100))
    if args.max_concurrency:
        steps.append(
            StepPlan(
                f"max{args.max_concurrency}",
                duration=args.duration,
                latency=args.bedrock_latency,
                concurrency=args.max_concurrency,
            )
        )
    return steps


async def run_floor(plan: StepPlan, options: RunOptions) -> dict[str, Any]:
    """``benchmarks.floor`` at ``plan``'s rate, with the store of this run's topology (its own process)."""
    assert plan.rate is not None
    if options.quiet_wait:
        await wait_for_quiet(options.quiet_wait)
    out = options.workdir / f"floor-{re.sub(r'[^0-9a-z]+', '_', plan.label)}.json"
    fake = options.fake
    argv = [
        sys.executable, "-m", "benchmarks.floor",
        "--rate", f"{plan.rate:g}", "--duration", f"{plan.duration:g}", "--bedrock-latency", f"{plan.latency:g}",
        "--chunk-delay", f"{fake.chunk_delay:g}", "--chunk-size", str(fake.chunk_size),
        "--answer-chars", str(fake.answer_chars), "--json", str(out),
    ]  # fmt: skip
    argv += ["--store", "redis", "--redis-url", options.redis_url] if options.workers else ["--store", "sqlite"]
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"benchmarks.floor failed: {stderr.decode(errors='replace')[-2000:]}")
    return dict(json.loads(out.read_text())["floor"])


async def run_floors(steps: list[StepPlan], options: RunOptions) -> dict[str, dict[str, Any]]:
    """The floor for every fixed-rate step, by step label."""
    found: dict[str, dict[str, Any]] = {}
    for plan in steps:
        if plan.rate is not None:
            _progress(f"floor: step {plan.label}…")
            found[plan.label] = await run_floor(plan, options)
    return found


FLOOR_TABLE_TITLE = "vendor floor: the clients alone at the same rates (benchmarks.floor), and orch-bot against it"


def floor_table(bot: list[StepResult], ceiling: list[StepResult], floor: dict[str, dict[str, Any]]) -> str:
    """The floor per step, and orch-bot's CPU outside the LLM against the floor plus the ceiling's ack."""
    acks = {r.label: r.cpu_ms_per_task for r in ceiling}
    headers = [
        "step", "floor CPU ms/task", "Bedrock", "slack_sdk", "store", "unclocked", "floor outside-LLM",
        "+ ack (ceiling)", "orch-bot outside-LLM", "orch-bot / (floor + ack)",
    ]  # fmt: skip
    rows = []
    for result in bot:
        found = floor.get(result.label)
        if found is None:
            continue
        ack = acks.get(result.label)
        base = found["outside_llm_ms_per_task"] + (ack or 0.0)
        rows.append(
            [
                result.label,
                f"{found['cpu_ms_per_task']:.2f}",
                f"{found['bedrock_client_ms_per_task']:.2f}",
                f"{found['slack_client_ms_per_task']:.2f}",
                f"{found['store_client_ms_per_task']:.2f} ({found['store']})",
                f"{found['unclocked_ms_per_task']:.2f}",
                f"{found['outside_llm_ms_per_task']:.2f}",
                f"{ack:.2f}" if ack is not None else "-",
                f"{result.outside_llm_cpu_ms_per_task:.2f}",
                f"{result.outside_llm_cpu_ms_per_task / base:.2f}x" if ack is not None and base else "-",
            ]
        )
    return format_table(FLOOR_TABLE_TITLE, headers, rows)


def _topology(options: RunOptions) -> str:
    if not options.workers:
        return "one `orch-bot serve` process (SQLite journal)"
    return f"`orch-bot serve --ingress-only` + {options.workers} `orch-bot worker` on Redis"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every step against orch-bot, then the ceiling; print the tables; return the results."""
    steps = plan_steps(args)
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="orch-bench-")))
        workdir.mkdir(parents=True, exist_ok=True)
        options = RunOptions(
            fakes_mode=args.fakes,
            fake=fake_options(args),
            shape_mention_share=args.mention_share,
            users=args.users,
            agent_prefix=args.agent_prefix,
            warmup=4 if args.smoke else args.warmup,
            drain_timeout=10.0 if args.smoke else args.drain_timeout,
            log_level=args.log_level,
            workdir=workdir,
            pin=args.pin and (os.cpu_count() or 1) >= 2,
            quiet_wait=0.0 if args.smoke else args.quiet_wait,
            workers=max(0, args.workers),
            redis_url=args.redis_url,
        )
        if options.workers and not options.redis_url:
            redis = RedisServer(workdir)
            redis.start()
            stack.callback(redis.stop)
            options.redis_url, options.redis_pid = redis.url, redis.proc.pid if redis.proc else None
        if options.pin:
            os.sched_setaffinity(0, options.harness_cpus() or set())
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
        bot: list[StepResult] = []
        ceiling: list[StepResult] = []
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            for plan in steps:
                _progress(f"orch-bot: step {plan.label} ({plan.duration:g} s, Bedrock latency {plan.latency:g} s)…")
                bot.append(await run_step(session, plan, options, target="orch-bot"))
            if args.ceiling:
                for plan in steps:
                    _progress(f"ceiling: step {plan.label}…")
                    ceiling.append(await run_step(session, plan, options, target="ceiling"))
        floor = await run_floors(steps, options) if args.floor and not args.smoke else {}
    machine = describe_machine()
    checks = evaluate_targets(bot)
    ratio_rows = ratios(bot, ceiling)
    print(
        f"machine: {machine['cpus']} CPU ({machine['cpu_model']}), {machine['memory_gb']} GB, "
        f"Python {machine['python']}; code {machine['code']}; fakes: {args.fakes}; pinned: {options.pin}; "
        f"bot log level: {args.log_level}; {'general: prefix' if args.agent_prefix else 'no agent prefix'}; "
        f"topology: {_topology(options)}"
    )
    print(results_table(TABLE_TITLE, BOT_COLUMNS, bot))
    if ceiling:
        print(results_table(CEILING_TITLE, CEILING_COLUMNS, ceiling))
        print(ratio_table(ratio_rows))
    if floor:
        print(floor_table(bot, ceiling, floor))
    print(targets_text(checks))
    return {
        "machine": machine,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "serve_fakes"},
        "bot": [asdict(r) for r in bot],
        "ceiling": [asdict(r) for r in ceiling],
        "ratios": ratio_rows,
        "floor": floor,
        "targets": checks,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    args = _parse_args(argv)
    if args.serve_fakes:
        asyncio.run(serve_fakes(FakeOptions(**json.loads(args.serve_fakes))))
        return 0
    results = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
