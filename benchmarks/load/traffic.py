"""The load: signed Slack requests built ahead of time, sent open loop on a clock or closed loop, each ack timed."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

from bot.testing.environment import SIGNING_SECRET
from bot.testing.slack import app_mention_event, event_callback, sign_request, slash_command_form

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

TASK = "why do ALB 502s happen right after a deploy, and what should we check first?"


@dataclass(slots=True)
class Outbound:
    """One signed request, built before the step so the sender only sends."""

    kind: str  # "command" or "event"
    channel: str
    body: bytes
    headers: dict[str, str]


@dataclass(slots=True)
class Ack:
    """What came back for one request."""

    kind: str
    channel: str
    planned: float  # when the clock said to send it (time.monotonic)
    sent: float  # when it was sent
    ms: float  # ack latency, from send to the whole response read
    status: int  # 0: no HTTP response (timeout, connection error)
    accepted: bool  # 200 and, for a command, an empty body (a refusal is a 200 with a private message)
    error: str | None = None


@dataclass(frozen=True)
class LoadShape:
    """What the requests look like."""

    mention_share: float  # share of requests that are app_mention events (the rest are /orchestrate)
    users: int  # distinct user ids, round robin
    agent_prefix: bool  # "general: …" skips the routing call
    response_root: str


def build_request(index: int, prefix: str, shape: LoadShape) -> Outbound:
    """Request ``index`` of a step: its own channel (``{prefix}{index:07d}``), user ``index % users``."""
    channel = f"{prefix}{index:07d}"
    user = f"UB{index % shape.users:05d}"
    task = f"{'general: ' if shape.agent_prefix else ''}bench-{channel} {TASK}"
    is_event = int((index + 1) * shape.mention_share) > int(index * shape.mention_share)
    if is_event:
        ts = f"{1_700_000_000 + index}.000100"
        event = app_mention_event(text=f"<@UBOT> {task}", user=user, channel=channel, ts=ts)
        body = json.dumps(event_callback(event, event_id=f"Ev{prefix}{index:07d}")).encode()
        headers = {"Content-Type": "application/json", **sign_request(body, SIGNING_SECRET)}
        return Outbound("event", channel, body, headers)
    body = slash_command_form(
        text=task, user_id=user, user_name=user.lower(), channel_id=channel, response_url=shape.response_root + channel
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign_request(body, SIGNING_SECRET)}
    return Outbound("command", channel, body, headers)


async def send(session: aiohttp.ClientSession, url: str, out: Outbound, planned: float) -> Ack:
    """POST one request and time its ack."""
    sent = time.monotonic()
    try:
        async with session.post(url, data=out.body, headers=out.headers) as response:
            text = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        ms = (time.monotonic() - sent) * 1000
        return Ack(out.kind, out.channel, planned, sent, ms, 0, accepted=False, error=type(exc).__name__)
    ms = (time.monotonic() - sent) * 1000
    accepted = status == 200 and (out.kind == "event" or not text.strip())
    error = None if accepted else (f"HTTP {status}" if status != 200 else "refused")
    return Ack(out.kind, out.channel, planned, sent, ms, status, accepted, error)


async def drive_open_loop(
    session: aiohttp.ClientSession, url: str, requests: Sequence[Outbound], rate: float
) -> list[Ack]:
    """Send ``requests`` at ``rate`` per second on a fixed clock, each without waiting for the others."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    pending = []
    for index, out in enumerate(requests):
        planned = start + index / rate
        delay = planned - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(send(session, url, out, planned)))
    return list(await asyncio.gather(*pending))


async def drive_closed_loop(
    session: aiohttp.ClientSession,
    url: str,
    make: Callable[[int], Outbound],
    *,
    concurrency: int,
    duration: float,
) -> list[Ack]:
    """``concurrency`` senders, each sending its next request as soon as the last is acked, for ``duration``."""
    deadline = time.monotonic() + duration
    acks: list[Ack] = []
    counter = iter(range(10**9))

    async def worker() -> None:
        while time.monotonic() < deadline:
            out = make(next(counter))
            acks.append(await send(session, url, out, time.monotonic()))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return acks
