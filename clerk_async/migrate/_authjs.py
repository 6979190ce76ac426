"""Auth.js (NextAuth) database adapter tables: ``users``, and optionally ``accounts``.

Give the users table as a JSON array or CSV; the accounts table either as
``accounts=PATH`` or inside one JSON document ``{"users": [...], "accounts": [...]}``.
The adapter stores no password: a Credentials-provider app keeps its hash in a
column of its own (``password_columns``), recognised by prefix. The adapter
has no metadata, so nothing is placed in metadata.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from ._base import (
    MigrationError,
    PathLike,
    Reader,
    identifiers,
    load_records,
    parse_time,
    split_name,
)
from ._hashes import by_prefix

__all__ = ["AuthjsReader"]


class AuthjsReader(Reader):
    name = "authjs"
    signature = ("id", "email", "emailVerified")
    #: Columns that hold a Credentials-provider hash, if the app added one.
    password_columns: ClassVar[tuple[str, ...]] = (
        "password", "hashedPassword", "passwordHash", "password_hash", "hashed_password")
    #: Optional created-at columns (the reference schema has none).
    created_columns: ClassVar[tuple[str, ...]] = ("createdAt", "created_at")

    def __init__(self, path: PathLike, *, accounts: PathLike | None = None,
                 **options: Any) -> None:
        super().__init__(path, **options)
        self.providers: dict[str, list[str]] = {}
        document = self._combined()
        if accounts is not None:
            rows: Any = load_records(Path(accounts), self.encoding)
        else:
            rows = document.get("accounts", []) if document else []
        for account in rows:
            if "userId" not in account or "provider" not in account:
                raise MigrationError("accounts: each account needs userId and provider "
                                     "(the adapter's accounts table)")
            self.providers.setdefault(str(account["userId"]), []).append(str(account["provider"]))

    def _combined(self) -> dict[str, Any] | None:
        if self.path.suffix.lower() != ".json":
            return None
        with open(self.path, encoding=self.encoding) as handle:
            document = json.load(handle)
        return document if isinstance(document, dict) and "users" in document else None

    def load(self) -> Iterator[dict[str, Any]]:
        document = self._combined()
        if document is None:
            yield from super().load()
        else:
            yield from document["users"]

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        user_id = str(record["id"])
        row: dict[str, Any] = {"external_id": user_id}
        warnings = identifiers(row, "email_address",
                               [(record.get("email"), bool(record.get("emailVerified")))])
        first, last = split_name(record.get("name"))
        if first:
            row["first_name"] = first
        if last:
            row["last_name"] = last
        created = next((record[c] for c in self.created_columns if record.get(c)), None)
        if created:
            row["created_at"] = parse_time(created, "createdAt")
        stored = next((str(record[c]) for c in self.password_columns if record.get(c)), None)
        if stored:
            row["password_hasher"], row["password_digest"] = by_prefix(stored)
        else:
            row["skip_password_requirement"] = True
        providers = self.providers.get(user_id, [])
        warnings += ["social login: the provider link is not transferable"] * len(providers)
        if not stored and not providers:
            warnings.append("no password hash and no OAuth account: email sign-in only")
        if record.get("image"):
            warnings.append("profile image not transferable (upload it afterwards)")
        return user_id, row, warnings
