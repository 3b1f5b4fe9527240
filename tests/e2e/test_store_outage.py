"""A Redis outage under a steady stream of tasks: every task reaches its user, answered or told it failed.

Each test starts its own ``redis-server`` on a free port (so it may stop it), either without persistence
(a restart comes back empty, as a Redis without persistence or a failover to an empty replica does) or
with AOF (a restart comes back with its data). The real ``orch-bot`` runs against it; a few slash commands
and mentions a second, each from its own user in its own channel, keep arriving while Redis is stopped
for about 5 seconds and restarted. Every task is then followed to its outcome in the fake Slack.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from agents.testing.bedrock import FakeBedrock
from bot.testing.environment import bot_env, free_port
from bot.testing.slack import app_mention_event
from tests.e2e.harness import Ack, BotProcess, unique
from tests.e2e.slackcalls import REQUEST_ID, in_channel, message_text

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from bot.testing.slack import FakeSlack

REDIS_SERVER = shutil.which("redis-server")
pytestmark = [pytest.mark.timeout(180)]


@pytest.fixture(autouse=True)
def _redis_server_on_path() -> None:
    """These tests stop and restart a redis-server of their own: skipped, loudly, without one; CI fails instead."""
    if REDIS_SERVER is not None:
        return
    if os.environ.get("ORCH_TEST_REQUIRE_SERVICES"):
        pytest.fail("redis-server is not on PATH, and CI requires it: install redis-server")
    pytest.skip("needs redis-server on PATH to stop and restart")


TASKS_PER_SECOND = 3
SEND_FOR = 15.0  # seconds of traffic
OUTAGE_AT = 4.0  # seconds into the traffic
OUTAGE_FOR = 5.0


class RedisServer:
    """A ``redis-server`` of the test's own, in its own folder, that can be stopped and started again."""

    def __init__(self, workdir: Path, *, aof: bool) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.aof = aof
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """The ``ORCH_STORE_URL`` for it."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Start (again) on the same port and folder; return once it answers PING."""
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else ["--appendonly", "no"]
        assert REDIS_SERVER is not None
        self.proc = await asyncio.create_subprocess_exec(
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--save",
            "",
            *persistence,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url)
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(RedisError):  # refused, or still loading its data
                    if await client.ping():
                        return
                if time.monotonic() > deadline:
                    raise AssertionError("redis-server did not start")
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        """Kill it (no chance to save anything beyond what its persistence already wrote)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()


@dataclass
class Sent:
    """One task as the user sent it, and what Slack answered at once."""

    kind: str
    channel: str
    response_url: str | None
    ack: Ack | None = None


@dataclass
class Tally:
    """Every task's outcome, for the figures and the assertions."""

    accepted: list[Sent] = field(default_factory=list)
    answered: list[Sent] = field(default_factory=list)
    told_failed: list[Sent] = field(default_factory=list)
    not_recorded: list[Sent] = field(default_factory=list)
    http_errors: list[Sent] = field(default_factory=list)
    lost: list[Sent] = field(default_factory=list)
    twice: int = 0

    def line(self) -> str:
        """The figures on one line."""
        return (
            f"sent {len(self.accepted) + len(self.not_recorded) + len(self.http_errors)}: "
            f"accepted {len(self.accepted)}, answered {len(self.answered)}, told failed {len(self.told_failed)}, "
            f"told not recorded {len(self.not_recorded)}, HTTP errors {len(self.http_errors)}, lost {len(self.lost)} "
            f"(answered twice: {self.twice})"
        )


@pytest_asyncio.fixture
async def slow_bedrock() -> AsyncIterator[FakeBedrock]:
    """A Bedrock that takes a second per answer, so some tasks are running when Redis goes away."""
    async with FakeBedrock(latency=1.0) as fake:
        yield fake


def _outcome(slack: FakeSlack, sent: Sent) -> str | None:
    """``answered``, ``not_recorded`` or ``failed`` (the user was told, with the request ID), or ``None``."""
    texts = []
    for call in slack.calls:
        if call.response is None or not call.response.get("ok"):
            continue
        if call.method == "chat.stopStream" and in_channel(sent.channel)(call):
            return "answered"
        if call.method in {"chat.update", "chat.postMessage", "chat.postEphemeral"} and in_channel(sent.channel)(call):
            if call.method != "chat.postEphemeral" and "thread_ts" not in call.args:
                continue  # a command's visible parent message
            texts.append(message_text(call))
        if call.method == "response_url" and call.args.get("_url") == sent.response_url:
            texts.append(message_text(call))
    told = [text for text in texts if ":warning:" in text and "req-" in text]
    if any("could not be recorded" in text for text in told):
        return "not_recorded"
    return "failed" if told else None


