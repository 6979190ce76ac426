"""What every bulk operation shares: the report types and a bounded worker pool."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

import attrs

from ._bulk_rows import RowError
from ._errors import ClerkAPIError, ClerkConnectionError, ClerkTimeoutError
from ._transport import Transport

__all__ = [
    "BulkFailure",
    "BulkOutcome",
    "BulkProgress",
    "BulkReport",
    "ProgressCallback",
    "aiter_any",
    "check_concurrency",
    "default_concurrency",
    "error_fields",
    "run_pool",
]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class BulkFailure:
    """One row that did not make it: where it was, and Clerk's (or our) reason."""

    row: int
    key: str
    code: str
    message: str
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen(kw_only=True, slots=True)
class BulkOutcome:
    """One row that made it: its key and the Clerk user it now is."""

    row: int
    key: str
    status: str  # "created", "existed" or "updated"
    user_id: str


@attrs.define(kw_only=True)
class BulkReport:
    """What a bulk run did. ``failures`` lists every failed row, in finishing order.

    ``validated`` counts rows a ``dry_run`` checked without sending;
    ``unprotected`` counts rows that had no unique identifier (see the module
    notes on why they matter).
    """

    created: int = 0
    existed: int = 0
    updated: int = 0
    failed: int = 0
    skipped_from_journal: int = 0
    validated: int = 0
    unprotected: int = 0
    failures: list[BulkFailure] = attrs.field(factory=list)
    #: Every successful row with its user id (the mapping a migration needs),
    #: unless the run was started with ``keep_outcomes=False``.
    outcomes: list[BulkOutcome] = attrs.field(factory=list)

    @property
    def done(self) -> int:
        return (self.created + self.existed + self.updated + self.failed
                + self.skipped_from_journal + self.validated)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def add_failure(self, row: int, key: str, exc: BaseException) -> BulkFailure:
        code, message = error_fields(exc)
        field = exc.field if isinstance(exc, RowError) else None
        failure = BulkFailure(row=row, key=key, code=code, message=message, field=field)
        self.failed += 1
        self.failures.append(failure)
        return failure


@attrs.frozen
class BulkProgress:
    """A progress snapshot for a UI. ``total`` is None when the input has no length."""

    done: int
    total: int | None
    created: int
    failed: int
    rate_per_s: float
    quota_wait_s: float
    existed: int = 0
    updated: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0


ProgressCallback = Callable[[BulkProgress], object]


def default_concurrency(transport: Transport) -> int:
    """Enough requests in flight to use the quota at ~0.5 s per request, within 4..64."""
    quota = transport.instance_quota
    if quota is None:
        return 16
    return int(max(4, min(64, math.ceil(quota.requests / quota.period * 0.5))))


def check_concurrency(concurrency: int | None, transport: Transport) -> int:
    if concurrency is None:
        return default_concurrency(transport)
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


def error_fields(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, ClerkAPIError):
        detail = exc.errors[0] if exc.errors else None
        message = (detail.long_message or detail.message) if detail else str(exc)
        return exc.code or str(exc.status), message
    if isinstance(exc, ClerkConnectionError):
        kind = "timeout" if isinstance(exc, ClerkTimeoutError) else "connection_error"
        return kind, str(exc)
    if isinstance(exc, RowError):
        return "invalid_row", exc.message
    return type(exc).__name__, str(exc)
