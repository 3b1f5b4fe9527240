"""Which event loop the server runs on (``ORCH_EVENT_LOOP``)."""

from __future__ import annotations

import asyncio

import uvloop

from bot.cli import event_loop_factory


def test_auto_and_uvloop_pick_uvloop_and_asyncio_picks_the_standard_loop() -> None:
    """Uvloop is a dependency on CPython/Linux, so ``auto`` uses it; ``asyncio`` keeps the standard loop."""
    assert event_loop_factory("auto") is uvloop.new_event_loop
    assert event_loop_factory("uvloop") is uvloop.new_event_loop
    assert event_loop_factory("asyncio") is None
    loop = uvloop.new_event_loop()
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        loop.close()
