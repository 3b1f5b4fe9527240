"""Serving Slack: HTTP (``POST /slack/events``, ``GET /healthz``) or Socket Mode, until SIGTERM/SIGINT.

On a signal the process stops taking work (the listener closes), lets running tasks finish within the
grace period, then exits.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import TYPE_CHECKING

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from bot.health import app_version
from bot.runtime import Runtime, open_runtime

if TYPE_CHECKING:
    from agents.settings import Settings

__all__ = ["run_http", "run_socket", "web_app"]

log = structlog.get_logger(__name__)


def web_app(runtime: Runtime) -> web.Application:
    """The aiohttp application: Slack's endpoint and a liveness probe."""

    async def slack_events(request: web.Request) -> web.Response:
        bolt_response = await runtime.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

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

    application = web.Application(client_max_size=2 * 1024 * 1024)
    application.router.add_post("/slack/events", slack_events)
    application.router.add_get("/healthz", healthz)
    return application


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_http(settings: Settings, *, host: str, port: int) -> None:
    """Serve Slack over HTTP until a signal arrives."""
    stop = _stop_on_signals()
    async with open_runtime(settings, "http") as runtime:
        runner = web.AppRunner(web_app(runtime), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        log.info("server.listening", mode="http", url=f"http://{host}:{port}/slack/events", version=app_version())
        await stop.wait()
        log.info("server.stopping")
        # Stop accepting new connections first; the runtime then drains running tasks.
        await site.stop()
    await runner.cleanup()


async def run_socket(settings: Settings) -> None:
    """Serve Slack over Socket Mode until a signal arrives."""
    stop = _stop_on_signals()
    async with open_runtime(settings, "socket") as runtime:
        handler = AsyncSocketModeHandler(runtime.app, settings.slack.app_token)
        started = time.perf_counter()
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info(
            "server.listening",
            mode="socket",
            connect_ms=round((time.perf_counter() - started) * 1000),
            version=app_version(),
        )
        await stop.wait()
        log.info("server.stopping")
        await handler.close_async()  # type: ignore[no-untyped-call]
