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
    """``bulk_create``, ``export`` and ``bulk_update_metadata``."""

    async def bulk_create(
        self,
        rows: Iterable[bulk.RowInput] | AsyncIterable[bulk.RowInput],
        *,
        concurrency: int | None = None,
        journal: str | os.PathLike[str] | None = None,
        on_exists: bulk.OnExists = "skip",
        progress: bulk.ProgressCallback | None = None,
        dry_run: bool = False,
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
        state, under any faults and across kills and reruns. After an
        ambiguous failure (timeout, dropped connection, 5xx) the user is
        looked up by the row's identifiers and counts as created by this row
        only if Clerk stamped it after the row's first attempt; otherwise,
        and whenever an identifier is taken, the row follows ``on_exists``:
        ``"skip"`` reports it as existing, ``"update"`` patches the user from
        the row and merges its metadata, ``"error"`` reports it as failed.

        ``journal`` names an SQLite file recording each row's intent and
        outcome; rerun with the same file to skip finished rows and to check
        rows a killed run left in flight. It is locked while the run uses it
        (:class:`~clerk_async.bulk.JournalLockedError` for a second run).
        Authentication errors or Clerk being unreachable or failing stop the
        run with :class:`~clerk_async.bulk.SystemicError`. ``concurrency``
        defaults from the client's quota (16 without one). ``progress`` gets
        a :class:`~clerk_async.bulk.BulkProgress` a few times a second.
        ``dry_run`` checks every row and sends nothing. A bad row is reported
        in the returned :class:`~clerk_async.bulk.BulkReport` and never stops
        the import. ``report.outcomes`` maps every successful row's key to its
        user id; for multi-million-row imports pass ``keep_outcomes=False`` to
        keep memory flat and read that mapping from the journal instead.
        """
        return await bulk.bulk_create(
            cast("bulk.Users", self), rows, context=self._bulk_context(),
            concurrency=concurrency, journal=journal,
            on_exists=on_exists, progress=progress, dry_run=dry_run,
            keep_outcomes=keep_outcomes,
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
            server_clock=transport.server_clock, sleep=transport._sleep,
        )
