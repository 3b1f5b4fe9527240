"""The vendor floor: what the clients alone cost per task, with none of orch-bot's code around them.

``python -m benchmarks.floor [--rate 50] [--duration 10] [--store redis|sqlite] [--redis-url URL] [--json PATH]
[--smoke]``

A task here makes the calls a worker makes for one ``/orchestrate`` task, straight through the same client
libraries and against the same fakes as :mod:`benchmarks.load`:

* Slack (slack_sdk ``AsyncWebClient`` on one aiohttp session): ``chat.postMessage`` (the parent message),
  ``chat.startStream`` at the first delta, ``chat.appendStream`` every 0.5 s, ``chat.stopStream``;
* Bedrock (aiobotocore, the bot's own client settings): one ``ConverseStream``, read to its end;
* the store, as the split topology uses it (``--store redis``, the default; redis-py with hiredis and the
  bot's pool): the accept (journal record and queue entry in one transaction), the worker's read of the
  record, its whole first write and its changed-fields last write, and the queue ack. Not here: the per-user
  rate limit's script, and the queue reads (one ``XREADGROUP`` serves many tasks under load). Or as one
  process uses it (``--store sqlite``): the journal's three writes (accept, running, done) through aiosqlite.

It runs them at a fixed rate for a while and divides this process's CPU by the tasks, and it clocks each
client's own steps with :class:`agents.cputime.CpuClock`; what no clock covers is the event loop and its
socket callbacks. Acknowledging the request is not here: :mod:`benchmarks.load`'s ceiling app (bare Bolt)
measures that. docs/performance.md compares the two with the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from agents.assembly import shared_redis
from agents.cputime import CpuClock
from agents.journal import TaskRecord
from agents.llm import bedrock_client
from agents.settings import DEFAULT_MODEL_ID
from agents.stores import SqliteJournal
from agents.testing.redis_keys import delete_prefix
from benchmarks.load import (
    FakeOptions,
    RedisServer,
    add_fake_model_options,
    describe_machine,
    fake_options,
    open_fakes,
)
from bot.cli import event_loop_factory
from bot.testing.environment import BOT_TOKEN

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from redis.asyncio import Redis
    from types_aiobotocore_bedrock_runtime import BedrockRuntimeClient

QUESTION = "why do ALB 502s happen right after a deploy, and what should we check first?"
FLOOR_TITLE = "vendor floor: the clients alone, per task (ms of CPU)"
FLUSH_INTERVAL = 0.5  # seconds between chat.appendStream calls, as bot.delivery


@dataclass
class Clients:
    """The three clients and a clock for each."""

    slack: AsyncWebClient
    bedrock: BedrockRuntimeClient
    store: Store
    slack_clock: CpuClock
    bedrock_clock: CpuClock


@dataclass
class FloorResult:
    """The figures of one run."""

    rate: float
    duration: float
    tasks: int
    cpu_ms_per_task: float
    bedrock_client_ms_per_task: float
    slack_client_ms_per_task: float
    store: str
    store_client_ms_per_task: float
    unclocked_ms_per_task: float
    outside_llm_ms_per_task: float
    slack_calls_per_task: float


class Store(Protocol):
    """The store calls around one task, clocked."""

    clock: CpuClock

    async def before(self, request_id: str) -> None:
        """Accept the task, and (worker) read and mark it running."""

    async def after(self, request_id: str) -> None:
        """Record the outcome (and ack the queue)."""


class RedisStore:
    """The split topology's Redis commands for one task, as the bot sends them."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.stream = f"{prefix}tasks"
        self.clock = CpuClock()

    def _stage(self, pipe: Any, request_id: str, record: dict[str, str]) -> None:
        key = f"{self.prefix}task:{request_id}"
        pipe.hset(key, mapping=record)
        pipe.expire(key, 3600)
        pipe.zadd(f"{self.prefix}ws:T1", {request_id: 1000.0})
        pipe.zadd(f"{self.prefix}user:T1:U1", {request_id: 1000.0})
        pipe.sadd(f"{self.prefix}unfinished", request_id)

    async def before(self, request_id: str) -> None:
        """The ingress's accept (record and queue entry, one transaction); the worker's read and first write."""
        record = {f"field{i}": f"value-{i}-{request_id}" for i in range(14)}
        pipe = self.redis.pipeline(transaction=True)
        self._stage(pipe, request_id, record)
        pipe.xadd(self.stream, {"request_id": request_id})
        await self.clock.run(pipe.execute())
        await self.clock.run(self.redis.hgetall(f"{self.prefix}task:{request_id}"))
        pipe = self.redis.pipeline(transaction=True)  # the run's first write: the whole record, now running
        self._stage(pipe, request_id, {**record, "status": "running"})
        await self.clock.run(pipe.execute())

    async def after(self, request_id: str) -> None:
        """The run's last journal write (changed fields only), then the queue ack."""
        key = f"{self.prefix}task:{request_id}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, mapping={"status": "succeeded", "seconds": "3.0", "output_tokens": "200"})
        pipe.expire(key, 3600)
        pipe.srem(f"{self.prefix}unfinished", request_id)
        await self.clock.run(pipe.execute())
        await self.clock.run(self.redis.xack(self.stream, "floor", "0-1"))


