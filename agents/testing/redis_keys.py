"""Cleaning up after tests and benchmarks that share a Redis: each works under its own key prefix."""

from __future__ import annotations

from redis.asyncio import Redis

__all__ = ["delete_prefix"]


async def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key starting with ``prefix``, so a shared Redis is left as it was found."""
    redis = Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await redis.delete(*keys[start : start + 1000])
    finally:
        await redis.aclose()
