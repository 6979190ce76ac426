"""A bounded worker pool for bulk runs, sized from the client's quota."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

from .._ratelimit import Quota

__all__ = ["aiter_any", "check_concurrency", "default_concurrency", "run_pool"]

T = TypeVar("T")


def default_concurrency(quota: Quota | None) -> int:
    """Enough requests in flight to use the quota at ~0.5 s per request, within 4..64."""
    if quota is None:
        return 16
    return int(max(4, min(64, math.ceil(quota.requests / quota.period * 0.5))))


def check_concurrency(concurrency: int | None, quota: Quota | None) -> int:
    if concurrency is None:
        return default_concurrency(quota)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
    return concurrency


async def aiter_any(items: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
        return
    for count, item in enumerate(items):
        yield item
        if count % 256 == 255:
            await asyncio.sleep(0)  # a long run of skipped rows must not starve the loop


async def run_pool(source: AsyncIterator[T], handle: Callable[[T], Awaitable[None]],
                concurrency: int) -> None:
    """Run ``handle`` on every item with at most ``concurrency`` in flight.

    The queue holds a couple of items per worker: enough to keep them busy,
    never enough to pull a large input into memory.
    """
    queue: asyncio.Queue[T | None] = asyncio.Queue(maxsize=concurrency * 2)

    async def worker() -> None:
        while (item := await queue.get()) is not None:
            await handle(item)

    async def produce() -> None:
        async for item in source:
            await queue.put(item)
        for _ in range(concurrency):
            await queue.put(None)

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    tasks = [asyncio.create_task(produce()), *workers]
    try:
        # A failing worker must also stop the producer, which may be blocked on
        # a full queue that nobody else will drain.
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
