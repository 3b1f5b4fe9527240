"""Forged and malformed requests, thousands of them, cause nothing.

One bot process with its own fakes and store, and an HTTP listener standing in for an attacker's
``response_url``. Every request is a mutation of a real Slack delivery (slash command, mention, button
click), deterministic from a seed. Forged ones (bad or missing signatures and timestamps, bodies changed
after signing) must get 401; validly signed but unreadable ones 400. Side effects are counted where they
would land: calls to the fake Slack, the fake Bedrock and the attacker's listener, rows in the journal,
and log lines carrying anything from the bodies.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest_asyncio
from aiohttp import web

from agents.testing.bedrock import FakeBedrock, Reply
from bot.testing.environment import SIGNING_SECRET, bot_env, free_port
from bot.testing.slack import FakeSlack, app_mention_event, event_callback, slash_command_form
from tests.e2e.harness import BotProcess, unique
from tests.e2e.slackcalls import final_text

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

from bot.testing.environment import APP_TOKEN, BOT_TOKEN

MARKER = "FORGEDMARK"  # in every mutated body: it must never reach a log line
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass
class Attacker:
    """An HTTP listener standing in for a host an attacker names as ``response_url``."""

    url: str
    hits: list[str]


@pytest_asyncio.fixture
async def attacker() -> AsyncIterator[Attacker]:
    """Counts every request on any path."""
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield Attacker(f"http://127.0.0.1:{port}/internal/admin", hits)
    await runner.cleanup()


@dataclass
class Isolated:
    """A bot with fakes of its own, so every call they record is this test's."""

    bot: BotProcess
    slack: FakeSlack
    bedrock: FakeBedrock
    db: Path


@pytest_asyncio.fixture
async def isolated(tmp_path: Path) -> AsyncIterator[Isolated]:
    """``orch-bot serve`` against fresh fakes and a fresh SQLite journal."""
    db = tmp_path / "journal.db"
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as slack, FakeBedrock() as bedrock:
        port = free_port()
        bot = BotProcess(
            ["serve", "--host", "127.0.0.1", "--port", str(port)],
            bot_env(
                slack_api_url=slack.base_url,
                bedrock_url=bedrock.endpoint_url,
                store_url=f"sqlite:///{db}",
                ORCH_RATE_LIMIT="1000/minute",
            ),
            tmp_path / "bot.log",
            port=port,
        )
        await bot.start()
        try:
            yield Isolated(bot, slack, bedrock, db)
        finally:
            await bot.stop()


def _journal_rows(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])


def _bases(response_url: str) -> list[tuple[bytes, str]]:
    """Real deliveries that would act if Slack had signed them: each names the attacker's response_url."""
    command = slash_command_form(
        text=f"general: list instances {MARKER}", user_id="U0VICTIM", channel_id="C0FORGE", response_url=response_url
    )
    mention = json.dumps(
        event_callback(
            app_mention_event(text=f"<@UBOT> what is alarming {MARKER}", user="U0VICTIM", channel="C0FORGE", ts="1.1"),
            event_id="Ev0FORGED",
        )
    ).encode()
    click = urlencode(
        {
            "payload": json.dumps(
                {
                    "type": "block_actions",
                    "user": {"id": "U0VICTIM"},
                    "channel": {"id": "C0FORGE"},
                    "team": {"id": "T0TEST"},
                    "api_app_id": "A0TEST",
                    "response_url": response_url,
                    "actions": [{"action_id": "approve", "value": MARKER, "type": "button"}],
                }
            )
        }
    ).encode()
    return [(command, FORM), (mention, JSON), (click, FORM)]


