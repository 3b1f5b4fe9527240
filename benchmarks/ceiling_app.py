"""The ceiling: a bare Bolt ``AsyncApp`` that only acknowledges, served like orch-bot serves HTTP.

It has what every Bolt app on aiohttp pays for and nothing of ours: the same adapter
(``slack_bolt.adapter.aiohttp``'s ``to_bolt_request`` / ``to_aiohttp_response``), signature verification with
the same signing secret, Bolt's single-team authorization (one ``auth.test``, cached), and listeners that do no
work: ``/orchestrate`` only ``await ack()``, and ``app_mention`` is a no-op (Bolt acks events itself) so the
benchmark's events are answered 200 as orch-bot answers them. :mod:`benchmarks.load` drives it at the same
rates as the bot and prints our figures as ratios to these.

Settings come from the environment as for orch-bot: ``SLACK_SIGNING_SECRET``, ``SLACK_BOT_TOKEN`` and
``SLACK_API_URL`` (the fake Slack, for the one ``auth.test``). Run: ``python -m benchmarks.ceiling_app --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def build_app(*, token: str, signing_secret: str, api_url: str) -> AsyncApp:
    """A Bolt app configured like orch-bot's (HTTP mode) with listeners that only acknowledge."""
    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=api_url),
        signing_secret=signing_secret,
        process_before_response=False,
        logger=logging.getLogger("slack_bolt"),
    )

    @app.command("/orchestrate")
    async def orchestrate(ack: AsyncAck) -> None:
        await ack()

    @app.event("app_mention")
    async def on_mention() -> None:
        return None

    return app


def web_app(app: AsyncApp) -> web.Application:
    """``POST /slack/events`` through the aiohttp adapter, and ``GET /healthz``."""

    async def slack_events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    application = web.Application(client_max_size=2 * 1024 * 1024)
    application.router.add_post("/slack/events", slack_events)
    application.router.add_get("/healthz", healthz)
    return application


async def serve(host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    app = build_app(
        token=os.environ["SLACK_BOT_TOKEN"],
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        api_url=os.environ.get("SLACK_API_URL", "https://slack.com/api/"),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(web_app(app), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    """Command line: ``python -m benchmarks.ceiling_app [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling_app", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
