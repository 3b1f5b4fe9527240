"""Serving Slack: HTTP (``POST /slack/events``) or Socket Mode, until SIGTERM/SIGINT; or a worker.

By default one process acks Slack and runs the tasks. With a shared (Redis) store, ``work=False`` makes
it an ingress that acks, journals and queues tasks only, and :func:`run_worker` processes run them from
the queue: the ack path then keeps a core to itself, and task capacity grows with the workers.

Every mode serves ``GET /healthz`` (alive), ``GET /readyz`` (Slack auth works, the task store answers a
ping and, in Socket Mode, the connection has not been down longer than a grace period; the Bedrock circuit
breaker is shown, not judged) and ``GET /metrics`` (Prometheus): on the main port in HTTP mode, on
``ORCH_METRICS_PORT`` in Socket Mode and in a worker. On a signal the process stops taking work, lets running
tasks finish within the grace period, then exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from typing import TYPE_CHECKING

import structlog
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from agents.metrics import CONTENT_TYPE_LATEST
from bot.endpoint import SlackEndpoint
from bot.health import app_version
from bot.runtime import Runtime, open_runtime

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agents.settings import Settings

__all__ = ["continue_task", "run_http", "run_socket", "run_worker", "web_app"]

log = structlog.get_logger(__name__)
SOCKET_DOWN_GRACE = 30.0


def web_app(
    runtime: Runtime, *, slack: bool = True, extra_ready: Callable[[], str | None] | None = None
) -> web.Application:
    """Slack's endpoint (when ``slack``), and the probes and metrics every mode serves.

    ``extra_ready`` returns why the process is not ready (``None`` when it is), for checks only the
    caller knows about, such as the Socket Mode connection.
    """

    async def healthz(_: web.Request) -> web.Response:
        orchestrator = runtime.orchestrator
        return web.json_response(
            {
                "status": "ok",
                "version": app_version(),
                "uptime_seconds": round(orchestrator.uptime, 1),
                "in_flight": orchestrator.in_flight,
            }
        )

    async def readyz(_: web.Request) -> web.Response:
        problems: list[str] = []
        slack_check, store_check = await asyncio.gather(
            runtime.slack_probe.check(), runtime.orchestrator.store_health.check()
        )
        if slack_check.status != "healthy":
            problems.append(f"slack: {slack_check.detail}")
        if store_check.status == "unhealthy":
            problems.append(f"store: {store_check.detail}")
        if runtime.orchestrator.draining:
            problems.append("draining: the process is shutting down")
        extra = extra_ready() if extra_ready is not None else None
        if extra:
            problems.append(extra)
        body: dict[str, object] = {"status": "not ready" if problems else "ready", "problems": problems}
        breaker = runtime.orchestrator.model_health.breaker
        if breaker is not None:
            # Shown, never a reason to be unready: an open breaker answers users at once, and taking every
            # replica out of the load balancer would turn that answer into Slack's timeout.
            state = breaker.state
            body["bedrock_breaker"] = {"state": state.status, "detail": state.describe()}
        return web.json_response(body, status=503 if problems else 200)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=runtime.orchestrator.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    application = web.Application(client_max_size=2 * 1024 * 1024)
    if slack:
        endpoint = SlackEndpoint(runtime.app, runtime.settings.slack.signing_secret, runtime.orchestrator.metrics)
        application.router.add_post("/slack/events", endpoint.handle)
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/readyz", readyz)
    application.router.add_get("/metrics", metrics)
    return application


def _start_work(runtime: Runtime, *, work: bool = True) -> None:
    """Render tasks in Slack; with ``work``, run tasks from the queue (resuming what a restart left)."""
    if not work:
        log.info("server.ingress_only", detail="tasks are queued for orch-bot worker processes")
    runtime.orchestrator.start(runtime.edge, consume=work)


async def _drain(runtime: Runtime) -> None:
    """Refuse new work, let running tasks (local and from the queue) finish within the grace period."""
    await runtime.orchestrator.drain(runtime.settings.orch_shutdown_grace)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _serve(application: web.Application, host: str, port: int) -> tuple[web.AppRunner, web.TCPSite]:
    runner = web.AppRunner(application, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    return runner, site


async def run_http(settings: Settings, *, host: str, port: int, work: bool = True) -> None:
    """Serve Slack over HTTP until a signal arrives; without ``work``, only ack and queue tasks."""
    stop = _stop_on_signals()
    async with open_runtime(settings) as runtime:
        runner, site = await _serve(web_app(runtime), host, port)
        _start_work(runtime, work=work)
        log.info("server.listening", mode="http", url=f"http://{host}:{port}/slack/events", version=app_version())
        await stop.wait()
        log.info("server.stopping")
        # Keep answering while draining, so new requests hear "restarting, try again" rather than a refused
        # connection, and /readyz turns 503 for the load balancer; then close the listener.
        await _drain(runtime)
        await site.stop()
    await runner.cleanup()


class _SocketWatch:
    """Remembers since when the Socket Mode connection has been down (awaiting the SDK's coroutine check)."""

    def __init__(self, is_connected: Callable[[], Awaitable[bool]], *, grace: float = SOCKET_DOWN_GRACE) -> None:
        self._is_connected = is_connected
        self._grace = grace
        self._down_since: float | None = None

    async def watch(self, every: float = 2.0) -> None:
        while True:
            connected = await self._is_connected()
            if connected:
                self._down_since = None
            elif self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("socket.disconnected")
            await asyncio.sleep(every)

    def problem(self) -> str | None:
        if self._down_since is None:
            return None
        down = time.monotonic() - self._down_since
        return f"socket mode: disconnected for {down:.0f}s" if down > self._grace else None


async def run_socket(
    settings: Settings,
    *,
    metrics_host: str = "0.0.0.0",  # noqa: S104 - probes are scraped
    work: bool = True,
) -> None:
    """Serve Slack over Socket Mode until a signal arrives; probes and metrics on ``ORCH_METRICS_PORT``."""
    stop = _stop_on_signals()
    async with open_runtime(settings) as runtime:
        handler = AsyncSocketModeHandler(runtime.app, settings.slack.app_token)
        started = time.perf_counter()
        await handler.connect_async()  # type: ignore[no-untyped-call]
        _start_work(runtime, work=work)
        watch = _SocketWatch(handler.client.is_connected)
        watcher = asyncio.create_task(watch.watch(), name="socket-watch")
        probes: tuple[web.AppRunner, web.TCPSite] | None = None
        if settings.orch_metrics_port:
            probes = await _serve(
                web_app(runtime, slack=False, extra_ready=watch.problem), metrics_host, settings.orch_metrics_port
            )
        log.info(
            "server.listening",
            mode="socket",
            connect_ms=round((time.perf_counter() - started) * 1000),
            metrics_port=settings.orch_metrics_port or None,
            version=app_version(),
        )
        await stop.wait()
        log.info("server.stopping")
        await _drain(runtime)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await handler.close_async()  # type: ignore[no-untyped-call]
    if probes is not None:
        await probes[0].cleanup()


async def run_worker(settings: Settings, *, metrics_host: str = "0.0.0.0") -> None:  # noqa: S104 - probes are scraped
    """Run queued tasks (from ingress processes) until a signal arrives; probes on ``ORCH_METRICS_PORT``."""
    if settings.orch_worker_nice:
        # On a host shared with the ingress, the ack path (3 s deadline) gets the CPU first.
        os.nice(settings.orch_worker_nice)
    stop = _stop_on_signals()
    async with open_runtime(settings) as runtime:
        _start_work(runtime)
        probes: tuple[web.AppRunner, web.TCPSite] | None = None
        if settings.orch_metrics_port:
            probes = await _serve(web_app(runtime, slack=False), metrics_host, settings.orch_metrics_port)
        log.info("worker.running", metrics_port=settings.orch_metrics_port or None, version=app_version())
        await stop.wait()
        log.info("worker.stopping")
        await _drain(runtime)
    if probes is not None:
        await probes[0].cleanup()


async def continue_task(settings: Settings, request_id: str, result: str) -> int:
    """Continue the suspended task ``request_id`` with ``result`` here, until it has answered; 1 if none waits."""
    async with open_runtime(settings) as runtime:
        runtime.orchestrator.start(runtime.edge, consume=False)
        if not await runtime.orchestrator.continue_task(request_id, result):
            log.warning("task.not_waiting", request_id=request_id)
            return 1
        await _drain(runtime)
    return 0