class SqliteStore:
    """One process's journal writes for one task: accept, running, done (SQLite in WAL mode via aiosqlite)."""

    def __init__(self, journal: SqliteJournal) -> None:
        self.journal = journal
        self.clock = CpuClock()

    @staticmethod
    def _record(request_id: str, status: str) -> TaskRecord:
        return TaskRecord(
            request_id=request_id,
            workspace_id="T1",
            user_id="U1",
            text=QUESTION,
            started_at=time.time(),
            status=status,
            channel_id="C1",
            task_json="{}",
            target="{}",
        )

    async def before(self, request_id: str) -> None:
        """The accept write, then the run's first write."""
        await self.clock.run(self.journal.put(self._record(request_id, "queued")))
        await self.clock.run(self.journal.put(self._record(request_id, "running")))

    async def after(self, request_id: str) -> None:
        """The run's last write."""
        await self.clock.run(self.journal.put(self._record(request_id, "succeeded")))


async def one_task(c: Clients, index: int) -> int:
    """One task's client calls; returns how many Slack calls it made."""
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    channel = f"CF{index:07d}"
    await c.store.before(request_id)
    parent = await c.slack_clock.run(
        c.slack.chat_postMessage(
            channel=channel,
            text=f"<@U1> asked: {QUESTION}",
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": f"<@U1> asked:\n>{QUESTION}"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Answer in the thread · `{request_id}`"}]},
            ],
        )
    )
    calls = 1
    thread_ts = str(parent["ts"])
    response = await c.bedrock_clock.run(
        c.bedrock.converse_stream(
            modelId=DEFAULT_MODEL_ID,
            system=[{"text": "You are an SRE assistant. Be brief."}],
            messages=[{"role": "user", "content": [{"text": QUESTION}]}],
            inferenceConfig={"maxTokens": 2048, "temperature": 0.2},
        )
    )
    events = aiter(response["stream"])
    ts: str | None = None
    pending = ""
    last_flush = 0.0
    while (event := await c.bedrock_clock.run(anext(events, None))) is not None:
        text = event.get("contentBlockDelta", {}).get("delta", {}).get("text")
        if not text:
            continue
        pending += text
        if ts is None:
            started = await c.slack_clock.run(
                c.slack.chat_startStream(
                    channel=channel,
                    thread_ts=thread_ts,
                    markdown_text=pending,
                    recipient_team_id="T1",
                    recipient_user_id="U1",
                )
            )
            ts, pending, last_flush, calls = str(started["ts"]), "", time.monotonic(), calls + 1
        elif time.monotonic() - last_flush >= FLUSH_INTERVAL:
            await c.slack_clock.run(c.slack.chat_appendStream(channel=channel, ts=ts, markdown_text=pending))
            pending, last_flush, calls = "", time.monotonic(), calls + 1
    if ts is not None:
        footer = [{"type": "context", "elements": [{"type": "mrkdwn", "text": f"general · `{request_id}`"}]}]
        await c.slack_clock.run(
            c.slack.chat_stopStream(channel=channel, ts=ts, markdown_text=pending or None, blocks=footer)
        )
        calls += 1
    await c.store.after(request_id)
    return calls


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


