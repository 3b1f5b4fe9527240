"""An ingress that only acks and queues, and worker processes that run the tasks, meeting in Redis.

Real processes against the Redis named by REDIS_URL (scripts/test.sh provides one), under their own key
prefix, deleted afterwards. Without Redis the split tests are skipped with the reason shown (failed in CI);
the refusal to split without a shared store needs no Redis.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import TYPE_CHECKING

import aiohttp
import pytest_asyncio

from agents.testing.bedrock import Reply
from agents.testing.redis_keys import delete_prefix
from bot.testing.environment import bot_env, free_port
from tests.e2e.harness import BotProcess, unique
from tests.e2e.slackcalls import REQUEST_ID, final_text
from tests.e2e.test_cli_tools import run

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from agents.testing.bedrock import FakeBedrock
    from bot.testing.slack import FakeSlack


@pytest_asyncio.fixture
async def split(
    redis_url: str, slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path
) -> AsyncIterator[tuple[BotProcess, list[BotProcess]]]:
    """``orch-bot serve --ingress-only`` and two ``orch-bot worker`` processes on one Redis."""
    prefix = f"orch-e2e-{uuid.uuid4().hex[:8]}:"

    def env(**extra: str) -> dict[str, str]:
        return bot_env(
            slack_api_url=slack.base_url,
            bedrock_url=bedrock.endpoint_url,
            store_url=redis_url,
            ORCH_REDIS_PREFIX=prefix,
            ORCH_RATE_LIMIT="100/minute",
            **extra,
        )

    port = free_port()
    ingress = BotProcess(
        ["serve", "--host", "127.0.0.1", "--port", str(port), "--ingress-only"],
        env(),
        tmp_path / "ingress.log",
        port=port,
    )
    workers = []
    for name in ("w1", "w2"):
        metrics_port = free_port()
        workers.append(
            BotProcess(
                ["worker"], env(ORCH_METRICS_PORT=str(metrics_port)), tmp_path / f"{name}.log", port=metrics_port
            )
        )
    await asyncio.gather(ingress.start(), *(worker.start() for worker in workers))
    yield ingress, workers
    await asyncio.gather(ingress.stop(), *(worker.stop() for worker in workers))
    await delete_prefix(redis_url, prefix)


async def test_the_ingress_acks_and_queues_and_workers_answer(
    split: tuple[BotProcess, list[BotProcess]], slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    """Six commands through the ingress: each answered once in its thread, all run by workers, none by it."""
    ingress, workers = split
    channels = [unique("C") for _ in range(6)]
    for channel in channels:
        bedrock.enqueue(Reply(text=f"answer for {channel}", latency=0.2))
    acks = await asyncio.gather(
        *(
            ingress.command(
                f"general: where is {c}?", user=unique("U"), channel=c, response_url=slack.new_response_url()
            )
            for c in channels
        )
    )
    assert [ack.status for ack in acks] == [200] * 6
    assert all(ack.body == "" for ack in acks)
    texts = await asyncio.gather(*(final_text(slack, channel, timeout=20) for channel in channels))
    request_ids = {REQUEST_ID.findall(text)[-1] for text in texts}
    assert len(request_ids) == 6
    assert ingress.routed() == set()
    ran = [worker.routed() for worker in workers]
    assert ran[0] | ran[1] == request_ids
    assert not ran[0] & ran[1]
    for worker in workers:  # workers yield the CPU to the ingress (ORCH_WORKER_NICE, default 10)
        assert worker.proc is not None
        assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) - os.getpriority(os.PRIO_PROCESS, 0) == 10
    assert ingress.proc is not None
    assert os.getpriority(os.PRIO_PROCESS, ingress.proc.pid) == os.getpriority(os.PRIO_PROCESS, 0)
    async with aiohttp.ClientSession() as session:
        for worker in workers:
            async with session.get(f"http://127.0.0.1:{worker.port}/readyz") as ready:
                assert ready.status == 200
            async with session.get(f"http://127.0.0.1:{worker.port}/metrics") as scraped:
                assert 'orch_tasks_total{agent="general",outcome="succeeded"}' in await scraped.text()


async def test_splitting_without_a_shared_store_is_refused_with_the_fix(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """An ingress or a worker on SQLite would queue tasks nobody runs: both refuse to start, exit 2."""
    env = bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url)
    for args in (["serve", "--ingress-only"], ["worker"]):
        code, out, err = await run(*args, env=env)
        assert code == 2, (out, err)
        assert "ORCH_STORE_URL" in err
        assert "needs the shared store: set redis://" in err
        assert "Traceback" not in err
