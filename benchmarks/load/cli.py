"""The command line: options, the steps they plan, and the run that prints the tables."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from benchmarks.load.fakes import FakeOptions
from benchmarks.load.fakes_process import serve_fakes
from benchmarks.load.metering import wait_for_quiet
from benchmarks.load.results import (
    BOT_COLUMNS,
    CEILING_COLUMNS,
    CEILING_TITLE,
    TABLE_TITLE,
    StepResult,
    describe_machine,
    evaluate_targets,
    floor_table,
    ratio_table,
    ratios,
    results_table,
    targets_text,
)
from benchmarks.load.servers import ROOT, RedisServer
from benchmarks.load.steps import RunOptions, StepPlan, run_step

if TYPE_CHECKING:
    from collections.abc import Sequence

CLIENT_TIMEOUT = 10.0


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
