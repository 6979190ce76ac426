"""The bulk importer behind ``users.bulk_create``.

**The invariant.** After any run, under any faults, kill or rerun, every row
is in exactly one outcome class (created, existed, updated, failed, or done
by an earlier run), each outcome is true of Clerk's final state, and the
journal never marks a row done that Clerk does not reflect.

**Ownership by evidence.** Clerk's create call has no idempotency key, so
after an ambiguous failure (5xx, timeout, dropped connection) a user with
the row's identifiers may be the row's own creation or someone else's. The
importer decides by evidence, never by clocks (no ``Date`` header, no local
time is consulted):

* **Pre-check.** Before a batch of rows is created, all their identifiers are
  looked up at once: one ``GetUserList`` per identifier kind present, at
  most 100 values each (about 1 % of a run's requests). A row whose user
  exists goes straight to ``on_exists``; a row whose identifiers belong to
  several different users fails as ``form_identifier_exists`` without a
  create. A user a lookup returns counts only if it really holds one of
  the row's identifiers: the server's filter is never trusted.
* **The rule.** A user found after an ambiguous create is the row's own
  creation only if (1) the pre-check found no user with the row's
  identifiers (for a rerun of a row a killed run left in flight, the
  pre-check of that run, whose intent the journal holds), (2) it carries
  every value the row's create would have written, as Clerk returns it
  (identifiers, names, username, external_id, the three metadata,
  ``created_at`` when the row sets one), and (3) no other row of the journal
  is done with it (as created, existed or updated). Any other user goes
  through ``on_exists`` exactly as it would have without the fault.
* **The one remaining ambiguity.** Someone else may create a user with
  exactly the row's values between the pre-check and the row's create. No
  evidence can tell that user from the row's own; the row is then reported
  ``created`` *and* counted in :attr:`BulkReport.ambiguous` with a note in
  :attr:`BulkReport.notes`, and under ``on_exists="update"`` the row's
  update is applied as well, so Clerk holds the row's data either way.

Also:

* **Identifiers** are normalised once (trimmed; emails and usernames lower-
  cased, as Clerk stores them) and that form is sent, looked up and compared.
* **Rows that share an identifier** (duplicates within the file) settle one
  after another in file order, with or without a journal; a later one looks
  its identifiers up again once the earlier ones are done. If an earlier one
  failed after a create that may have landed, the later ones fail as
  ``earlier_row_unsettled`` rather than take that row's user for an existing
  one; a rerun settles them in order.
* **Resume.** The journal keys rows by their normalised identifiers (see
  :mod:`clerk_async.bulk._journal`); a row done earlier is skipped unless it
  ``existed`` and this run's ``on_exists`` would settle it otherwise.
* **Rows without any unique identifier** cannot be looked up: after an
  ambiguous failure (or a kill while one was in flight) such a row is failed
  with ``ambiguous_create`` rather than sent again, as it may already exist.
  :attr:`BulkReport.unprotected` counts them.
* **Systemic failures** stop the run with :class:`SystemicError` within
  seconds: an authentication error, several requests in a row failing at
  the connection or with 5xx, or a journal that cannot be written (disk
  full). The journal stays consistent, so a rerun resumes.

Quota cost: the pre-check (one ``GetUserList`` per identifier kind per 100
rows), one create per new row, one or two updates per existing row under
``on_exists="update"``, and lookups only after faults and for duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
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
from .._ratelimit import Quota
from .._types import UNSET
from ..models import CreateUserParams, UpdateUserParams, User
from ._evidence import MAX_FILTER_VALUES, UserIndex, carries_values, holders
from ._export_rows import is_user_object, user_to_create_row
from ._journal import DONE_STATES, Journal, JournalWriteError
from ._order import Ticket, TicketLine
from ._pool import aiter_any, check_concurrency, run_pool
from ._protocol import BulkContext, Users
from ._report import (
    BulkNote,
    BulkOutcome,
    BulkProgress,
    BulkReport,
    ProgressCallback,
    carry_source_summary,
    failed_row,
)
from ._rows import (
    RowError,
    identifiers,
    identity,
    normalise,
    params_from_row,
    row_keys,
)

__all__ = ["OnExists", "RowInput", "RowValue", "SystemicError", "bulk_create"]

OnExists = Literal["skip", "update", "error"]
RowValue = Mapping[str, Any] | CreateUserParams
#: A row, or ``(row number, row)`` as :func:`read_rows` yields (a RowError in
#: place of the row reports a line that could not be read).
RowInput = RowValue | tuple[int, RowValue | RowError]

_MAX_ATTEMPTS = 6
_MAX_BACKOFF = 8.0
#: How far ahead, in seconds of quota, batches are pre-checked while the rows
#: before them are at work. One pre-check that meets a 5xx waits a retry
#: backoff (up to 0.5 s, then 1 s) plus its turn in the quota; with a single
#: batch ahead (about 0.2 s of work at 500 requests/s) the workers then ran
#: dry, and at 20 % faults the quota stood unused for a third of the run.
#: Not further: a pre-check's answer should still be fresh when its rows go.
PRECHECK_LEAD_S = 2.0
_MAX_AHEAD = 8


def precheck_ahead(quota: Quota | None) -> int:
    """Batches pre-checked ahead of the rows at work: about :data:`PRECHECK_LEAD_S`
    of the quota, at a row's request or so per identifier value (1 to 8)."""
    if quota is None:
        return _MAX_AHEAD
    batches = PRECHECK_LEAD_S * quota.requests / quota.period / MAX_FILTER_VALUES
    return max(1, min(_MAX_AHEAD, math.ceil(batches)))
