"""Auth.js (NextAuth) database adapter tables: ``users``, and optionally ``accounts``.

Give the users table as a JSON array or CSV; the accounts table either as
``accounts=PATH`` or inside one JSON document ``{"users": [...], "accounts": [...]}``.
Column names as the adapters write them: camelCase (``emailVerified``,
``userId``; adapter-pg, Prisma's default model), snake_case (``email_verified``,
``user_id``; Auth.js's Prisma naming-convention docs), and the MongoDB
adapter's extended JSON (``_id: {"$oid": ...}``, dates as ``{"$date": ...}``).
The adapter stores no password: a Credentials-provider app keeps its hash in a
column of its own (``password_columns``), recognised by prefix. The adapter
has no metadata, so nothing is placed in metadata.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from ._base import (
    MigrationError,
    PathLike,
    Reader,
    RowProblem,
    Skip,
    has_identifier,
    identifiers,
    load_records,
    lost,
    parse_time,
    put_names,
    text,
)

#: snake_case column → the camelCase name the rest of this reader uses.
_CAMEL = {"email_verified": "emailVerified", "user_id": "userId", "created_at": "createdAt",
          "provider_account_id": "providerAccountId", "_id": "id"}


def _plain(value: Any) -> Any:
    # MongoDB extended JSON: {"$oid": "..."}, {"$date": "..."} or {"$date": {"$numberLong": ms}}.
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key in ("$oid", "$numberLong"):
            return str(inner)
        if key == "$date":
            return _plain(inner)
    return value


def normalise(record: Mapping[str, Any]) -> dict[str, Any]:
    """One adapter row with camelCase keys and plain values, whatever the adapter."""
    return {_CAMEL.get(key, key): _plain(value) for key, value in record.items()}

__all__ = ["AuthjsReader"]


class AuthjsReader(Reader):
    name = "authjs"
    signature = ("id", "email", "emailVerified")
    expected = ("the adapter's users table (id or _id, name, email, emailVerified or "
                "email_verified, image)")
    routes_hashes = True
    #: Columns that hold a Credentials-provider hash, if the app added one.
    password_columns: ClassVar[tuple[str, ...]] = (
        "password", "hashedPassword", "passwordHash", "password_hash", "hashed_password")
    #: Optional created-at columns (the reference schema has none).
    created_columns: ClassVar[tuple[str, ...]] = ("createdAt", "created_at")

    def __init__(self, path: PathLike, *, accounts: PathLike | None = None,
                 metadata: Mapping[str, str] | None = None, encoding: str = "utf-8-sig",
                 password_hasher: str | None = None) -> None:
        super().__init__(path, metadata=metadata, encoding=encoding,
                         password_hasher=password_hasher)
        self.providers: dict[str, list[str]] = {}
        document = self._combined()
        if accounts is not None:
            rows: Any = load_records(Path(accounts), self.encoding)
        else:
            rows = document.get("accounts", []) if document else []
        for account in map(normalise, rows):
            if "userId" not in account or "provider" not in account:
                raise MigrationError("accounts: each account needs userId and provider "
                                     "(the adapter's accounts table)")
            self.providers.setdefault(str(account["userId"]), []).append(str(account["provider"]))

    @classmethod
    def looks_like(cls, record: Mapping[str, Any]) -> bool:
        return (("id" in record or "_id" in record) and "email" in record
                and ("emailVerified" in record or "email_verified" in record))

    def _combined(self) -> dict[str, Any] | None:
        if self.path.suffix.lower() != ".json":
            return None
        try:
            with open(self.path, encoding=self.encoding) as handle:
                head = handle.read(1).lstrip()
                handle.seek(0)
                if head != "{":
                    return None
                document = json.load(handle)
        except (ValueError, UnicodeDecodeError):
            return None  # not one document: load_records reads it (and says what is wrong)
        return document if isinstance(document, dict) and "users" in document else None

    def load(self) -> Iterator[dict[str, Any]]:
        document = self._combined()
        users = super().load() if document is None else document["users"]
        for user in users:
            if not isinstance(user, dict):
                raise MigrationError(f"{self.path}: every user must be a JSON object")
            yield user

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        record = normalise(record)
        user_id = str(record["id"])
        row: dict[str, Any] = {"external_id": user_id}
        warnings = identifiers(row, "email_address",
                               [(text(record, "email"), bool(record.get("emailVerified")))])
        if not has_identifier(row):
            raise Skip("no email address")
        put_names(row, None, None, record.get("name"))
        created = next((record[c] for c in self.created_columns if record.get(c)), None)
        if created:
            row["created_at"] = parse_time(created, "createdAt")
        stored = next((record[c] for c in self.password_columns if record.get(c)), None)
        if stored is not None and not isinstance(stored, str):
            raise RowProblem("the password column is not text")
        if stored:
            row["password_hasher"], row["password_digest"] = self.route_hash(stored)
        else:
            row["skip_password_requirement"] = True
        providers = self.providers.get(user_id, [])
        warnings += [lost(f"social login ({provider})") for provider in providers]
        if not stored and not providers:
            warnings.append("no password hash and no OAuth account: email sign-in only")
        if record.get("image"):
            warnings.append(lost("profile image (upload it afterwards)"))
        return user_id, row, warnings
