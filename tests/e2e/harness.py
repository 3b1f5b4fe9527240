"""Running the real ``orch-bot`` process against the fakes, and talking to it as Slack does.

:class:`BotProcess` starts the console script in a subprocess with settings from the environment
(exactly as an operator would), waits for ``/healthz``, and keeps its log. Requests are signed the way
Slack signs them and sent over real HTTP; ack latencies are recorded for the run's summary.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.testing.environment import ORCH_BOT, SIGNING_SECRET
from bot.testing.slack import event_callback, interaction_body, sign_request, slash_command_form

if TYPE_CHECKING:
    from pathlib import Path

ACK_LATENCIES_MS: list[float] = []


def unique(prefix: str) -> str:
    """A Slack-style id no other test uses (channels and users are per test, so state never leaks)."""
    return prefix + uuid.uuid4().hex[:10].upper()


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

    async def interact(self, payload: dict[str, Any]) -> Ack:
        """Deliver a signed interaction (``block_actions``, ``view_submission``) as Slack posts it."""
        body = interaction_body(payload)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign_request(body, SIGNING_SECRET)}
        ack = await self.post(body, headers)
        ACK_LATENCIES_MS.append(ack.ms)
        return ack
