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
import os
import random
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Mapping,
    Sized,
)
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs

from ._bulk_common import (
    BulkFailure,
    BulkOutcome,
    BulkProgress,
    BulkReport,
    ProgressCallback,
    aiter_any,
    check_concurrency,
    run_pool,
)
from ._bulk_export import bulk_update_metadata, export
from ._bulk_rows import (
    RowError,
    count_rows,
    identifiers,
    params_from_row,
    read_rows,
    row_key,
)
from ._errors import (
    AuthenticationError,
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
    "BulkOutcome",
    "BulkProgress",
    "BulkReport",
    "bulk_update_metadata",
    "export",
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
                 dry_run: bool, keep_outcomes: bool) -> None:
        self.users = users
        self.keep_outcomes = keep_outcomes
        self.transport = users._transport
        self.on_exists = on_exists
        self.journal = journal
        self.progress = progress
        self.total = total
        self.dry_run = dry_run
        self.report = BulkReport()
        self.started = time.monotonic()
        self.wait_at_start = self.transport.stats.quota_wait
        self.last_emit = 0.0
        retry = self.transport.retry
        self.base_delay = retry.base_delay if retry is not None else 0.5
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
            max(0.0, self.transport.stats.quota_wait - self.wait_at_start),
            existed=r.existed, updated=r.updated, skipped=r.skipped_from_journal,
            elapsed_s=elapsed,
        ))

    def succeed(self, row: int, key: str, outcome: str, user_id: str) -> None:
        setattr(self.report, outcome, getattr(self.report, outcome) + 1)
        if self.keep_outcomes:
            self.report.outcomes.append(BulkOutcome(row=row, key=key, status=outcome,
                                                    user_id=user_id))
        if self.journal is not None:
            self.journal.record(key, row, outcome, user_id=user_id)
        self.emit()

    def fail(self, row: int, key: str, exc: BaseException) -> None:
        failure = self.report.add_failure(row, key, exc)
        if self.journal is not None:
            error = {"code": failure.code, "message": failure.message}
            self.journal.record(key, row, "failed", error=error)
        self.emit()

    # -- input ------------------------------------------------------------------------

    async def rows(self, source: Iterable[RowInput] | AsyncIterable[RowInput]
                   ) -> AsyncIterator[tuple[int, str, CreateUserParams]]:
        """The rows still to send; bad rows and rows done earlier are settled here."""
        number = 0
        async for item in aiter_any(source):
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
    keep_outcomes: bool = True,
) -> BulkReport:
    """The engine behind ``clerk.users.bulk_create``; see its docstring."""
    if on_exists not in ("skip", "update", "error"):
        raise ValueError(f"on_exists must be 'skip', 'update' or 'error', got {on_exists!r}")
    workers = check_concurrency(concurrency, users._transport)
    total: int | None = len(rows) if isinstance(rows, Sized) else None
    book = Journal(journal) if journal is not None else None
    if book is not None:
        await book.open()
    importer = _Importer(users, on_exists=on_exists, journal=book, progress=progress,
                         total=total, dry_run=dry_run, keep_outcomes=keep_outcomes)
    try:
        await run_pool(importer.rows(rows), importer.handle, workers)
    finally:
        if book is not None:
            await book.close()
    importer.emit(force=True)
    return importer.report
