"""AWS clients for the tools: async (aiobotocore), one per service, opened once and shared.

Credentials, region and endpoints come from the standard chain and environment (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_<SERVICE>``); nothing is hard-coded. botocore's standard retry mode handles throttling
of these read calls, as the only retry layer for them.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any, Self

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

__all__ = ["AwsClients"]


class AwsClients:
    """Lazily opened, process-wide aiobotocore clients. Use as an async context manager."""

    def __init__(self, *, region: str, max_connections: int = 50, session: AioSession | None = None) -> None:
        self.region = region
        self._session = session or AioSession()
        self._config = AioConfig(
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=max_connections,
            connect_timeout=5,
            read_timeout=30,
        )
        self._stack = AsyncExitStack()
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def client(self, service: str, *, region: str | None = None) -> Any:
        """The shared client for ``service`` (e.g. ``"cloudwatch"``) in ``region`` (default: the bot's).

        Some APIs answer only in one region (AWS Health and Cost Explorer in us-east-1): pass it.
        """
        key = (service, region or self.region)
        existing = self._clients.get(key)
        if existing is not None:
            return existing
        async with self._lock:
            if key not in self._clients:
                creator = self._session.create_client(  # type: ignore[call-overload]
                    service, region_name=key[1], config=self._config
                )
                self._clients[key] = await self._stack.enter_async_context(creator)
            return self._clients[key]

    async def close(self) -> None:
        """Close every client opened so far."""
        self._clients.clear()
        await self._stack.aclose()
