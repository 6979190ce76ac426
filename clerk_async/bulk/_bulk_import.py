"""The bulk importer behind ``users.bulk_create``.

**The invariant.** After any run, under any faults, kill or rerun, every row
is in exactly one outcome class (created, existed, updated, failed, or done
by an earlier run), each outcome is true of Clerk's final state, and the
journal never marks a row done that Clerk does not reflect.

How it holds, given that Clerk's create call has no idempotency key:

* **Ownership after ambiguity.** Before a create is sent, an *intent* with
  Clerk's clock (a lower bound read from its ``Date`` headers and sharpened
  by the stamps on the users it creates, see :mod:`clerk_async._server_clock`)
  is committed to the journal. After an
  ambiguous failure (5xx, timeout, dropped connection) the user is looked up
  by the row's identifiers, and counts as created *by this row* only if it
  carries all of them, no other row of the journal is done with it, and Clerk
  stamped it at or after the intent (``created_at``; ``updated_at`` for rows
  that set their own ``created_at``). Any other user found existed before:
  the row goes through ``on_exists`` exactly as it would have without the
  fault. Without a ``Date`` header the importer instead looks each row up
  once before its first create.
* **Resume.** A row whose intent has no outcome (the run was killed while
  it was in flight) is at risk: the next run does the same ownership check
  before sending, so ``on_exists="error"`` after SIGKILL reports the rows
  the killed run created as created, not as failures.
* **Rows that share an identifier** (duplicates within the file) are never in
  flight together, so one cannot mistake the other's user for its own.
* **Rows without any unique identifier** cannot be looked up: after an
  ambiguous failure (or a kill while one was in flight) such a row is failed
  with ``ambiguous_create`` rather than sent again, as it may already exist.
  :attr:`BulkReport.unprotected` counts them.
* **Systemic failures** stop the run with :class:`SystemicError` within
  seconds: an authentication error, or several requests in a row failing at
  the connection or with 5xx and none succeeding. The journal stays
  consistent, so a rerun resumes.

Quota cost: one ``GetUserList`` per run to read Clerk's clock (before the
first row that needs sending; a rerun with every row done sends nothing), plus lookups
only after ambiguous failures and for rows left at risk by a kill (one
``GetUserList`` per identifier kind until found). A run without faults sends
exactly one request per row.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sized
from typing import Any, Literal

import attrs

from .._errors import (
    AuthenticationError,
    ClerkAPIError,
    ClerkConnectionError,
    ClerkError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
)
from .._types import UNSET
from ..models import CreateUserParams, UpdateUserParams, User
from ._export_rows import is_user_object, user_to_create_row
from ._journal import DONE_STATES, Journal
from ._pool import aiter_any, check_concurrency, run_pool
from ._protocol import BulkContext, Users
from ._report import BulkOutcome, BulkProgress, BulkReport, ProgressCallback, failed_row
from ._rows import RowError, identifiers, identity, params_from_row, row_keys

__all__ = ["OnExists", "RowInput", "RowValue", "SystemicError", "bulk_create"]

OnExists = Literal["skip", "update", "error"]
RowValue = Mapping[str, Any] | CreateUserParams
#: A row, or ``(row number, row)`` as :func:`read_rows` yields (a RowError in
#: place of the row reports a line that could not be read).
RowInput = RowValue | tuple[int, RowValue | RowError]

_MAX_ATTEMPTS = 6
_MAX_BACKOFF = 8.0
#: This many requests in a row failing at the connection or with 5xx, with no
#: success between them, stop the run: Clerk is unreachable or down.
SYSTEMIC_FAILURES = 8
_METADATA = ("public_metadata", "private_metadata", "unsafe_metadata")
_UPDATABLE = tuple(
    a.name for a in attrs.fields(CreateUserParams)
    if a.name in attrs.fields_dict(UpdateUserParams)
)


class SystemicError(ClerkError):
    """The import stopped because every further row would fail the same way."""


class _Ambiguous(ClerkError):
    """A create of a row without identifiers may or may not have happened."""

    code = "ambiguous_create"


class _Exists(ClerkError):
    """The row's identifiers belong to a user that existed before (on_exists="error")."""

    code = "form_identifier_exists"