def _sign(body: bytes, *, timestamp: str | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    ts = timestamp if timestamp is not None else str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def _forged_headers(body: bytes, rng: random.Random) -> dict[str, str]:
    """Headers that must not pass: one of the ways a forger gets them wrong (or guesses)."""
    now = int(time.time())
    good = _sign(body)
    choices: list[dict[str, str]] = [
        {},
        {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": good["X-Slack-Signature"]},
        {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": good["X-Slack-Signature"]},
        {"X-Slack-Request-Timestamp": f"{now}.5", "X-Slack-Signature": good["X-Slack-Signature"]},
        # Arabic-Indic digits: int() accepts them, Slack never sends them.
        {"X-Slack-Request-Timestamp": "\u0661\u0667" + "\u0660" * 8, "X-Slack-Signature": good["X-Slack-Signature"]},
        {"X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": good["X-Slack-Signature"]},
        {"X-Slack-Request-Timestamp": f"-{now}", "X-Slack-Signature": good["X-Slack-Signature"]},
        _sign(body, timestamp=str(now - 330)),  # well past the 300 s window, however slow the run
        _sign(body, timestamp=str(now + 330)),
        _sign(body, secret="not-the-signing-secret"),
        {"X-Slack-Request-Timestamp": str(now)},
        {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": ""},
        {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v0="},
        {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v1=" + good["X-Slack-Signature"][3:]},
        {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": good["X-Slack-Signature"].upper()},
        {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": good["X-Slack-Signature"][:-1]},
        {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": str(now - 1), "X-Slack-Signature": good["X-Slack-Signature"]},
    ]
    return rng.choice(choices)


def _flip_bit(body: bytes, rng: random.Random) -> bytes:
    position = rng.randrange(len(body))
    mutated = bytearray(body)
    mutated[position] ^= 1 << rng.randrange(8)
    return bytes(mutated)


def _forgeries(bases: list[tuple[bytes, str]], rng: random.Random, count: int) -> list[tuple[bytes, dict[str, str]]]:
    """Bodies changed after signing (bit flips, truncation, appended data), and bad or missing signatures."""
    out: list[tuple[bytes, dict[str, str]]] = []
    for n in range(count):
        body, content_type = rng.choice(bases)
        headers = {"Content-Type": content_type}
        kind = n % 4
        if kind == 0:
            out.append((_flip_bit(body, rng), headers | _sign(body)))
        elif kind == 1:
            out.append((body[: rng.randrange(len(body))], headers | _sign(body)))
        elif kind == 2:
            out.append((body + b"&text=" + MARKER.encode(), headers | _sign(body)))
        else:
            out.append((body, headers | _forged_headers(body, rng)))
    return out


def _malformed(bases: list[tuple[bytes, str]], rng: random.Random, count: int) -> list[tuple[bytes, dict[str, str]]]:
    """Validly signed bodies that cannot be a Slack payload: each must get 400."""
    fixed: list[tuple[bytes, str]] = [
        (b"{" + MARKER.encode(), JSON),
        (json.dumps([MARKER]).encode(), JSON),
        (json.dumps(MARKER).encode(), JSON),
        (b"42", JSON),
        (b"", FORM),
        (b"   ", JSON),
        (b"text=" + MARKER.encode() + b"\xff\xfe&command=%2Forchestrate", FORM),
        (b"payload=" + MARKER.encode(), FORM),
        (b"payload=%5B1%2C2%5D", FORM),
        (b"[" * 100_000 + b"]" * 100_000, JSON),
        (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, JSON),
        (json.dumps({"type": "event_callback", "authorizations": 5, "event": MARKER}).encode(), JSON),
        (json.dumps({"type": "event_callback", "authorizations": [MARKER], "team_id": 3}).encode(), JSON),
    ]
    out = [(body, {"Content-Type": ct} | _sign(body)) for body, ct in fixed]
    while len(out) < count:
        body, content_type = rng.choice(bases)
        if content_type == JSON or rng.random() < 0.5:
            cut = body[: rng.randrange(1, len(body) - 1)] if content_type == JSON else body + b"\xc3\x28"
        else:
            cut = body[: rng.randrange(len(body))] + b"\x80"
        out.append((cut, {"Content-Type": content_type} | _sign(cut)))
    return out


async def _send_all(bot: BotProcess, requests: list[tuple[bytes, dict[str, str]]]) -> Counter[int]:
    statuses: Counter[int] = Counter()
    gate = asyncio.Semaphore(16)

    async def one(body: bytes, headers: dict[str, str]) -> None:
        async with gate:
            statuses[(await bot.post(body, headers)).status] += 1

    await asyncio.gather(*(one(body, headers) for body, headers in requests))
    return statuses


def _side_effects(isolated: Isolated, attacker: Attacker) -> dict[str, Any]:
    return {
        "slack": [c.method for c in isolated.slack.calls if c.method != "auth.test"],
        "bedrock": len(isolated.bedrock.calls),
        "attacker": list(attacker.hits),
        "journal": _journal_rows(isolated.db),
    }


async def test_thousands_of_forged_and_malformed_requests_get_401_or_400_and_cause_nothing(
    isolated: Isolated, attacker: Attacker
) -> None:
    """4,500 forgeries answer 401 and 700 signed-but-unreadable bodies 400; none has any effect or is logged."""
    rng = random.Random(20261130)  # noqa: S311 - a reproducible fuzz, not cryptography
    bases = _bases(attacker.url)
    forged = _forgeries(bases, rng, 4_500)
    malformed = _malformed(bases, rng, 700)
    before = _side_effects(isolated, attacker)
    log_lines_before = len(isolated.bot.log_lines())

    forged_statuses = await _send_all(isolated.bot, forged)
    malformed_statuses = await _send_all(isolated.bot, malformed)
    await asyncio.sleep(1.0)  # anything they set going would have started by now

    assert forged_statuses == Counter({401: len(forged)})
    assert malformed_statuses == Counter({400: len(malformed)})
    assert _side_effects(isolated, attacker) == before
    log = isolated.bot.log()
    assert MARKER not in log
    assert "Traceback" not in log
    new_lines = isolated.bot.log_lines()[log_lines_before:]
    # The forgeries are summarised (at most a line a minute), the signed malformed ones named one by one.
    assert [line["event"] for line in new_lines].count("request.unverified_refused") <= 1
    assert all(line["event"] in {"request.unverified_refused", "request.malformed"} for line in new_lines)


async def test_a_signed_request_naming_a_foreign_response_url_is_refused_and_posts_nothing(
    isolated: Isolated, attacker: Attacker
) -> None:
    """Even validly signed, a body whose response_url is not Slack's gets 400; nothing is posted anywhere."""
    before = _side_effects(isolated, attacker)
    statuses = [
        (await isolated.bot.post(body, {"Content-Type": content_type} | _sign(body))).status
        for body, content_type in _bases(attacker.url)
        if content_type == FORM
    ]
    await asyncio.sleep(0.5)
    assert statuses == [400, 400]
    assert _side_effects(isolated, attacker) == before


async def test_the_same_deliveries_signed_by_slack_do_act(isolated: Isolated, attacker: Attacker) -> None:
    """The control: the bases above, signed and with Slack's response_url, reach the fakes (the counters work)."""
    bodies = _bases(isolated.slack.new_response_url())
    isolated.bedrock.enqueue(Reply(text="control answer"), Reply(text="control answer"))
    command, _ = bodies[0]
    mention, _ = bodies[1]
    acks = [
        await isolated.bot.post(command, {"Content-Type": FORM} | _sign(command)),
        await isolated.bot.post(mention, {"Content-Type": JSON} | _sign(mention)),
    ]
    assert [ack.status for ack in acks] == [200, 200]
    await final_text(isolated.slack, "C0FORGE", timeout=20)
    after = _side_effects(isolated, attacker)
    assert after["bedrock"] > 0
    assert after["journal"] > 0
    assert "chat.postMessage" in after["slack"]
    assert attacker.hits == []


async def test_a_slash_command_mentioning_payload_is_answered(isolated: Isolated) -> None:
    """A form that merely contains the word "payload" is a command, not an empty interactivity body."""
    channel = unique("C")
    isolated.bedrock.enqueue(Reply(text="payload sizes are fine"))
    ack = await isolated.bot.command(
        "general: why did the payload size grow?",
        user=unique("U"),
        channel=channel,
        response_url=isolated.slack.new_response_url(),
    )
    assert ack.status == 200
    assert "payload sizes are fine" in await final_text(isolated.slack, channel, timeout=20)
