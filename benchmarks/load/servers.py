"""The processes under test (orch-bot, its workers, the ceiling app) and the benchmark's own Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import aiohttp

from bot.testing.environment import free_port

ROOT = Path(__file__).resolve().parents[2]


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