#: This many requests in a row failing at the connection or with 5xx, with no
#: success between them, stop the run: Clerk is unreachable or down.
SYSTEMIC_FAILURES = 8
_METADATA = ("public_metadata", "private_metadata", "unsafe_metadata")
_UPDATABLE = tuple(
    a.name for a in attrs.fields(CreateUserParams)
    if a.name in attrs.fields_dict(UpdateUserParams)
)


class SystemicError(ClerkError):
    """The import stopped because every further row would fail the same way.

    ``report`` holds what the run did until then (None outside an import).
    """

    report: BulkReport | None = None


class _Ambiguous(ClerkError):
    """A create of a row without identifiers may or may not have happened."""

    code = "ambiguous_create"


class _Unsettled(ClerkError):
    """An earlier row on the same identifier may have created the user; wait for it."""

    code = "earlier_row_unsettled"


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
                return f"{kind}:{raw.strip()}"
    return f"row:{row_number}"


def _filters(name: str, values: list[str]) -> Any:
    # Typed loosely: the filter name is only known at run time.
    return {name: values}


@attrs.define
class _Row:
    number: int
    keys: list[str]
    params: CreateUserParams
    occurrence: int = 1
    at_risk: bool = False  # an earlier run's create may have landed
    known: User | None = None  # the one user that really holds the row's identifiers
    clash: User | None = None  # set when they are held by several users
    problem: BaseException | None = None  # the pre-check failed for this row
    ticket: Ticket | None = None
    source: object = attrs.field(default=None, repr=False)  #: the row as given

    @property
    def key(self) -> str:
        return self.keys[0]

    @property
    def identity(self) -> str:
        return identity(self.keys)


def _unreadable(number: int) -> _Row:
    """A row that failed validation: journalled under its line number."""
    return _Row(number, [f"row:{number}"], CreateUserParams())