async def _send(bot: BotProcess, slack: FakeSlack, number: int) -> Sent:
    """Every third task is an @mention, the others slash commands; each from a new user in a new channel."""
    channel, user = unique("C"), unique("U")
    if number % 3 == 2:
        mention = slack.seed_message(channel, f"<@UBOT> general: outage task {number}", user=user)
        event = app_mention_event(text=mention["text"], user=user, channel=channel, ts=mention["ts"])
        sent = Sent("mention", channel, None)
        sent.ack = await bot.event(event)
        return sent
    response_url = slack.new_response_url()
    sent = Sent("command", channel, response_url)
    sent.ack = await bot.command(
        f"general: outage task {number}", user=user, channel=channel, response_url=response_url
    )
    return sent


async def run_outage(bot: BotProcess, redis: RedisServer, slack: FakeSlack) -> Tally:
    """Send tasks steadily while Redis stops for ``OUTAGE_FOR`` seconds; follow every task to its outcome."""
    started = time.monotonic()
    sends: list[asyncio.Task[Sent]] = []

    async def outage() -> None:
        await asyncio.sleep(OUTAGE_AT)
        await redis.stop()
        await asyncio.sleep(OUTAGE_FOR)
        await redis.start()

    outage_task = asyncio.create_task(outage())
    number = 0
    while time.monotonic() - started < SEND_FOR:
        sends.append(asyncio.create_task(_send(bot, slack, number)))
        number += 1
        await asyncio.sleep(1 / TASKS_PER_SECOND)
    await outage_task
    sent = await asyncio.gather(*sends)

    return await _follow(slack, list(sent))


async def _follow(slack: FakeSlack, sent: list[Sent]) -> Tally:
    """Sort the tasks by their ack, then wait (up to a minute) for every accepted one to reach an outcome."""
    tally = Tally()
    for task in sent:
        assert task.ack is not None
        if task.ack.status != 200:
            tally.http_errors.append(task)
        elif task.kind == "command" and "req-" in task.ack.body:
            tally.not_recorded.append(task)
        else:
            tally.accepted.append(task)
    deadline = time.monotonic() + 60
    while True:
        if all(_outcome(slack, t) is not None for t in tally.accepted) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    tally.twice = sum(
        len([c for c in slack.calls_to("chat.stopStream") if in_channel(task.channel)(c)]) > 1 for task in sent
    )
    buckets = {
        "answered": tally.answered,
        "failed": tally.told_failed,
        "not_recorded": tally.not_recorded,
        None: tally.lost,
    }
    for task in list(tally.accepted):
        outcome = _outcome(slack, task)
        if outcome == "not_recorded":
            tally.accepted.remove(task)  # a mention is acked before it is recorded; its user is told
        buckets[outcome].append(task)
    return tally