@asynccontextmanager
async def open_store(kind: str, *, redis_url: str, workdir: Path) -> AsyncIterator[Store]:
    """The store for ``kind`` (``redis`` or ``sqlite``), removed afterwards."""
    if kind == "sqlite":
        journal = await SqliteJournal.open(str(workdir / "journal.db"))
        try:
            yield SqliteStore(journal)
        finally:
            await journal.close()
        return
    prefix = f"floor-{uuid.uuid4().hex[:8]}:"
    redis = shared_redis(redis_url)
    try:
        yield RedisStore(redis, prefix)
    finally:
        await delete_prefix(redis_url, prefix)
        await redis.aclose()


async def run(
    rate: float, duration: float, *, store: str, redis_url: str, workdir: Path, fake: FakeOptions, warmup: int = 10
) -> FloorResult:
    """Start the fakes, warm up, then run ``rate`` tasks per second for ``duration`` seconds."""
    fakes = await open_fakes("process", fake, cpus=None)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fakes.urls["bedrock_url"],
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
    )
    try:
        async with (
            open_store(store, redis_url=redis_url, workdir=workdir) as task_store,
            aiohttp.ClientSession() as session,
            bedrock_client(region="us-east-1") as bedrock,
        ):
            slack = AsyncWebClient(token=BOT_TOKEN, base_url=fakes.urls["slack_api_url"], session=session)
            c = Clients(slack, bedrock, task_store, CpuClock(), CpuClock())
            await asyncio.gather(*(one_task(c, i) for i in range(warmup)))
            c.slack_clock.seconds = c.bedrock_clock.seconds = task_store.clock.seconds = 0.0
            total = round(rate * duration)
            cpu_start = _cpu()
            started = time.monotonic()
            jobs: list[asyncio.Task[int]] = []
            for index in range(total):
                await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
                jobs.append(asyncio.create_task(one_task(c, warmup + index)))
            calls = sum(await asyncio.gather(*jobs))
            cpu = _cpu() - cpu_start
    finally:
        await fakes.close()

    def per_task(seconds: float) -> float:
        return round(seconds * 1000 / total, 3)

    clocked = c.slack_clock.seconds + c.bedrock_clock.seconds + task_store.clock.seconds
    return FloorResult(
        rate=rate,
        duration=duration,
        tasks=total,
        cpu_ms_per_task=per_task(cpu),
        bedrock_client_ms_per_task=per_task(c.bedrock_clock.seconds),
        slack_client_ms_per_task=per_task(c.slack_clock.seconds),
        store=store,
        store_client_ms_per_task=per_task(task_store.clock.seconds),
        unclocked_ms_per_task=per_task(cpu - clocked),
        outside_llm_ms_per_task=per_task(cpu - c.bedrock_clock.seconds),
        slack_calls_per_task=round(calls / total, 2),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the floor benchmark and print (and optionally save) its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=10.0)
    add_fake_model_options(parser)
    parser.add_argument("--store", choices=("redis", "sqlite"), default="redis", help="the split's, or one process's")
    parser.add_argument("--redis-url", help="default: a throwaway redis-server")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true", help="CI: 1 s at 20 tasks/s, 0.2 s latency (~5 s)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rate, args.duration, args.bedrock_latency = 20.0, 1.0, 0.2
    fake = fake_options(args)
    with tempfile.TemporaryDirectory(prefix="orch-floor-") as workdir:
        server = None if args.redis_url or args.store != "redis" else RedisServer(Path(workdir))
        if server is not None:
            server.start()
        try:
            url = args.redis_url or (server.url if server else "")
            with asyncio.Runner(loop_factory=event_loop_factory("auto")) as runner:  # the bot's loop (uvloop)
                result = runner.run(
                    run(args.rate, args.duration, store=args.store, redis_url=url, workdir=Path(workdir), fake=fake)
                )
        finally:
            if server is not None:
                server.stop()
    figures: dict[str, Any] = asdict(result)
    print(f"== {FLOOR_TITLE} ==")
    print(f"machine: {json.dumps(describe_machine())}")
    for name, value in figures.items():
        print(f"  {name}: {value}")
    if args.json:
        args.json.write_text(json.dumps({"floor": figures, "machine": describe_machine()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
