"""Undoing an import: deleting exactly the users a journal's runs created.

Only rows the journal holds as ``created`` are touched (never ``existed`` or
``updated`` ones: those users were there before the import). Each deleted
user is recorded as ``undone`` in the same journal, so an interrupted undo
resumes where it stopped, and a user already gone (404) counts as deleted.
A dry run lists the users without deleting anything.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import attrs

from .._errors import AuthenticationError, ClerkError, NotFoundError, PermissionDeniedError
from ._journal import Journal, check_journal_path
from ._pool import check_concurrency, run_pool
from ._protocol import BulkContext, Users
from ._report import BulkFailure, BulkOutcome, error_fields

__all__ = ["UndoReport", "bulk_undo"]


@attrs.define(kw_only=True)
class UndoReport:
    """What an undo did: ``deleted`` users (``already_gone`` of them were
    deleted before), ``failed`` ones listed in ``failures``, and in a dry run
    the users it would delete in ``listed``."""

    deleted: int = 0
    already_gone: int = 0
    failed: int = 0
    failures: list[BulkFailure] = attrs.field(factory=list)
    listed: list[BulkOutcome] = attrs.field(factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0


async def bulk_undo(users: Users, journal: str | os.PathLike[str], *,
                    dry_run: bool = False, concurrency: int | None = None,
                    context: BulkContext | None = None) -> UndoReport:
    """The engine behind ``clerk.users.bulk_undo``; see its docstring."""
    path = os.fspath(journal)
    if not os.path.isfile(path):
        raise ValueError(f"journal {path} does not exist")
    check_journal_path(path)
    context = context or BulkContext()
    workers = check_concurrency(concurrency, context.quota)
    book = Journal(path)
    await book.open()
    report = UndoReport()
    try:
        rows = book.created()
        if dry_run:
            report.listed = [BulkOutcome(row=row, key=key, status="created", user_id=user_id)
                             for _, _, row, key, user_id in rows]
            return report

        async def source() -> AsyncIterator[tuple[str, int, int, str, str]]:
            for item in rows:
                yield item

        async def delete(item: tuple[str, int, int, str, str]) -> None:
            identity, occurrence, row, key, user_id = item
            try:
                await users.delete(user_id)
            except NotFoundError:
                report.already_gone += 1
            except (AuthenticationError, PermissionDeniedError):
                raise  # every other row would fail the same way
            except ClerkError as exc:
                code, message = error_fields(exc)
                report.failed += 1
                report.failures.append(BulkFailure(row=row, key=key, code=code,
                                                   message=message))
                return
            report.deleted += 1
            book.record(identity, occurrence, row, "undone", key=key, user_id=user_id)

        await run_pool(source(), delete, workers)
    finally:
        await book.close()
    if book.failed is not None:
        raise book.failed
    return report