class _Importer:
    def __init__(self, users: Users, context: BulkContext, *, on_exists: OnExists,
                 journal: Journal | None, progress: ProgressCallback | None,
                 total: int | None, dry_run: bool, check_instance: bool,
                 keep_outcomes: bool) -> None:
        self.users = users
        self.context = context
        self.keep_outcomes = keep_outcomes
        self.on_exists = on_exists
        self.journal = journal
        self.progress = progress
        self.total = total
        self.dry_run = dry_run
        self.check_instance = check_instance
        self.report = BulkReport()
        self.started = time.monotonic()
        self.wait_at_start = context.stats.quota_wait
        self.last_emit = 0.0
        self.base_delay = context.retry.base_delay if context.retry is not None else 0.5
        self.rng = random.Random()
        self.line = TicketLine()
        # Per kind of request (create, lookup, update): how many failed in a row.
        # Per kind, because lookups answering fine must not hide creates that
        # all fail (see SYSTEMIC_FAILURES).
        self.failing: dict[str, int] = {}
        self.reached = False  # some request was answered: Clerk is reachable

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
            self.journal.record(row.identity, row.occurrence, row.number, outcome,
                                key=row.key, user_id=user_id, on_exists=self.on_exists)
        self.emit()

    def fail(self, number: int, key: str, exc: BaseException, *,
             row: _Row | None = None, at_risk: bool = False, data: object = None) -> None:
        failure = self.report.add_failure(number, key, exc, data=data)
        if self.journal is not None and row is not None:
            self.journal.record(row.identity, row.occurrence, number, "failed", key=key,
                                code=failure.code, message=failure.message,
                                at_risk=at_risk)
        self.emit()

    # -- health ----------------------------------------------------------------------

    def fine(self, kind: str) -> None:
        self.failing[kind] = 0
        self.reached = True

    def trouble(self, exc: ClerkError, kind: str) -> None:
        """Count a failed request; stop the run when the failures are systemic."""
        if isinstance(exc, AuthenticationError | PermissionDeniedError):
            raise SystemicError(f"stopping: Clerk refused the secret key ({exc})") from exc
        if isinstance(exc, ClerkConnectionError) and not exc.request_sent \
                and not self.reached:
            # The transport has retried already: Clerk was never reached at all.
            raise SystemicError(f"stopping: Clerk is not reachable ({exc})") from exc
        if isinstance(exc, ClerkConnectionError | ServerError):
            count = self.failing[kind] = self.failing.get(kind, 0) + 1
            if count >= SYSTEMIC_FAILURES:
                what = ("unreachable" if isinstance(exc, ClerkConnectionError)
                        else "failing (5xx)")
                raise SystemicError(
                    f"stopping: Clerk looks {what}; {count} requests in a row failed, "
                    f"the last with: {exc}"
                ) from exc

    async def backoff(self, attempt: int) -> None:
        delay = min(_MAX_BACKOFF, self.base_delay * 2 ** attempt)
        await self.context.sleep(self.rng.uniform(0, delay))

    # -- input ------------------------------------------------------------------------

    async def rows(self, source: Iterable[RowInput] | AsyncIterable[RowInput]
                   ) -> AsyncIterator[_Row]:
        """The rows still to settle; bad rows and rows done earlier are settled here."""
        number = 0
        async for item in aiter_any(source):
            number += 1
            value: object = item
            if isinstance(item, tuple):
                number, value = item
            value = failed_row(value)  # a failures file, fixed and imported again
            if isinstance(value, RowError):
                self.fail(number, _raw_key(value.data, number), value,
                          row=_unreadable(number), data=value.data)
                continue
            given = value
            try:
                if is_user_object(value):
                    value, warnings = user_to_create_row(value)  # type: ignore[arg-type]
                    self.report.not_transferable.update(warnings)
                params = normalise(params_from_row(value))  # type: ignore[arg-type]
            except RowError as exc:
                self.fail(number, _raw_key(value, number), exc, row=_unreadable(number),
                          data=given)
                continue
            row = _Row(number, row_keys(params, number), params, source=given)
            if self.journal is not None:
                row.occurrence = self.journal.occurrence(row.identity)
                entry = self.journal.get(row.identity, row.occurrence)
                if entry is not None and entry.state in DONE_STATES and not (
                        entry.state == "existed" and self.on_exists != "skip"):
                    if entry.row is not None and entry.row != number:
                        # read_journal maps lines to users: keep it true of this file.
                        self.journal.moved(row.identity, row.occurrence, number)
                    self.report.skipped_from_journal += 1
                    self.emit()
                    continue
                row.at_risk = entry is not None and entry.at_risk
            yield row

    async def batches(self, rows: AsyncIterator[_Row]) -> AsyncIterator[_Row]:
        """Rows in file order, each batch pre-checked against Clerk before it is let go."""
        if self.dry_run and not self.check_instance:
            async for row in rows:
                yield row
            return
        # The next batches are pre-checked while the one before them is let go,
        # so the workers never wait for a pre-check's turn in the quota, nor
        # for its retries (see PRECHECK_LEAD_S).
        started: list[tuple[list[_Row], asyncio.Future[None]]] = []
        ahead = precheck_ahead(self.context.quota)
        try:
            batch: list[_Row] = []
            counts: dict[str, set[str]] = {}
            async for row in rows:
                ids = identifiers(row.params)
                if any(len(counts.get(name, set()) | set(values)) > MAX_FILTER_VALUES
                       for name, values in ids):
                    started.append(self.start(batch))
                    batch, counts = [], {}
                    if len(started) > ahead:
                        for ready in await self.finish(started.pop(0)):
                            yield ready
                batch.append(row)
                for name, values in ids:
                    counts.setdefault(name, set()).update(values)
            started.append(self.start(batch))
            while started:
                for ready in await self.finish(started.pop(0)):
                    yield ready
        finally:
            for _, checking in started:
                checking.cancel()
                with contextlib.suppress(BaseException):
                    await checking

    @staticmethod
    async def finish(item: tuple[list[_Row], asyncio.Future[None]]) -> list[_Row]:
        batch, checking = item
        await checking
        return batch

    def start(self, batch: list[_Row]) -> tuple[list[_Row], asyncio.Future[None]]:
        """Reserve the batch's places in line (now, in file order), then pre-check it.

        Tickets first: a row settled by an earlier row after this pre-check is
        necessarily one this row waits for (and then looks again).
        """
        for row in batch:
            row.ticket = self.line.reserve(row.keys)
        return batch, asyncio.ensure_future(self.prepare(batch))

    async def prepare(self, batch: list[_Row]) -> None:
        wanted: dict[str, dict[str, None]] = {}
        for row in batch:
            for name, values in identifiers(row.params):
                wanted.setdefault(name, {}).update(dict.fromkeys(values))
        found: dict[str, User] = {}
        problem: BaseException | None = None
        answers = await asyncio.gather(
            *(self.fetch(name, list(values)) for name, values in wanted.items()),
            return_exceptions=True)
        for answer in answers:
            if isinstance(answer, _RowFailed):
                problem = answer.error
            elif isinstance(answer, BaseException):
                raise answer  # systemic, or a bug: the run stops
            else:
                for user in answer:
                    found[user.id] = user
        index = UserIndex(found.values())
        for row in batch:
            if problem is not None and identifiers(row.params):
                row.problem = problem
                continue
            self.place(row, index)

    def place(self, row: _Row, index: UserIndex) -> None:
        """Tell from looked-up users whether the row's user exists, or clashes."""
        row.known = row.clash = None
        users = holders(index, row.params)
        if len(users) == 1:
            row.known = users[0]
        elif users:
            row.clash = users[1]

    async def fetch(self, name: str, values: list[str]) -> list[User]:
        """Users holding any of ``values`` (≤ 100) of one identifier kind, retried."""
        last: ClerkError | None = None
        for attempt in range(_MAX_ATTEMPTS):
            if attempt:
                await self.backoff(attempt - 1)
            try:
                page = await self.users.list(limit=max(10, len(values)),
                                             **_filters(name, values))
            except RateLimitError as exc:
                last = exc
                continue
            except ClerkError as exc:
                self.trouble(exc, "lookup")
                if not isinstance(exc, ServerError | ClerkConnectionError):
                    raise _RowFailed(exc) from exc
                last = exc
                continue
            except (ValueError, TypeError) as exc:  # refused before sending
                raise _RowFailed(exc) from exc
            self.fine("lookup")
            return list(page)
        assert last is not None
        raise _RowFailed(last)

    # -- one row ------------------------------------------------------------------------

    async def handle(self, row: _Row) -> None:
        if self.dry_run and not self.check_instance:
            self.report.validated += 1
            self.emit()
            return
        assert row.ticket is not None
        unsettled = False
        try:
            after_others, behind_unsettled = await row.ticket.wait()
            if self.check_instance:
                await self.classify(row, after_others)
                return
            ids = identifiers(row.params)
            if not ids:
                self.report.unprotected += 1
            try:
                if row.problem is not None:
                    raise _RowFailed(row.problem, at_risk=row.at_risk)
                if behind_unsettled:
                    raise _RowFailed(_Unsettled(
                        "an earlier row with the same identifier failed after a create that "
                        "may have landed; not settled before it (rerun to settle both)"))
                if after_others and ids:
                    # Rows before this one with a shared identifier have settled
                    # since the pre-check: look again.
                    await self.relook(row, ids)
                outcome, user_id = await self.settle(row, ids)
            except _RowFailed as failed:
                unsettled = failed.at_risk or isinstance(failed.error, _Unsettled)
                self.fail(row.number, row.key, failed.error, row=row,
                          at_risk=failed.at_risk, data=row.source)
            else:
                self.succeed(row, outcome, user_id)
            if self.journal is not None and row.ticket.followed:
                # A later row on the same identifier may change this row's user:
                # only once this outcome is on disk, or a kill could leave the
                # user changed and this row judged by values no longer there.
                await self.journal.flush()
        except JournalWriteError as exc:
            raise SystemicError(f"stopping: {exc}") from exc
        finally:
            row.ticket.release(unsettled)

    async def classify(self, row: _Row, after_others: bool) -> None:
        """The instance dry run: what this row would meet, without writing anything."""
        if row.problem is not None:
            self.fail(row.number, row.key, row.problem)
        elif row.clash is not None:
            self.report.clashes += 1
        elif row.known is not None or after_others:
            self.report.exist_already += 1
        else:
            self.report.would_create += 1
        self.emit()

    async def relook(self, row: _Row, ids: list[tuple[str, list[str]]]) -> None:
        users = await self.guarded(self.lookup(ids), at_risk=row.at_risk)
        self.place(row, UserIndex(users))

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

    async def settle(self, row: _Row, ids: list[tuple[str, list[str]]]) -> tuple[str, str]:
        if row.at_risk and not ids:
            raise _RowFailed(_Ambiguous(
                "an earlier run may have created this row's user, and the row has no "
                "unique identifier to check with; not sent again to avoid a duplicate"
            ), at_risk=True)
        if row.clash is not None:
            raise _RowFailed(self.clash_error(row, row.clash))
        if row.known is not None:
            if row.at_risk:  # the earlier run's pre-check found nobody: judge by evidence
                return await self.judge(row, row.known)
            return await self.exists(row, row.known, None)
        if self.journal is not None:
            await self.journal.intend(row.identity, row.occurrence, row.number)
        return await self.create(row, ids)

    def clash_error(self, row: _Row, user: User) -> _Exists:
        return _Exists(
            f"this row's identifiers belong to several users (one is {user.id}); "
            "nothing was sent for this row"
        )

    async def create(self, row: _Row, ids: list[tuple[str, list[str]]]) -> tuple[str, str]:
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
                settled = await self.after_ambiguity(row, ids)
                if settled is not None:
                    return settled
            try:
                user = await self.users.create_from(row.params)
            except UnprocessableEntityError as exc:
                self.fine("create")
                if exc.code != "form_identifier_exists":
                    raise _RowFailed(exc, at_risk=ambiguous) from exc
                users = await self.guarded(self.lookup(ids), at_risk=ambiguous)
                self.place(row, UserIndex(users))
                if row.known is None:
                    # No single user holds the row's identifiers (a clash, or a
                    # front end answering lookups with unrelated users).
                    raise _RowFailed(exc, at_risk=ambiguous) from exc
                if ambiguous:
                    return await self.judge(row, row.known)
                return await self.exists(row, row.known, exc)
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
            return "created", user.id
        assert last is not None
        if ambiguous and ids:
            settled = await self.after_ambiguity(row, ids)
            if settled is not None:
                return settled
        raise _RowFailed(last, at_risk=ambiguous)

    async def after_ambiguity(self, row: _Row, ids: list[tuple[str, list[str]]]
                              ) -> tuple[str, str] | None:
        """Look for the row's user after an ambiguous create; None: not there (yet)."""
        try:
            users = await self.lookup(ids)
        except ClerkError as exc:
            self.trouble(exc, "lookup")
            return None  # can't tell yet; the caller tries again
        self.fine("lookup")
        self.place(row, UserIndex(users))
        if row.known is not None:
            return await self.judge(row, row.known)
        if row.clash is not None:
            # Several users hold the identifiers: ours, had it landed, would
            # hold them all alone; a create would be refused.
            raise _RowFailed(self.clash_error(row, row.clash))
        return None

    async def judge(self, row: _Row, user: User) -> tuple[str, str]:
        """A user found after an ambiguous create, absent at the pre-check: the rule."""
        claimed = self.journal is not None and self.journal.claimed_by_other(
            user.id, row.identity, row.occurrence)
        if claimed or not carries_values(user, row.params):
            return await self.exists(row, user, None)
        self.report.ambiguous += 1
        self.report.notes.append(BulkNote(
            row=row.number, key=row.key, user_id=user.id, code="ambiguous_owner",
            message="the create's answer was lost and this user carries every value of "
                    "the row; someone else could have created the same user at the same "
                    "moment" + (" (the row's update was applied as well)"
                                if self.on_exists == "update" else ""),
        ))
        if self.on_exists == "update":
            # Whoever created it, Clerk now holds the row's data (password included).
            await self.guarded(self.update(user.id, row.params), at_risk=True, kind="update")
        return "created", user.id

    async def lookup(self, ids: list[tuple[str, list[str]]]) -> list[User]:
        """Every user holding any of the row's identifiers (the caller checks them)."""
        found: dict[str, User] = {}
        for name, values in ids:
            page = await self.users.list(limit=max(10, len(values)), **_filters(name, values))
            for user in page:
                found[user.id] = user
        return list(found.values())

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
    check_instance: bool = False,
    keep_outcomes: bool = True,
) -> BulkReport:
    """The engine behind ``clerk.users.bulk_create``; see its docstring."""
    if on_exists not in ("skip", "update", "error"):
        raise ValueError(f"on_exists must be 'skip', 'update' or 'error', got {on_exists!r}")
    if check_instance and not dry_run:
        raise ValueError("check_instance=True needs dry_run=True (it only reads)")
    context = context or BulkContext()
    workers = check_concurrency(concurrency, context.quota)
    total: int | None = len(rows) if isinstance(rows, Sized) else None
    book = Journal(journal) if journal is not None and not dry_run else None
    if book is not None:
        await book.open()
    importer = _Importer(users, context, on_exists=on_exists, journal=book, progress=progress,
                         total=total, dry_run=dry_run, check_instance=check_instance,
                         keep_outcomes=keep_outcomes)
    try:
        try:
            await run_pool(importer.batches(importer.rows(rows)), importer.handle, workers)
        finally:
            if book is not None:
                await book.close()
        if book is not None and book.failed is not None:
            raise SystemicError(f"stopping: {book.failed}") from book.failed
    except SystemicError as exc:
        exc.report = carry_source_summary(importer.report, rows)
        raise
    except JournalWriteError as exc:  # raised while reading the rows
        stop = SystemicError(f"stopping: {exc}")
        stop.report = carry_source_summary(importer.report, rows)
        raise stop from exc
    importer.emit(force=True)
    return carry_source_summary(importer.report, rows)
