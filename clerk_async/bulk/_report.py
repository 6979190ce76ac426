"""What a bulk run reports: per-row outcomes, failures, progress snapshots."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._errors import ClerkAPIError, ClerkConnectionError, ClerkTimeoutError
from ._rows import RowError

__all__ = [
    "BulkFailure",
    "BulkNote",
    "BulkOutcome",
    "BulkProgress",
    "BulkReport",
    "ProgressCallback",
    "error_fields",
    "failed_row",
]


@attrs.frozen(kw_only=True)
class BulkFailure:
    """One row that did not make it: where it was, and Clerk's (or our) reason.

    ``data`` is the row as it was given (None for a line that could not be
    read at all), so that it can be fixed and imported again: the importer
    reads :meth:`to_dict`'s records back as their ``data``. It may hold
    password digests, so it is left out of the repr.
    """

    row: int
    key: str
    code: str
    message: str
    field: str | None = None
    data: Any = attrs.field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


_FAILURE_FIELDS = frozenset(a.name for a in attrs.fields(BulkFailure))


def failed_row(value: object) -> object:
    """The row inside a failure record (a line of a failures file), else ``value``.

    A record is recognised by its ``code`` and ``data`` keys, which no create
    row or Clerk user object has. A record without data (its line could not
    be read) becomes a :class:`RowError` pointing back at the original line.
    """
    if not (isinstance(value, Mapping) and {"code", "data"} <= value.keys()
            and value.keys() <= _FAILURE_FIELDS):
        return value
    data = value["data"]
    if data is None:
        return RowError(None, f"row {value.get('row')} of the original file could not be "
                        "read; fix it there (this failure record has no row data)")
    return data


@attrs.frozen(kw_only=True, slots=True)
class BulkOutcome:
    """One row that made it: its key and the Clerk user it now is."""

    row: int
    key: str
    status: str  # "created", "existed" or "updated"
    user_id: str


@attrs.frozen(kw_only=True)
class BulkNote:
    """A row that succeeded, with something the reader must know (``code``):
    ``ambiguous_owner`` means the user may also have been created by someone
    else at the same moment; the row's values are in Clerk either way."""

    row: int
    key: str
    user_id: str
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define(kw_only=True)
class BulkReport:
    """What a bulk run did. ``failures`` lists every failed row, in finishing order.

    ``validated`` counts rows a ``dry_run`` checked without sending;
    ``unprotected`` counts rows that had no unique identifier (see the module
    notes on why they matter). ``not_transferable`` counts, per kind, what
    rows read from a Clerk export carried that no import can recreate (a
    password hash, TOTP, backup codes): those users need to set it again.

    ``ambiguous`` counts rows settled as ``created`` although the evidence
    could not rule out that someone else created the same user at the same
    moment (each is listed in ``notes``). ``would_create``,
    ``exist_already`` and ``clashes`` are what a ``check_instance`` dry run
    found: rows no user has, rows whose user exists, and rows whose
    identifiers belong to several users, so their create would fail.
    """

    created: int = 0
    existed: int = 0
    updated: int = 0
    failed: int = 0
    skipped_from_journal: int = 0
    validated: int = 0
    unprotected: int = 0
    ambiguous: int = 0
    would_create: int = 0
    exist_already: int = 0
    clashes: int = 0
    failures: list[BulkFailure] = attrs.field(factory=list)
    notes: list[BulkNote] = attrs.field(factory=list)
    not_transferable: Counter[str] = attrs.field(factory=Counter)
    #: For a migration (``read_source``), what the export held that this run did not
    #: carry: heading ("not transferable", "must reset password", "skipped") →
    #: reason → users. Filled from ``Reader.not_carried()`` when the rows are a reader.
    not_carried: dict[str, dict[str, int]] = attrs.field(factory=dict)
    #: Records of a side file that no user took (listed, not imported).
    notices: list[str] = attrs.field(factory=list)
    #: Every successful row with its user id (the mapping a migration needs),
    #: unless the run was started with ``keep_outcomes=False``.
    outcomes: list[BulkOutcome] = attrs.field(factory=list)

    @property
    def done(self) -> int:
        return (self.created + self.existed + self.updated + self.failed
                + self.skipped_from_journal + self.validated + self.would_create
                + self.exist_already + self.clashes)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def add_failure(self, row: int, key: str, exc: BaseException, *,
                    data: object = None) -> BulkFailure:
        code, message = error_fields(exc)
        field = exc.field if isinstance(exc, RowError) else None
        failure = BulkFailure(row=row, key=key, code=code, message=message, field=field,
                              data=data)
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
    code = getattr(exc, "code", None)
    return (code if isinstance(code, str) else type(exc).__name__), str(exc)


def carry_source_summary(report: BulkReport, rows: object) -> BulkReport:
    """Copy what a migration source did not carry onto the report, and return it.

    Rows from :func:`clerk_async.migrate.read_source` know what the export
    held that no row carries (skipped records, MFA, social logins, passwords
    to reset) and the notices of their side files; a plain iterable of rows
    knows nothing of the sort and leaves the report as it is. Read duck-typed,
    so that ``bulk`` does not import ``migrate`` (which sits above it).
    """
    not_carried = getattr(rows, "not_carried", None)
    if callable(not_carried):
        report.not_carried = not_carried()
        report.notices = list(getattr(rows, "notices", ()))
    return report