@pytest_asyncio.fixture(params=["empty", "aof"])
async def redis_server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A stoppable Redis: ``empty`` restarts with no data, ``aof`` with everything it had."""
    workdir = tmp_path / f"redis-{uuid.uuid4().hex[:6]}"
    workdir.mkdir()
    server = RedisServer(workdir, aof=request.param == "aof")
    await server.start()
    yield server
    await server.stop()


def _env(slack: FakeSlack, bedrock: FakeBedrock, redis: RedisServer) -> dict[str, str]:
    return bot_env(
        slack_api_url=slack.base_url,
        bedrock_url=bedrock.endpoint_url,
        store_url=redis.url,
        ORCH_RATE_LIMIT="100/minute",
        ORCH_CLAIM_IDLE_SECONDS="2",
        ORCH_TASK_MAX_ATTEMPTS="3",
    )


def _report(name: str, tally: Tally, bots: list[BotProcess]) -> None:
    print(f"store outage ({name}): {tally.line()}")  # noqa: T201 - the figures for the notes
    for task in tally.lost:
        print(f"  lost: {task.kind} in {task.channel}")  # noqa: T201
    assert not [line for bot in bots for line in bot.log().splitlines() if "Traceback" in line]


async def test_a_redis_outage_loses_no_task_in_one_process(
    redis_server: RedisServer, slack: FakeSlack, slow_bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """Redis stopped for 5 s and restarted (empty or AOF) under 3 tasks/s: no 500, and 0 tasks lost."""
    port = free_port()
    bot = BotProcess(
        ["serve", "--host", "127.0.0.1", "--port", str(port)],
        _env(slack, slow_bedrock, redis_server),
        tmp_path / "bot.log",
        port=port,
    )
    await bot.start()
    try:
        tally = await run_outage(bot, redis_server, slack)
    finally:
        await bot.stop()
    _report(f"one process, {'AOF' if redis_server.aof else 'empty restart'}", tally, [bot])
    assert tally.http_errors == []
    assert tally.lost == []
    assert len(tally.answered) >= len(tally.accepted) // 2


async def test_a_redis_outage_loses_no_task_with_ingress_and_worker(
    redis_server: RedisServer, slack: FakeSlack, slow_bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """The same outage with an ingress that queues and a busy worker that runs: no 500, and 0 tasks lost."""
    port = free_port()
    ingress = BotProcess(
        ["serve", "--host", "127.0.0.1", "--port", str(port), "--ingress-only"],
        _env(slack, slow_bedrock, redis_server),
        tmp_path / "ingress.log",
        port=port,
    )
    metrics_port = free_port()
    worker = BotProcess(
        ["worker"],
        {
            **_env(slack, slow_bedrock, redis_server),
            "ORCH_METRICS_PORT": str(metrics_port),
            "ORCH_WORKER_NICE": "0",
            # Two at a time, at a second each, against three a second: tasks wait in the stream when Redis dies.
            "ORCH_MAX_CONCURRENT_TASKS": "2",
        },
        tmp_path / "worker.log",
        port=metrics_port,
    )
    await asyncio.gather(ingress.start(), worker.start())
    try:
        tally = await run_outage(ingress, redis_server, slack)
    finally:
        with contextlib.suppress(AssertionError):
            await worker.stop()
        await ingress.stop()
    _report(f"ingress + worker, {'AOF' if redis_server.aof else 'empty restart'}", tally, [ingress, worker])
    assert tally.http_errors == []
    assert tally.lost == []
    assert len(tally.answered) >= len(tally.accepted) // 2


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_while_redis_is_down_readyz_is_503_and_users_are_told_their_task_was_not_recorded(
    slack: FakeSlack, slow_bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """Redis stopped: /readyz 503, commands and mentions told at once with the request ID, /orch-health says so.

    The App Home still opens and shows the store unreachable. Redis back: /readyz 200 again and tasks are answered.
    """
    redis = RedisServer(tmp_path, aof=False)
    await redis.start()
    port = free_port()
    bot = BotProcess(
        ["serve", "--host", "127.0.0.1", "--port", str(port)],
        _env(slack, slow_bedrock, redis),
        tmp_path / "bot.log",
        port=port,
    )
    await bot.start()
    readyz = f"http://127.0.0.1:{port}/readyz"
    try:
        assert (await _get(readyz))[0] == 200
        await redis.stop()
        await asyncio.sleep(1.1)  # the store probe's cached answer expires
        status, body = await _get(readyz)
        assert status == 503
        assert "store: Redis unreachable" in body

        ack = await bot.command(
            "general: while down", user=unique("U"), channel=unique("C"), response_url=slack.new_response_url()
        )
        assert ack.status == 200
        told = ack.json()["text"]
        assert "could not be recorded" in told
        assert REQUEST_ID.search(told)

        channel, user = unique("C"), unique("U")
        mention = slack.seed_message(channel, "<@UBOT> general: while down", user=user)
        assert (
            await bot.event(app_mention_event(text=mention["text"], user=user, channel=channel, ts=mention["ts"]))
        ).status == 200
        (ephemeral,) = await slack.wait_for("chat.postEphemeral", where=in_channel(channel), timeout=10)
        assert "could not be recorded" in message_text(ephemeral)
        assert REQUEST_ID.search(message_text(ephemeral))

        response_url = slack.new_response_url()
        assert (
            await bot.command(
                "", user=unique("U"), channel=unique("C"), response_url=response_url, command="/orch-health"
            )
        ).status == 200
        (report,) = await slack.wait_for("response_url", where=lambda c: c.args.get("_url") == response_url, timeout=15)
        assert "*Store*: Redis unreachable" in message_text(report)

        home_user = unique("U")
        event = {"type": "app_home_opened", "user": home_user, "channel": unique("D"), "tab": "home", "event_ts": "1.1"}
        assert (await bot.event(event)).status == 200
        await slack.wait_for("views.publish", where=lambda c: c.args.get("user_id") == home_user, timeout=10)
        home = "\n".join(str(b.get("text", {}).get("text", "")) for b in slack.home_views[home_user]["blocks"])
        assert "*Store*: Redis unreachable" in home
        assert "Unavailable: the task store is unreachable" in home

        await redis.start()
        deadline = time.monotonic() + 10
        while (await _get(readyz))[0] != 200:
            assert time.monotonic() < deadline, "readyz stayed 503 after Redis came back"
            await asyncio.sleep(0.2)
        channel = unique("C")
        await bot.command(
            "general: back again", user=unique("U"), channel=channel, response_url=slack.new_response_url()
        )
        await slack.wait_for("chat.stopStream", where=in_channel(channel), timeout=20)
    finally:
        await bot.stop()
        await redis.stop()