def _raw_key(value: object, row_number: int) -> str:
    """Best-effort key of a row that failed validation, for the report."""
    if isinstance(value, Mapping):
        for field, kind in (("external_id", "external_id"), ("email_address", "email")):
            raw = value.get(field)
            if isinstance(raw, list) and raw:
                raw = raw[0]
            if isinstance(raw, str) and raw:
                return f"{kind}:{raw}"
    return f"row:{row_number}"


def _filters(name: str, values: list[str]) -> Any:
    # Typed loosely: the filter name is only known at run time.
    return {name: values}


def _lower(values: Iterable[str]) -> set[str]:
    return {v.lower() for v in values}


def _carries_all(user: User, params: CreateUserParams) -> bool:
    """Whether ``user`` has every identifier the row asks for (as its create would)."""
    def given(values: object) -> list[str]:
        return list(values) if isinstance(values, list) else []

    if isinstance(params.external_id, str) and params.external_id != user.external_id:
        return False
    if isinstance(params.username, str) and (user.username or "").lower() != \
            params.username.lower():
        return False
    checks = (
        (params.email_address, [e.email_address for e in user.email_addresses or []]),
        (params.phone_number, [p.phone_number for p in user.phone_numbers or []]),
        (params.web3_wallet, [w.web3_wallet for w in user.web3_wallets or []]),
    )
    return all(_lower(given(wanted)) <= _lower(have) for wanted, have in checks)


@attrs.define
class _Row:
    number: int
    keys: list[str]
    params: CreateUserParams
    source: object = attrs.field(default=None, repr=False)  #: the row as given

    @property
    def key(self) -> str:
        return self.keys[0]

    @property
    def identity(self) -> str:
        return identity(self.keys)


