"""Migrating users into Clerk from other systems' exports.

    from clerk_async.migrate import read_source

    rows = read_source("users.json", "firebase", signer_key=..., salt_separator=...,
                       rounds=8, mem_cost=14)
    report = await clerk.users.bulk_create(rows, journal="firebase.journal")

Each source is one small module with a declarative field table and its hash
conversion; they only produce CreateUser rows, and the bulk engine does the
rest (pacing, journal, resume). :func:`read_source` reads the whole export once
before returning, so a file that cannot be migrated is refused with
:class:`MigrationError` before anything is sent.
"""

from __future__ import annotations

from typing import Any

from ._auth0 import Auth0Reader
from ._authjs import AuthjsReader
from ._base import METADATA_FIELDS, MigrationError, PathLike, Reader, Record
from ._clerk import ClerkReader
from ._cognito import CognitoReader
from ._firebase import FirebaseReader
from ._supabase import SupabaseReader

__all__ = ["METADATA_FIELDS", "READERS", "SOURCES", "MigrationError", "Reader", "Record",
           "read_source"]

#: Every source by its ``--from`` name.
READERS: dict[str, type[Reader]] = {
    reader.name: reader
    for reader in (ClerkReader, Auth0Reader, FirebaseReader, SupabaseReader, AuthjsReader,
                   CognitoReader)
}
SOURCES = tuple(READERS)


def read_source(path: PathLike, source: str, *, check: bool = True, **options: Any) -> Reader:
    """The users of one export as lazy CreateUser rows (iterate it, or pass it to
    ``bulk_create``); ``.records()`` gives each row with its warnings.

    ``options`` are the source's own (``hashes=`` for auth0; ``signer_key=``,
    ``salt_separator=``, ``rounds=``, ``mem_cost=`` for firebase;
    ``user_pool_id=``, ``app_client_id=``, ``identifier=`` for cognito;
    ``accounts=`` for authjs) plus ``metadata={source field: Clerk metadata field
    or "none"}`` to override where metadata goes, and ``encoding=``. With
    ``check`` (the default) the export is read once first: counts and warning
    totals are filled in and :class:`MigrationError` refuses a bad file.
    """
    reader_type = READERS.get(source)
    if reader_type is None:
        raise MigrationError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    try:
        reader = reader_type(path, **options)
    except TypeError as exc:  # an option this source does not have
        raise MigrationError(f"{source}: {exc}") from None
    if check:
        reader.check()
    return reader
