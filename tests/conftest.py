"""Shared fixtures: the fakes and a running bot, started once per session and reused by every e2e test."""

from __future__ import annotations

import os
import statistics
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from moto.server import ThreadedMotoServer

from agents.testing.bedrock import FakeBedrock
from bot.testing.environment import APP_TOKEN, BOT_TOKEN, bot_env, free_port
from bot.testing.slack import FakeSlack, RateLimits
from tests.e2e.harness import ACK_LATENCIES_MS, BotProcess
from tests.e2e.slackcalls import MASS_MENTIONS_POSTED

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator


@pytest_asyncio.fixture(scope="session")
async def slack() -> AsyncIterator[FakeSlack]:
    """The fake Slack Web API (and Socket Mode) server, at Slack's rate limits.

    The whole session is one workspace to the bot, but each test works in channels of its own: the limits
    are counted per channel (each channel a workspace of its own), so one test's answers cannot use up the
    next test's minute, while every test still runs within Slack's real numbers.
    """
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN, rate_limits=RateLimits(per="channel")) as fake:
        yield fake


@pytest_asyncio.fixture(scope="session")
async def bedrock() -> AsyncIterator[FakeBedrock]:
    """The fake Bedrock Runtime server."""
    async with FakeBedrock() as fake:
        yield fake


@pytest_asyncio.fixture(scope="session")
async def bot(
    slack: FakeSlack, bedrock: FakeBedrock, moto_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BotProcess]:
    """``orch-bot serve`` in HTTP mode against the fakes, its AWS tools against moto."""
    port = free_port()
    process = BotProcess(
        ["serve", "--host", "127.0.0.1", "--port", str(port)],
        bot_env(slack_api_url=slack.base_url, bedrock_url=bedrock.endpoint_url, aws_url=moto_url),
        tmp_path_factory.mktemp("bot") / "http.log",
        port=port,
    )
    await process.start()
    yield process
    await process.stop()


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """A moto server on a free local port, for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{server._server.server_port}"
    server.stop()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis to test against (REDIS_URL, set by scripts/test.sh): skipped, loudly, where there is none.

    CI (ORCH_TEST_REQUIRE_SERVICES=1) fails instead of skipping: a Redis test that did not run is not a pass.
    """
    url = os.environ.get("REDIS_URL", "")
    if not url:
        if os.environ.get("ORCH_TEST_REQUIRE_SERVICES"):
            pytest.fail("REDIS_URL is not set, and CI requires Redis: install redis-server or set REDIS_URL")
        pytest.skip("needs Redis: install redis-server (scripts/test.sh starts it) or set REDIS_URL")
    return url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures the e2e tests measured (figures, not assertions): ack latencies, mentions posted."""
    if MASS_MENTIONS_POSTED:
        terminalreporter.write_sep("-", "e2e mass mentions posted")
        terminalreporter.write_line(
            f"{sum(n for _, n in MASS_MENTIONS_POSTED)} live mass mentions in what the bot posted, "
            f"over {len(MASS_MENTIONS_POSTED)} output-filter checks"
        )
    if len(ACK_LATENCIES_MS) < 2:
        return
    ordered = sorted(ACK_LATENCIES_MS)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    terminalreporter.write_sep("-", "e2e ack latency over real HTTP")
    terminalreporter.write_line(
        f"{len(ordered)} deliveries: p50 {statistics.median(ordered):.1f} ms, "
        f"p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms"
    )
