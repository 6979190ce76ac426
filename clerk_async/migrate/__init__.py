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

import inspect
from collections.abc import Mapping
from typing import Any, Literal, overload

from ._auth0 import Auth0Reader
from ._authjs import AuthjsReader
from ._base import METADATA_FIELDS, MigrationError, PathLike, Reader, Record
from ._clerk import ClerkReader
from ._cognito import CognitoReader
from ._django import DjangoReader
from ._firebase import FirebaseReader
from ._supabase import SupabaseReader

__all__ = ["METADATA_FIELDS", "READERS", "SOURCES", "MigrationError", "Reader", "Record",
           "read_source"]

#: Every source by its ``--from`` name.
READERS: dict[str, type[Reader]] = {
    reader.name: reader
    for reader in (ClerkReader, Auth0Reader, FirebaseReader, SupabaseReader, AuthjsReader,
                   CognitoReader, DjangoReader)
}
SOURCES = tuple(READERS)

Metadata = Mapping[str, str] | None


@overload
def read_source(path: PathLike, source: Literal["clerk"], *, check: bool = ...,
                passwords: PathLike | None = ..., metadata: Metadata = ...,
                encoding: str = ...) -> ClerkReader: ...
@overload
def read_source(path: PathLike, source: Literal["auth0"], *, check: bool = ...,
                hashes: PathLike | None = ..., connection: str | None = ...,
                metadata: Metadata = ..., encoding: str = ...) -> Auth0Reader: ...
@overload
def read_source(path: PathLike, source: Literal["firebase"], *, check: bool = ...,
                signer_key: str | None = ..., salt_separator: str | None = ...,
                rounds: int | str | None = ..., mem_cost: int | str | None = ...,
                metadata: Metadata = ..., encoding: str = ...) -> FirebaseReader: ...
@overload
def read_source(path: PathLike, source: Literal["supabase"], *, check: bool = ...,
                password_hasher: str | None = ..., metadata: Metadata = ...,
                encoding: str = ...) -> SupabaseReader: ...
@overload
def read_source(path: PathLike, source: Literal["authjs"], *, check: bool = ...,
                accounts: PathLike | None = ..., password_hasher: str | None = ...,
                metadata: Metadata = ..., encoding: str = ...) -> AuthjsReader: ...
@overload
def read_source(path: PathLike, source: Literal["cognito"], *, check: bool = ...,
                user_pool_id: str | None = ..., app_client_id: str | None = ...,
                identifier: Literal["email", "username", "sub"] = ..., metadata: Metadata = ...,
                encoding: str = ...) -> CognitoReader: ...
@overload
def read_source(path: PathLike, source: Literal["django"], *, check: bool = ...,
                fields: Mapping[str, str] | None = ..., verified_emails: bool = ...,
                password_hasher: str | None = ..., metadata: Metadata = ...,
                encoding: str = ...) -> DjangoReader: ...
@overload
def read_source(path: PathLike, source: str, *, check: bool = ..., metadata: Metadata = ...,
                encoding: str = ...) -> Reader: ...
def read_source(path: PathLike, source: str, *, check: bool = True, **options: Any) -> Reader:
    """The users of one export as lazy ``(number, CreateUser row)`` pairs (iterate it, or
    pass it to ``bulk_create``); ``.records()`` gives each record with its warnings.

    Each source has its own keyword options (typed per ``source``: ``hashes=`` for
    auth0; ``signer_key=``, ``salt_separator=``, ``rounds=``, ``mem_cost=`` for
    firebase; ``user_pool_id=``, ``app_client_id=``, ``identifier=`` for cognito;
    ``accounts=`` for authjs; ``fields=``, ``verified_emails=`` for django;
    ``password_hasher=`` where stored hashes are of mixed origin) plus
    ``metadata={source field: Clerk metadata field or "none"}`` and ``encoding=``.
    With ``check`` (the default) the export is read once first: counts, warnings,
    skipped and failing records are filled in, and :class:`MigrationError` refuses
    a file that is not this source's export. An option the source does not have
    is a :class:`MigrationError` naming it.
    """
    reader_type = READERS.get(source)
    if reader_type is None:
        raise MigrationError(f"read_source: unknown source {source!r}; choose one of "
                             f"{', '.join(SOURCES)}")
    accepted = [name for name, parameter in
                inspect.signature(reader_type.__init__).parameters.items()
                if parameter.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = [name for name in options if name not in accepted]
    if unknown:
        raise MigrationError(f"read_source: source {source!r} has no option "
                             f"{', '.join(map(repr, unknown))} (it takes: {', '.join(accepted)})")
    reader = reader_type(path, **options)
    if check:
        reader.check()
    return reader