class _KeyLocks:
    """Rows that share any key run one at a time; memory only for rows in flight."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, keys: list[str]) -> AsyncIterator[None]:
        ordered = sorted(set(keys))  # one global order: no deadlock
        for key in ordered:
            lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
            self._locks[key] = (lock, users + 1)
        taken: list[asyncio.Lock] = []
        try:
            for key in ordered:
                lock = self._locks[key][0]
                await lock.acquire()
                taken.append(lock)
            yield
        finally:
            for lock in taken:
                lock.release()
            for key in ordered:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class _Importer:
    def __init__(self, users: Users, context: BulkContext, *, on_exists: OnExists,
                 journal: Journal | None, progress: ProgressCallback | None,
                 total: int | None, dry_run: bool, keep_outcomes: bool) -> None:
        self.users = users
        self.context = context
        self.keep_outcomes = keep_outcomes
        self.on_exists = on_exists
        self.journal = journal
        self.progress = progress
        self.total = total
        self.dry_run = dry_run
        self.report = BulkReport()
        self.started = time.monotonic()
        self.wait_at_start = context.stats.quota_wait
        self.last_emit = 0.0
        self.base_delay = context.retry.base_delay if context.retry is not None else 0.5
        self.rng = random.Random()
        self.locks = _KeyLocks()
        # Per kind of request (create, lookup, update): how many failed in a row.
        # Per kind, because lookups answering fine must not hide creates that
        # all fail (see SYSTEMIC_FAILURES).
        self.failing: dict[str, int] = {}
        self.precheck = False  # look up before creating: no clock to judge by
        self.probing: asyncio.Task[None] | None = None

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
            max(0.0, self.context.stats.quota_wait - self.wait_at_start),
            existed=r.existed, updated=r.updated, skipped=r.skipped_from_journal,
            elapsed_s=elapsed,
        ))

    def succeed(self, row: _Row, outcome: str, user_id: str) -> None:
        setattr(self.report, outcome, getattr(self.report, outcome) + 1)
        if self.keep_outcomes:
            self.report.outcomes.append(BulkOutcome(row=row.number, key=row.key,
                                                    status=outcome, user_id=user_id))
        if self.journal is not None:
            self.journal.record(row.identity, row.number, outcome, key=row.key,
                                user_id=user_id)
        self.emit()

    def fail(self, number: int, key: str, exc: BaseException, *, ident: str | None = None,
             at_risk: bool = False, data: object = None) -> None:
        failure = self.report.add_failure(number, key, exc, data=data)
        if self.journal is not None and ident is not None:
            self.journal.record(ident, number, "failed", key=key, code=failure.code,
                                message=failure.message, at_risk=at_risk)
        self.emit()

    # -- health ----------------------------------------------------------------------

    def fine(self, kind: str) -> None:
        self.failing[kind] = 0

    def trouble(self, exc: ClerkError, kind: str) -> None:
        """Count a failed request; stop the run when the failures are systemic."""
        if isinstance(exc, AuthenticationError | PermissionDeniedError):
            raise SystemicError(f"stopping: Clerk refused the secret key ({exc})") from exc
        if isinstance(exc, ClerkConnectionError | ServerError):
            count = self.failing[kind] = self.failing.get(kind, 0) + 1
            if count >= SYSTEMIC_FAILURES:
                what = ("unreachable" if isinstance(exc, ClerkConnectionError)
                        else "failing (5xx)")
                raise SystemicError(
                    f"stopping: Clerk looks {what}; {count} requests in a row failed, "
                    f"the last with: {exc}"
                ) from exc

    async def ready(self) -> None:
        """Probe once, before the first row that needs a request (so a rerun with
        every row in the journal sends nothing at all)."""
        if self.probing is None:
            self.probing = asyncio.ensure_future(self.probe())
        await asyncio.shield(self.probing)

    async def probe(self) -> None:
        """One cheap request first: checks the key and reach, and reads Clerk's clock.

        The transport has already retried it; a connection failure then means
        Clerk is unreachable, a 5xx is counted towards the circuit and retried.
        """
        for attempt in range(SYSTEMIC_FAILURES):
            try:
                await self.users.list(limit=1)
            except ClerkConnectionError as exc:
                raise SystemicError(f"stopping: Clerk is not reachable ({exc})") from exc
            except ClerkError as exc:
                self.trouble(exc, "lookup")
                if not isinstance(exc, ServerError | RateLimitError):
                    raise
                await self.backoff(attempt)
                continue
            break
        self.fine("lookup")
        self.precheck = not self.context.server_clock.known

    # -- input ------------------------------------------------------------------------

    async def rows(self, source: Iterable[RowInput] | AsyncIterable[RowInput]
                   ) -> AsyncIterator[_Row]:
        """The rows still to send; bad rows and rows done earlier are settled here."""
        number = 0
        async for item in aiter_any(source):
            number += 1
            value: object = item
            if isinstance(item, tuple):
                number, value = item
            value = failed_row(value)  # a failures file, fixed and imported again
            if isinstance(value, RowError):
                self.fail(number, _raw_key(value.data, number), value,
                          ident=identity([f"row:{number}"]), data=value.data)
                continue
            given = value
            try:
                if is_user_object(value):
                    value, warnings = user_to_create_row(value)  # type: ignore[arg-type]
                    self.report.not_transferable.update(warnings)
                params = params_from_row(value)  # type: ignore[arg-type]
            except RowError as exc:
                key = _raw_key(value, number)
                self.fail(number, key, exc, ident=identity([f"row:{number}"]), data=given)
                continue
            row = _Row(number, row_keys(params, number), params, given)
            if self.journal is not None:
                entry = self.journal.get(row.identity, number)
                if entry is not None and entry.state in DONE_STATES:
                    self.report.skipped_from_journal += 1
                    self.emit()
                    continue
            yield row

    # -- one row ------------------------------------------------------------------------

    async def handle(self, row: _Row) -> None:
        if self.dry_run:
            self.report.validated += 1
            self.emit()
            return
        await self.ready()
        ids = identifiers(row.params)
        if not ids:
            self.report.unprotected += 1
        async with self.locks.hold(row.keys):
            try:
                outcome, user_id = await self.settle(row, ids)
            except _RowFailed as failed:
                self.fail(row.number, row.key, failed.error, ident=row.identity,
                          at_risk=failed.at_risk, data=row.source)
                return
            self.succeed(row, outcome, user_id)

    async def backoff(self, attempt: int) -> None:
        delay = min(_MAX_BACKOFF, self.base_delay * 2 ** attempt)
        await self.context.sleep(self.rng.uniform(0, delay))

    async def settle(self, row: _Row, ids: list[tuple[str, list[str]]]) -> tuple[str, str]:
        entry = self.journal.get(row.identity, row.number) if self.journal else None
        at_risk = entry is not None and entry.at_risk
        if at_risk and not ids:
            raise _RowFailed(_Ambiguous(
                "an earlier run may have created this row's user, and the row has no "
                "unique identifier to check with; not sent again to avoid a duplicate"
            ), at_risk=True)
        since = entry.intent_ms if entry is not None and at_risk else None
        cleared = False  # looked up before any create of ours, and found nothing
        # Look before sending when an earlier run may have created the user (at risk),
        # or when there is no clock to tell a user found later from an older one.
        if ids and (at_risk or self.precheck):
            found = await self.guarded(self.lookup(ids, None), at_risk=at_risk)
            if found is not None:
                return await self.found(row, found, since, cleared=False, error=None)
            # Found absent (an earlier run's create did not land either): a user with
            # the row's identifiers after our own ambiguous create is ours, also when
            # the earlier run had no clock (intent -1) to judge it by.
            cleared = True
        now = self.context.server_clock.lower_bound_ms()
        if now is not None:
            since = now if since is None else min(since, now)
        if self.journal is not None:
            await self.journal.intend(row.identity, row.number, since if since is not None
                                      else -1)
        return await self.create(row, ids, since, cleared)

    async def guarded(self, call: Any, *, at_risk: bool, kind: str = "lookup") -> Any:
        """Await a lookup or update; a Clerk error becomes this row's failure."""
        try:
            result = await call
        except ClerkError as exc:
            self.trouble(exc, kind)
            raise _RowFailed(exc, at_risk=at_risk) from exc
        except (ValueError, TypeError) as exc:
            raise _RowFailed(exc, at_risk=at_risk) from exc
        self.fine(kind)
        return result

    async def create(self, row: _Row, ids: list[tuple[str, list[str]]], since: int | None,
                     cleared: bool) -> tuple[str, str]:
        ambiguous = False
        last: ClerkError | None = None
        for attempt in range(_MAX_ATTEMPTS):
            if attempt:
                await self.backoff(attempt - 1)
            if ambiguous:
                if not ids:
                    raise _RowFailed(_Ambiguous(
                        "the create may or may not have happened, and the row has no "
                        "unique identifier to check with; not retried to avoid a duplicate"
                    ), at_risk=True)
                found = await self.quiet_lookup(ids)
                if found is not None:
                    return await self.found(row, found, since, cleared=cleared, error=None)
            try:
                user = await self.users.create_from(row.params)
            except UnprocessableEntityError as exc:
                self.fine("create")
                if exc.code != "form_identifier_exists":
                    raise _RowFailed(exc, at_risk=ambiguous) from exc
                param = (exc.errors[0].meta or {}).get("param_name") if exc.errors else None
                found = await self.guarded(self.lookup(ids, param), at_risk=ambiguous)
                if found is None:
                    raise _RowFailed(exc, at_risk=ambiguous) from exc
                if not ambiguous:
                    since, cleared = None, False  # nothing of ours was ever applied
                return await self.found(row, found, since, cleared=cleared, error=exc)
            except RateLimitError as exc:
                last = exc
                continue
            except (ServerError, ClerkConnectionError) as exc:
                self.trouble(exc, "create")
                last = exc
                sent = not isinstance(exc, ClerkConnectionError) or exc.request_sent
                ambiguous = ambiguous or sent
                continue
            except ClerkAPIError as exc:
                self.trouble(exc, "create")
                raise _RowFailed(exc, at_risk=ambiguous) from exc
            except (ClerkError, ValueError, TypeError) as exc:
                raise _RowFailed(exc, at_risk=ambiguous) from exc
            self.fine("create")
            # Clerk stamped this user just now: a sharper reading of its clock.
            self.context.server_clock.observe_stamp(user.updated_at)
            return "created", user.id
        assert last is not None
        if ambiguous and ids:
            found = await self.quiet_lookup(ids)
            if found is not None:
                return await self.found(row, found, since, cleared=cleared, error=None)
        raise _RowFailed(last, at_risk=ambiguous)

    async def quiet_lookup(self, ids: list[tuple[str, list[str]]]) -> User | None:
        try:
            found = await self.lookup(ids, None)
        except ClerkError as exc:
            self.trouble(exc, "lookup")
            return None  # can't tell yet; the caller tries again
        self.fine("lookup")
        return found

    def owns(self, row: _Row, user: User, since: int | None, cleared: bool) -> bool:
        """Whether ``user``, found after an ambiguous create, is this row's creation."""
        if not _carries_all(user, row.params):
            return False
        # A row with its own created_at gets that stamp, so updated_at must show
        # when the user came to be; any other row's change to the user would
        # move it too, hence the stricter claim check for those rows.
        custom = isinstance(row.params.created_at, str)
        rivals = DONE_STATES if custom else frozenset({"created"})
        if self.journal is not None and self.journal.claimed_by_other(
                user.id, row.identity, row.number, states=rivals):
            return False
        if since is not None and since >= 0:
            stamp = user.updated_at if custom else user.created_at
            return stamp >= since
        return cleared

    async def found(self, row: _Row, user: User, since: int | None, *, cleared: bool,
                    error: UnprocessableEntityError | None) -> tuple[str, str]:
        if (since is not None or cleared) and self.owns(row, user, since, cleared):
            return "created", user.id
        return await self.exists(row, user, error)

    async def lookup(self, ids: list[tuple[str, list[str]]], prefer: object) -> User | None:
        ordered = sorted(ids, key=lambda pair: pair[0] != prefer)
        for name, values in ordered:
            page = await self.users.list(limit=1, **_filters(name, values))
            if page:
                found: User = page[0]
                return found
        return None

    async def exists(self, row: _Row, user: User,
                     error: UnprocessableEntityError | None) -> tuple[str, str]:
        if self.on_exists == "error":
            raise _RowFailed(error or _Exists(
                f"a user with this row's identifiers already exists ({user.id})"
            ))
        if self.on_exists == "skip":
            return "existed", user.id
        await self.guarded(self.update(user.id, row.params), at_risk=False, kind="update")
        return "updated", user.id

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


class _RowFailed(Exception):
    """Carries a row's failure out of the nested steps; ``at_risk``: a create may
    have happened after all, so a rerun checks before sending."""

    def __init__(self, error: BaseException, *, at_risk: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.at_risk = at_risk


async def bulk_create(
    users: Users,
    rows: Iterable[RowInput] | AsyncIterable[RowInput],
    *,
    context: BulkContext | None = None,
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
    context = context or BulkContext()
    workers = check_concurrency(concurrency, context.quota)
    total: int | None = len(rows) if isinstance(rows, Sized) else None
    book = Journal(journal) if journal is not None and not dry_run else None
    if book is not None:
        await book.open()
    importer = _Importer(users, context, on_exists=on_exists, journal=book, progress=progress,
                         total=total, dry_run=dry_run, keep_outcomes=keep_outcomes)
    try:
        await run_pool(importer.rows(rows), importer.handle, workers)
    finally:
        if importer.probing is not None and not importer.probing.done():
            importer.probing.cancel()
            with contextlib.suppress(BaseException):
                await importer.probing
        if book is not None:
            await book.close()
    importer.emit(force=True)
    return importer.report
