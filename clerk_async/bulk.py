"""Bulk work on users: import (``bulk_create``), export, metadata changes.

The importer reads its rows lazily through a bounded queue, so memory stays
flat however long the input is. Clerk's create call has no idempotency key,
so the importer itself makes repeats harmless: after an outcome it cannot
know (a timeout, a dropped connection, a 5xx) it looks the user up by the
row's unique identifiers before trying again, and an "identifier exists"
answer to a row it may already have sent counts as its own creation. The
journal records every finished row, so a rerun after any crash skips them.

Rows without any unique identifier (no external_id, email, phone, username
or wallet) cannot be looked up: an ambiguous failure of such a row is
reported as failed rather than retried, and a crash while one is in flight
may leave it created without a journal line. :attr:`BulkReport.unprotected`
counts them.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import random
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sized,
)
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar

import attrs

from ._bulk_rows import (
    RowError,
    count_rows,
    identifiers,
    params_from_row,
    read_rows,
    row_key,
)
from ._convert import check_json_value, dumps, unstructure
from ._errors import (
    AuthenticationError,
    ClerkAPIError,
    ClerkConnectionError,
    ClerkError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
)
from ._journal import Journal
from ._types import UNSET
from .models import CreateUserParams, UpdateUserParams, User

if TYPE_CHECKING:
    from .resources.users import Users

__all__ = [
    "BulkFailure",
    "BulkProgress",
    "BulkReport",
    "MetadataUpdate",
    "OnExists",
    "ProgressCallback",
    "RowError",
    "RowInput",
    "count_rows",
    "read_rows",
]

T = TypeVar("T")
OnExists = Literal["skip", "update", "error"]
RowValue = Mapping[str, Any] | CreateUserParams
#: A row, or ``(row number, row)`` as :func:`read_rows` yields (a RowError in
#: place of the row reports a line that could not be read).
RowInput = RowValue | tuple[int, RowValue | RowError]
MetadataUpdate = tuple[str, Mapping[str, Any]]

_MAX_ATTEMPTS = 6
_MAX_BACKOFF = 8.0
_METADATA = ("public_metadata", "private_metadata", "unsafe_metadata")
_UPDATABLE = tuple(
    a.name for a in attrs.fields(CreateUserParams)
    if a.name in attrs.fields_dict(UpdateUserParams)
)


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

    @property
    def done(self) -> int:
        return (self.created + self.existed + self.updated + self.failed
                + self.skipped_from_journal + self.validated)

    @property
    def ok(self) -> bool:
        return self.failed == 0


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


def default_concurrency(transport: object) -> int:
    """Enough requests in flight to use the quota at ~0.5 s per request, within 4..64."""
    quota = getattr(transport, "instance_quota", None)
    requests, period = getattr(quota, "requests", None), getattr(quota, "period", None)
    if not requests or not period:
        return 16
    return int(max(4, min(64, math.ceil(requests / period * 0.5))))


def _quota_wait(transport: object) -> float:
    # The limiter's running total of time spent waiting for a slot, if the
    # client exposes one; the import works without it.
    stats = getattr(transport, "stats", None)
    for name in ("quota_wait_s", "quota_wait"):
        value = getattr(stats, name, None)
        if isinstance(value, int | float):
            return float(value)
    return 0.0


def _check_concurrency(concurrency: int | None, transport: object) -> int:
    if concurrency is None:
        return default_concurrency(transport)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
    return concurrency


async def _aiter(items: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
        return
    for count, item in enumerate(items):
        yield item
        if count % 256 == 255:
            await asyncio.sleep(0)  # a long run of skipped rows must not starve the loop


async def _pool(source: AsyncIterator[T], handle: Callable[[T], Awaitable[None]],
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


def _error_fields(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, ClerkAPIError):
        detail = exc.errors[0] if exc.errors else None
        message = (detail.long_message or detail.message) if detail else str(exc)
        return exc.code or str(exc.status), message
    if isinstance(exc, ClerkConnectionError):
        kind = "timeout" if "timed out" in str(exc) else "connection_error"
        return kind, str(exc)
    if isinstance(exc, RowError):
        return "invalid_row", exc.message
    return type(exc).__name__, str(exc)


def _raw_key(value: object, row_number: int) -> str:
    """Best-effort key of a row that failed validation, for the report."""
    if isinstance(value, Mapping):
        ext, emails = value.get("external_id"), value.get("email_address")
        if isinstance(ext, str) and ext:
            return ext
        if isinstance(emails, str) and emails:
            return emails
        if isinstance(emails, list) and emails and isinstance(emails[0], str):
            return emails[0]
    return f"#{row_number}"


def filters_for(name: str, values: list[str]) -> Any:
    # Typed loosely: the filter name is only known at run time.
    return {name: values}


class _Ambiguous(ClerkError):
    """A create of a row without identifiers may or may not have happened."""


class _Importer:
    def __init__(self, users: Users, *, on_exists: OnExists, journal: Journal | None,
                 progress: ProgressCallback | None, total: int | None,
                 dry_run: bool) -> None:
        self.users = users
        self.transport = users._transport
        self.on_exists = on_exists
        self.journal = journal
        self.progress = progress
        self.total = total
        self.dry_run = dry_run
        self.report = BulkReport()
        self.started = time.monotonic()
        self.wait_at_start = _quota_wait(self.transport)
        self.last_emit = 0.0
        retry = getattr(self.transport, "retry", None)
        self.base_delay = float(getattr(retry, "base_delay", 0.5))
        self.rng = random.Random()

    # -- bookkeeping ---------------------------------------------------------------

    def emit(self, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if not force and now - self.last_emit < 0.1:
            return
        self.last_emit = now
        r = self.report
        elapsed = max(now - self.started, 1e-9)
        self.progress(BulkProgress(
            r.done, self.total, r.created, r.failed,
            (r.done - r.skipped_from_journal) / elapsed,
            max(0.0, _quota_wait(self.transport) - self.wait_at_start),
            existed=r.existed, updated=r.updated, skipped=r.skipped_from_journal,
            elapsed_s=elapsed,
        ))

    def succeed(self, row: int, key: str, outcome: str, user_id: str) -> None:
        setattr(self.report, outcome, getattr(self.report, outcome) + 1)
        if self.journal is not None:
            self.journal.record(key, row, outcome, user_id=user_id)
        self.emit()

    def fail(self, row: int, key: str, exc: BaseException) -> None:
        code, message = _error_fields(exc)
        field = exc.field if isinstance(exc, RowError) else None
        self.report.failed += 1
        self.report.failures.append(
            BulkFailure(row=row, key=key, code=code, message=message, field=field)
        )
        if self.journal is not None:
            self.journal.record(key, row, "failed", error={"code": code, "message": message})
        self.emit()

    # -- input ------------------------------------------------------------------------

    async def rows(self, source: Iterable[RowInput] | AsyncIterable[RowInput]
                   ) -> AsyncIterator[tuple[int, str, CreateUserParams]]:
        """The rows still to send; bad rows and rows done earlier are settled here."""
        number = 0
        async for item in _aiter(source):
            number += 1
            value: object = item
            if isinstance(item, tuple):
                number, value = item
            if isinstance(value, RowError):
                self.fail(number, f"#{number}", value)
                continue
            try:
                params = params_from_row(value)  # type: ignore[arg-type]
            except RowError as exc:
                self.fail(number, _raw_key(value, number), exc)
                continue
            key = row_key(params, number)
            if self.journal is not None and key in self.journal.done:
                self.report.skipped_from_journal += 1
                self.emit()
                continue
            yield number, key, params

    # -- one row ------------------------------------------------------------------------

    async def handle(self, item: tuple[int, str, CreateUserParams]) -> None:
        number, key, params = item
        if self.dry_run:
            self.report.validated += 1
            self.emit()
            return
        ids = identifiers(params)
        if not ids:
            self.report.unprotected += 1
        try:
            outcome, user_id = await self.create(params, ids)
        except (AuthenticationError, PermissionDeniedError):
            raise  # every other row would fail the same way: stop the run
        except (ClerkError, ValueError, TypeError) as exc:
            self.fail(number, key, exc)
            return
        self.succeed(number, key, outcome, user_id)

    async def backoff(self, attempt: int) -> None:
        delay = min(_MAX_BACKOFF, self.base_delay * 2 ** attempt)
        await asyncio.sleep(self.rng.uniform(0, delay))

    async def create(self, params: CreateUserParams,
                     ids: list[tuple[str, list[str]]]) -> tuple[str, str]:
        ambiguous = False
        last: ClerkError | None = None
        for attempt in range(_MAX_ATTEMPTS):
            if attempt:
                await self.backoff(attempt - 1)
            if ambiguous:
                if not ids:
                    raise _Ambiguous(
                        "the create may or may not have happened, and the row has no "
                        "unique identifier to check with; not retried to avoid a duplicate"
                    ) from last
                found = await self.lookup(ids, None, quiet=True)
                if found is not None:
                    return "created", found.id
            try:
                user = await self.users.create_from(params)
                return "created", user.id
            except UnprocessableEntityError as exc:
                if exc.code != "form_identifier_exists":
                    raise
                param = (exc.errors[0].meta or {}).get("param_name") if exc.errors else None
                if ambiguous:
                    # Our own earlier attempt most likely made it.
                    found = await self.lookup(ids, param, quiet=True)
                    if found is not None:
                        return "created", found.id
                return await self.exists(params, ids, param, exc)
            except RateLimitError as exc:
                last = exc
            except ServerError as exc:
                last, ambiguous = exc, True
            except ClerkConnectionError as exc:
                last, ambiguous = exc, ambiguous or exc.request_sent
        assert last is not None
        raise last

    async def lookup(self, ids: list[tuple[str, list[str]]], prefer: object, *,
                     quiet: bool = False) -> User | None:
        ordered = sorted(ids, key=lambda pair: pair[0] != prefer)
        for name, values in ordered:
            try:
                page = await self.users.list(limit=1, **filters_for(name, values))
            except ClerkError:
                if quiet:
                    return None  # can't tell yet; the caller tries again
                raise
            if page:
                return page[0]
        return None

    async def exists(self, params: CreateUserParams, ids: list[tuple[str, list[str]]],
                     param: object, exc: UnprocessableEntityError) -> tuple[str, str]:
        if self.on_exists == "error":
            raise exc
        found = await self.lookup(ids, param)
        if found is None:
            raise exc
        if self.on_exists == "skip":
            return "existed", found.id
        await self.update(found.id, params)
        return "updated", found.id

    async def update(self, user_id: str, params: CreateUserParams) -> None:
        fields = {n: getattr(params, n) for n in _UPDATABLE}
        fields = {n: v for n, v in fields.items() if v is not UNSET}
        for name in ("password_digest", "password_hasher"):
            if fields.get(name, UNSET) is None:
                del fields[name]
        if fields:
            await self.users.update(user_id, **fields)
        meta = {n: getattr(params, n) for n in _METADATA}
        meta = {n: v for n, v in meta.items() if v is not UNSET and v is not None}
        if meta:
            await self.users.update_metadata(user_id, **meta)


async def bulk_create(
    users: Users,
    rows: Iterable[RowInput] | AsyncIterable[RowInput],
    *,
    concurrency: int | None = None,
    journal: str | os.PathLike[str] | None = None,
    on_exists: OnExists = "skip",
    progress: ProgressCallback | None = None,
    dry_run: bool = False,
) -> BulkReport:
    """The engine behind ``clerk.users.bulk_create``; see its docstring."""
    if on_exists not in ("skip", "update", "error"):
        raise ValueError(f"on_exists must be 'skip', 'update' or 'error', got {on_exists!r}")
    workers = _check_concurrency(concurrency, users._transport)
    total: int | None = len(rows) if isinstance(rows, Sized) else None
    book = Journal(journal) if journal is not None else None
    if book is not None:
        await book.open()
    importer = _Importer(users, on_exists=on_exists, journal=book, progress=progress,
                         total=total, dry_run=dry_run)
    try:
        await _pool(importer.rows(rows), importer.handle, workers)
    finally:
        if book is not None:
            await book.close()
    importer.emit(force=True)
    return importer.report


# --------------------------------------------------------------------------- metadata


def _metadata_of(update: object) -> tuple[str, dict[str, Any]]:
    if not isinstance(update, tuple) or len(update) != 2:
        raise RowError(None, "each update must be a (user_id, {metadata}) pair")
    user_id, values = update
    if not isinstance(user_id, str) or not user_id:
        raise RowError("user_id", "must be a non-empty string")
    if not isinstance(values, Mapping):
        raise RowError(None, f"metadata must be a dict, got {type(values).__name__}")
    for name, value in values.items():
        if name not in _METADATA:
            raise RowError(str(name), "unknown field (use public/private/unsafe_metadata)")
        if value is not None and not isinstance(value, Mapping):
            raise RowError(name, f"must be a JSON object, got {type(value).__name__}")
        try:
            check_json_value(value, name)
        except ValueError as exc:
            raise RowError(name, str(exc)) from None
    return user_id, {k: dict(v) for k, v in values.items() if v is not None}


async def bulk_update_metadata(
    users: Users,
    updates: Iterable[MetadataUpdate] | AsyncIterable[MetadataUpdate],
    *,
    concurrency: int | None = None,
) -> BulkReport:
    """The engine behind ``clerk.users.bulk_update_metadata``."""
    workers = _check_concurrency(concurrency, users._transport)
    importer = _Importer(users, on_exists="error", journal=None, progress=None, total=None,
                         dry_run=False)

    async def source() -> AsyncIterator[tuple[int, str, dict[str, Any]]]:
        number = 0
        async for update in _aiter(updates):
            number += 1
            try:
                user_id, values = _metadata_of(update)
            except RowError as exc:
                importer.fail(number, _raw_update_key(update, number), exc)
                continue
            yield number, user_id, values

    async def handle(item: tuple[int, str, dict[str, Any]]) -> None:
        number, user_id, values = item
        last: ClerkError | None = None
        # A merge with the same values is idempotent, so unlike creates these
        # are safe to repeat after any transient failure.
        for attempt in range(_MAX_ATTEMPTS):
            if attempt:
                await importer.backoff(attempt - 1)
            try:
                await users.update_metadata(user_id, **values)
            except (RateLimitError, ServerError, ClerkConnectionError) as exc:
                last = exc
                continue
            except (ClerkError, ValueError, TypeError) as exc:
                importer.fail(number, user_id, exc)
                return
            importer.succeed(number, user_id, "updated", user_id)
            return
        assert last is not None
        importer.fail(number, user_id, last)

    await _pool(source(), handle, workers)
    return importer.report


def _raw_update_key(update: object, number: int) -> str:
    if isinstance(update, tuple) and update and isinstance(update[0], str) and update[0]:
        return update[0]
    return f"#{number}"


# --------------------------------------------------------------------------- export


async def export(users: Users, target: str | os.PathLike[str] | IO[Any]) -> int:
    """The engine behind ``clerk.users.export``: every user as one JSON line."""
    if isinstance(target, str | os.PathLike):
        handle: IO[Any] = await asyncio.to_thread(open, target, "wb")
        try:
            return await _export_to(users, handle, text=False)
        finally:
            await asyncio.to_thread(handle.close)
    return await _export_to(users, target, text=isinstance(target, io.TextIOBase))


async def _export_to(users: Users, handle: IO[Any], *, text: bool) -> int:
    count = 0
    lines: list[bytes] = []

    def write(chunk: list[bytes]) -> None:
        data = b"".join(chunk)
        handle.write(data.decode("utf-8") if text else data)

    async for user in users.iter():
        lines.append(dumps(unstructure(user)) + b"\n")
        count += 1
        if len(lines) >= 500:
            await asyncio.to_thread(write, lines)
            lines = []
    if lines:
        await asyncio.to_thread(write, lines)
    await asyncio.to_thread(handle.flush)
    return count
