"""One step: fresh fakes and a fresh server, a warm-up, the load, the drain, and the step's figures."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.testing.redis_keys import delete_prefix
from benchmarks.load.fakes import FakeOptions
from benchmarks.load.fakes_process import open_fakes
from benchmarks.load.metering import MemorySampler, Meter, llm_client_cpu_seconds, proc_memory_mb, wait_for_quiet
from benchmarks.load.results import StepResult, percentile
from benchmarks.load.servers import ROOT, Server
from benchmarks.load.traffic import Ack, LoadShape, build_request, drive_closed_loop, drive_open_loop
from bot.testing.environment import ORCH_BOT, bot_env, free_port

if TYPE_CHECKING:
    from pathlib import Path

    import aiohttp

    from benchmarks.load.fakes_process import Fakes

STEP_PREFIX = "CS"  # channel ids of measured tasks
WARMUP_PREFIX = "CW"  # channel ids of warm-up tasks
SLACK_ACK_TIMEOUT = 3.0  # Slack shows the user an error when an ack takes longer


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
    # From the moment the ack was read (the sender's clock; the fakes' is the same machine's monotonic clock).
    seen = report.get("first_visible_at", {})
    visible = [(seen[c] - (a.sent + a.ms / 1000)) * 1000 for c, a in accepted.items() if c in seen]
    result.ack_to_visible_p50_ms = percentile(visible, 50)
    result.ack_to_visible_p95_ms = percentile(visible, 95)
    result.ack_to_visible_p99_ms = percentile(visible, 99)
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
