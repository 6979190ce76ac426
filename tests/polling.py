"""Bounded waiting for tests: every poll and every walk has a deadline.

A regression that makes a condition never come true (a counter that stays at
zero, a cursor that never advances) must fail the test with a message naming
what was awaited, not hang the suite until CI's job limit. pytest-timeout is
the last line of defence; these helpers fail sooner and say why.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator

DEFAULT_TIMEOUT = 10.0


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]],
    *,
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = 0.005,
) -> None:
    """Poll ``predicate`` (plain or async) until it is true; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)


def at_most(steps: int, what: str) -> Iterator[int]:
    """Step counter for a loop that must ``break`` within ``steps`` steps.

    ``for _ in at_most(20, "paging"): ...`` raises AssertionError naming the
    loop when it runs out, instead of looping forever.
    """
    yield from range(steps)
    raise AssertionError(f"{what} did not finish within {steps} steps")


def deadline_passed(started: float, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """For loops in worker threads: True once ``timeout`` seconds have passed since ``started``
    (a ``time.monotonic()`` reading)."""
    return time.monotonic() - started >= timeout
