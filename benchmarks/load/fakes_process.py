"""Where the fakes run: in this process, or in a helper process driven by JSON lines over its stdin/stdout.

The helper (the default) keeps serving the bot's Slack and Bedrock traffic off the load generator's event
loop; both sides offer the load generator the same :class:`Fakes` interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import asdict
from typing import Any, Protocol

from benchmarks.load.fakes import FakeOptions, FakesHost

_MB = 1024 * 1024
_STREAM_LIMIT = 64 * _MB  # the helper's report is one (long) JSON line


class Fakes(Protocol):
    """The fakes as the load generator sees them, wherever they run."""

    urls: dict[str, str]
    pid: int

    async def mark(self) -> None:
        """See :meth:`FakesHost.mark`."""

    async def watch(self, channels: list[str]) -> None:
        """See :meth:`FakesHost.watch`."""

    async def progress(self) -> dict[str, int]:
        """See :meth:`FakesHost.progress`."""
        ...

    async def report(self, prefix: str) -> dict[str, Any]:
        """See :meth:`FakesHost.report`."""
        ...

    async def close(self) -> None:
        """Stop the fakes."""


class LocalFakes:
    """The fakes in this process (``--fakes inproc``)."""

    def __init__(self, host: FakesHost, urls: dict[str, str]) -> None:
        self._host = host
        self.urls = urls
        self.pid = os.getpid()

    @classmethod
    async def open(cls, options: FakeOptions) -> LocalFakes:
        """Start the fakes here."""
        host = FakesHost(options)
        return cls(host, await host.start())

    async def mark(self) -> None:
        """See :meth:`FakesHost.mark`."""
        self._host.mark()

    async def watch(self, channels: list[str]) -> None:
        """See :meth:`FakesHost.watch`."""
        self._host.watch(channels)

    async def progress(self) -> dict[str, int]:
        """See :meth:`FakesHost.progress`."""
        return self._host.progress()

    async def report(self, prefix: str) -> dict[str, Any]:
        """See :meth:`FakesHost.report`."""
        return self._host.report(prefix)

    async def close(self) -> None:
        """Stop the fakes."""
        await self._host.stop()


class HelperFakes:
    """The fakes in a helper process (``--fakes process``), driven by JSON lines over its stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process, urls: dict[str, str]) -> None:
        self._proc = proc
        self.urls = urls
        self.pid = proc.pid
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, options: FakeOptions, *, cpus: set[int] | None) -> HelperFakes:
        """Start the helper and read the URLs it prints."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.load",
            "--serve-fakes",
            json.dumps(asdict(options)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=_STREAM_LIMIT,
        )
        if cpus:
            os.sched_setaffinity(proc.pid, cpus)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line:
            raise RuntimeError(f"the fakes helper exited with {await proc.wait()}")
        return cls(proc, json.loads(line))

    async def _ask(self, **command: Any) -> Any:
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        async with self._lock:
            self._proc.stdin.write(json.dumps(command).encode() + b"\n")
            await self._proc.stdin.drain()
            return json.loads(await self._proc.stdout.readline())

    async def mark(self) -> None:
        """See :meth:`FakesHost.mark`."""
        await self._ask(cmd="mark")

    async def watch(self, channels: list[str]) -> None:
        """See :meth:`FakesHost.watch`."""
        await self._ask(cmd="watch", channels=channels)

    async def progress(self) -> dict[str, int]:
        """See :meth:`FakesHost.progress`."""
        return dict(await self._ask(cmd="progress"))

    async def report(self, prefix: str) -> dict[str, Any]:
        """See :meth:`FakesHost.report`."""
        return dict(await self._ask(cmd="report", prefix=prefix))

    async def close(self) -> None:
        """Ask the helper to stop; kill it if it does not."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ask(cmd="stop"), 10)
        try:
            await asyncio.wait_for(self._proc.wait(), 10)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()


async def serve_fakes(options: FakeOptions) -> None:
    """The helper process: start the fakes, print their URLs, then answer commands read from stdin."""
    host = FakesHost(options)
    urls = await host.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_STREAM_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    loop.add_signal_handler(signal.SIGINT, lambda: None)  # the parent's Ctrl-C; it stops us itself

    def answer(value: object) -> None:
        sys.stdout.write(json.dumps(value) + "\n")
        sys.stdout.flush()

    answer(urls)
    try:
        while line := await reader.readline():
            command = json.loads(line)
            match command["cmd"]:
                case "mark":
                    host.mark()
                    answer({"ok": True})
                case "watch":
                    host.watch(command["channels"])
                    answer({"ok": True})
                case "progress":
                    answer(host.progress())
                case "report":
                    answer(host.report(command["prefix"]))
                case _:
                    answer({"ok": True})
                    break
    finally:
        await host.stop()


async def open_fakes(mode: str, options: FakeOptions, *, cpus: set[int] | None) -> Fakes:
    """The fakes for one step, here or in a helper process."""
    if mode == "inproc":
        return await LocalFakes.open(options)
    return await HelperFakes.open(options, cpus=cpus)
