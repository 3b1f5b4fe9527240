"""Running the real ``orch-bot`` process against the fakes, and talking to it as Slack does.

:class:`BotProcess` starts the console script in a subprocess with settings from the environment
(exactly as an operator would), waits for ``/healthz``, and keeps its log. Requests are signed the way
Slack signs them and sent over real HTTP; ack latencies are recorded for the run's summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.slack import event_callback, sign_request, slash_command_form

BOT_TOKEN = "xoxb-1111111111-2222222222-e2eBotTokenValue"
APP_TOKEN = "xapp-1-A0TEST-3333333333-e2eAppTokenValue"
SIGNING_SECRET = "e2e-signing-secret-0f1e2d3c4b5a"
ORCH_BOT = Path(sys.executable).with_name("orch-bot")

ACK_LATENCIES_MS: list[float] = []


def free_port() -> int:
    """A TCP port nothing is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique(prefix: str) -> str:
    """A Slack-style id no other test uses (channels and users are per test, so state never leaks)."""
    return prefix + uuid.uuid4().hex[:10].upper()


def bot_env(
    *, slack_api_url: str, bedrock_url: str, store_url: str | None = None, aws_url: str | None = None, **extra: str
) -> dict[str, str]:
    """A clean environment for the bot: no real AWS profile or credentials from the developer's shell."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT"}}
    return {
        **keep,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAE2ETESTKEY000000",
        "AWS_SECRET_ACCESS_KEY": "e2e-secret-access-key-value",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock_url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "ORCH_RATE_LIMIT": "5/minute",
        "ORCH_STORE_URL": store_url or f"sqlite:///{tempfile.mkdtemp(prefix='orch-e2e-')}/orch-bot.db",
        "ORCH_LOG_FORMAT": "json",
        "ORCH_LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",
        **({"AWS_ENDPOINT_URL": aws_url} if aws_url else {}),
        **extra,
    }


@dataclass
class Ack:
    """Slack's view of one delivery: status, body, and how long the bot took."""

    status: int
    body: str
    ms: float

    def json(self) -> dict[str, Any]:
        """The ack body as JSON (a slash command's immediate answer)."""
        return dict(json.loads(self.body)) if self.body else {}


class BotProcess:
    """One ``orch-bot`` subprocess and its log."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, *, port: int | None = None) -> None:
        self.args = args
        self.env = env
        self.log_path = log_path
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None
        self.session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        """Slack's request URL for this bot."""
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def start(self, *, ready: str = "healthz", timeout: float = 30.0) -> None:
        """Start the process and wait until it serves (``healthz``) or logs that it listens (``log``)."""
        self.session = aiohttp.ClientSession()
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            str(ORCH_BOT), *self.args, env=self.env, stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise AssertionError(f"orch-bot exited with {self.proc.returncode}:\n{self.log()}")
            if await self._ready(ready):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"orch-bot did not become ready in {timeout}s:\n{self.log()}")

    async def _ready(self, how: str) -> bool:
        if how == "log":
            return '"server.listening"' in self.log()
        assert self.session is not None
        try:
            async with self.session.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the process and wait for it to exit; returns its exit code."""
        if self.session is not None:
            await self.session.close()
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"orch-bot ignored signal {sig} for {timeout}s:\n{self.log()}") from None

    def log(self) -> str:
        """Everything the process has written so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def routed(self) -> set[str]:
        """The request IDs this process started running (its ``task.routed`` lines); a line cut by a kill is skipped."""
        ids = set()
        for line in self.log().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "task.routed":
                ids.add(entry["request_id"])
        return ids

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (any other line fails the test: logs must be JSON)."""
        return [json.loads(line) for line in self.log().splitlines() if line.strip()]

    async def post(self, body: bytes, headers: dict[str, str]) -> Ack:
        """POST a raw body to ``/slack/events``, timing the response."""
        assert self.session is not None
        started = time.perf_counter()
        async with self.session.post(self.url, data=body, headers=headers) as response:
            text = await response.text()
        ms = (time.perf_counter() - started) * 1000
        return Ack(response.status, text, ms)

    async def command(
        self, text: str, *, user: str, channel: str, response_url: str, command: str = "/orchestrate"
    ) -> Ack:
        """Deliver a signed slash command; records the ack latency."""
        body = slash_command_form(
            command=command, text=text, user_id=user, channel_id=channel, response_url=response_url
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign_request(body, SIGNING_SECRET)}
        ack = await self.post(body, headers)
        ACK_LATENCIES_MS.append(ack.ms)
        return ack

    async def event(self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None) -> Ack:
        """Deliver a signed Events API callback, optionally marked as Slack's retry ``retry_num``."""
        payload = event_callback(event, event_id=event_id or unique("Ev"))
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", **sign_request(body, SIGNING_SECRET)}
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        ack = await self.post(body, headers)
        ACK_LATENCIES_MS.append(ack.ms)
        return ack
