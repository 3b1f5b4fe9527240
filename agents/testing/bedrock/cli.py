"""``python -m agents.testing.bedrock``: a fake Bedrock on its own, for trying the bot or a client by hand."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING

from agents.testing.bedrock.server import FakeBedrock

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["run_cli"]


async def _serve_forever(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    fake = FakeBedrock(
        latency=args.latency,
        chunk_delay=args.chunk_delay,
        chunk_size=args.chunk_size,
        host=args.host,
        port=args.port,
    )
    async with fake:
        sys.stdout.write(f"{fake.endpoint_url}\n")
        sys.stdout.flush()
        await stop.wait()


def run_cli(argv: Sequence[str] | None = None) -> None:
    """Serve a :class:`FakeBedrock` until SIGINT/SIGTERM, printing its endpoint URL as the first line."""
    parser = argparse.ArgumentParser(
        prog="python -m agents.testing.bedrock", description="Fake Amazon Bedrock Runtime server."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each response")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between streamed deltas")
    parser.add_argument("--chunk-size", type=int, default=16, help="characters per streamed delta")
    asyncio.run(_serve_forever(parser.parse_args(argv)))
