"""Users operations over many users at once: import, export, metadata changes.

The engines live in :mod:`clerk_async.bulk`; these methods are their front door
on ``clerk.users``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Iterable
from typing import IO, Any, cast

from .. import bulk
from ._base import UserScoped

__all__ = ["UserBulkMethods"]


class UserBulkMethods(UserScoped):
    """``bulk_create``, ``bulk_undo``, ``export`` and ``bulk_update_metadata``."""

    async def bulk_create(
        self,
        rows: Iterable[bulk.RowInput] | AsyncIterable[bulk.RowInput],
        *,
        concurrency: int | None = None,
        journal: str | os.PathLike[str] | None = None,
        on_exists: bulk.OnExists = "skip",
        progress: bulk.ProgressCallback | None = None,
        dry_run: bool = False,
        check_instance: bool = False,
        keep_outcomes: bool = True,
    ) -> bulk.BulkReport:
        """Create a user per row, as fast as the quota allows, each exactly once.

        ``rows`` are dicts of CreateUser fields or :class:`CreateUserParams`
        (or ``(row_number, row)`` pairs as :func:`clerk_async.bulk.read_rows`
        yields), or Clerk user objects as :meth:`export` writes them, from a
        plain or async iterable read lazily. A row's key is its first typed
        identifier (``external_id:…``, ``email:…``, ``phone:…``,
        ``username:…``), else ``row:<row number>``.

        Every row ends in exactly one outcome that is true of Clerk's final
        state, under any faults and across kills and reruns. Each batch of
        rows is first looked up by identifier (one ``GetUserList`` per kind
        per 100 rows); a row whose user exists follows ``on_exists``:
        ``"skip"`` reports it as existing, ``"update"`` patches the user from
        the row and merges its metadata, ``"error"`` reports it as failed.
        After an ambiguous failure (timeout, dropped connection, 5xx) a user
        found with the row's identifiers counts as created by this row only
        if the pre-check did not find it, it carries every value the row
        wrote, and no other row claimed it; otherwise it too follows
        ``on_exists``. ``report.ambiguous`` counts rows where someone else
        could have created the same user at the same moment (see
        ``report.notes``).

        ``journal`` names an SQLite file recording each row's intent and
        outcome; rerun with the same file to skip finished rows and to check
        rows a killed run left in flight. It is locked while the run uses it
        (:class:`~clerk_async.bulk.JournalLockedError` for a second run).
        Authentication errors or Clerk being unreachable or failing stop the
        run with :class:`~clerk_async.bulk.SystemicError`. ``concurrency``
        defaults from the client's quota (16 without one). ``progress`` gets
        a :class:`~clerk_async.bulk.BulkProgress` a few times a second.
        ``dry_run`` checks every row and sends nothing; with
        ``check_instance=True`` it also runs the pre-check (reads only) and
        counts ``would_create``, ``exist_already`` and ``clashes``. A bad row is reported
        in the returned :class:`~clerk_async.bulk.BulkReport` and never stops
        the import. ``report.outcomes`` maps every successful row's key to its
        user id; for multi-million-row imports pass ``keep_outcomes=False`` to
        keep memory flat and read that mapping from the journal instead.
        """
        return await bulk.bulk_create(
            cast("bulk.Users", self), rows, context=self._bulk_context(),
            concurrency=concurrency, journal=journal,
            on_exists=on_exists, progress=progress, dry_run=dry_run,
            check_instance=check_instance, keep_outcomes=keep_outcomes,
        )

    async def bulk_undo(
        self,
        journal: str | os.PathLike[str],
        *,
        dry_run: bool = False,
        concurrency: int | None = None,
    ) -> bulk.UndoReport:
        """Delete exactly the users that imports with this ``journal`` created.

        Users the journal holds as ``existed`` or ``updated`` are never
        touched. Each deletion is recorded in the journal, so an interrupted
        undo resumes when run again; a user deleted already counts in
        ``already_gone``. ``dry_run=True`` deletes nothing and lists the users
        it would delete in ``report.listed``.
        """
        return await bulk.bulk_undo(
            cast("bulk.Users", self), journal, dry_run=dry_run, concurrency=concurrency,
            context=self._bulk_context(),
        )

    async def export(self, path_or_file: str | os.PathLike[str] | IO[Any]) -> int:
        """Write every user as one JSON object per line; return how many.

        Takes a path (created or replaced, and only once the export is
        complete) or an open file (text or binary; left open). Users are
        fetched a page at a time, so memory stays flat.
        """
        return await bulk.export(cast("bulk.Users", self), path_or_file)

    async def bulk_update_metadata(
        self,
        updates: Iterable[bulk.MetadataUpdate] | AsyncIterable[bulk.MetadataUpdate],
        *,
        concurrency: int | None = None,
    ) -> bulk.BulkReport:
        """Merge metadata into many users: ``updates`` yields ``(user_id, {...})``.

        Each dict may hold ``public_metadata``, ``private_metadata`` and
        ``unsafe_metadata``, merged as by :meth:`update_metadata`. Transient
        failures are retried (a merge is safe to repeat); the report counts
        ``updated`` and lists each failure by user id.
        """
        return await bulk.bulk_update_metadata(
            cast("bulk.Users", self), updates, context=self._bulk_context(),
            concurrency=concurrency,
        )

    def _bulk_context(self) -> bulk.BulkContext:
        transport = self._transport
        return bulk.BulkContext(
            quota=transport.instance_quota, retry=transport.retry, stats=transport.stats,
            sleep=transport._sleep,
        )
