"""CPU and memory of processes, from ``/proc``: the bot's, the benchmark's own, and the machine's.

What a step costs is read from the kernel's counters for each process (not sampled by a profiler), so the
figures hold whatever the processes run; the Bedrock client's share comes from the bot's own ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

    from benchmarks.load.results import StepResult
    from benchmarks.load.servers import Server


def cpu_self() -> float:
    """CPU seconds (user + system) this process has used."""
    times = os.times()
    return times.user + times.system


def proc_cpu_seconds(pid: int) -> float:
    """``utime + stime`` of ``pid`` in seconds, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # fields 14 and 15 of stat(5), counted after "(comm)"


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (``/proc/stat``, less idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


async def wait_for_quiet(within: float, *, busy_cores: float = 0.15) -> float:
    """Wait (at most ``within`` s) until the machine is nearly idle for a second; return the seconds waited.

    Other work on the machine (a test run, a build) competes for the same two cores and distorts every
    latency figure, so each step starts when the machine is quiet, and reports what else ran during it.
    """
    started = time.monotonic()
    while time.monotonic() - started < within:
        before = machine_busy_seconds()
        await asyncio.sleep(1.0)
        if machine_busy_seconds() - before < busy_cores:
            break
    return time.monotonic() - started


def proc_memory_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of ``pid`` in MB, from ``/proc/<pid>/status``."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0]) / 1024
    return {"rss": values.get("VmRSS", 0.0), "hwm": values.get("VmHWM", 0.0)}


class MemorySampler:
    """Samples the RSS of the bot's processes every 100 ms while a step runs (the largest one's)."""

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin sampling."""
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(OSError):
                rss = max(proc_memory_mb(pid)["rss"] for pid in self._pids)
                self.samples.append((time.monotonic(), rss))
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


LLM_CLIENT_CPU = "orch_bedrock_client_cpu_seconds_total"


async def llm_client_cpu_seconds(session: aiohttp.ClientSession, bots: list[Server]) -> float:
    """The CPU the bot's processes say their Bedrock client spent so far (``/metrics``, summed over models)."""
    total = 0.0
    for bot in bots:
        async with session.get(bot.metrics_url) as response:
            response.raise_for_status()
            text = await response.text()
        for line in text.splitlines():
            name, _, rest = line.partition("{")
            if name == LLM_CLIENT_CPU:
                total += float(rest.rpartition(" ")[2])
    return total


class Meter:
    """CPU and memory of the bot's processes (and the benchmark's Redis) from now until :meth:`read`.

    With ``llm_client_cpu`` (the bot's reading at the start, see :func:`llm_client_cpu_seconds`), :meth:`read`
    also needs the reading at the end, to tell the Bedrock client's CPU from the rest.
    """

    def __init__(self, bots: list[Server], *, redis_pid: int | None, llm_client_cpu: float | None = None) -> None:
        self._bots = bots
        self._redis_pid = redis_pid
        self._llm_client_cpu = llm_client_cpu
        self._cpu = {bot.pid: proc_cpu_seconds(bot.pid) for bot in bots}
        self._redis = proc_cpu_seconds(redis_pid) if redis_pid else 0.0
        self._driver = cpu_self()
        self._busy = machine_busy_seconds()
        self._started = time.monotonic()

    def read(self, result: StepResult, *, llm_client_cpu: float | None = None) -> float:
        """Fill in ``result``'s CPU, time and peak-memory figures; return the machine's busy CPU seconds."""
        spent = {bot.pid: proc_cpu_seconds(bot.pid) - self._cpu[bot.pid] for bot in self._bots}
        if self._llm_client_cpu is not None and llm_client_cpu is not None:
            result.llm_client_cpu_seconds = llm_client_cpu - self._llm_client_cpu
        result.cpu_seconds = sum(spent.values())
        result.ingress_cpu_seconds = spent[self._bots[0].pid]
        result.redis_cpu_seconds = proc_cpu_seconds(self._redis_pid) - self._redis if self._redis_pid else 0.0
        result.driver_cpu_seconds = cpu_self() - self._driver
        busy = machine_busy_seconds() - self._busy
        result.step_seconds = time.monotonic() - self._started
        peaks = [proc_memory_mb(bot.pid)["hwm"] for bot in self._bots]
        result.peak_rss_mb = max(peaks)
        result.total_peak_rss_mb = sum(peaks)
        return busy
