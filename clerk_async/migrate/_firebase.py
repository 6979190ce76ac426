"""Firebase Auth: ``firebase auth:export`` as JSON (``{"users": [...]}``) or as
its header-less CSV, with the project's scrypt parameters.

The four parameters are required as soon as one user has a password hash:
without them the digest cannot be assembled, and a guessed default would
import passwords nobody can sign in with. ``customAttributes`` (custom claims,
set only by the Admin SDK) go to ``private_metadata``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any, ClassVar

from ._base import (
    MigrationError,
    PathLike,
    Reader,
    RowProblem,
    flag,
    identifiers,
    parse_time,
    split_name,
)
from ._hashes import FirebaseParams, firebase_digest

__all__ = ["FirebaseReader"]

#: Columns of the CSV export, which has no header (firebase-tools accountExporter).
CSV_COLUMNS = (
    "localId", "email", "emailVerified", "passwordHash", "salt", "displayName", "photoUrl",
    *(f"{provider}:{part}" for provider in ("google.com", "facebook.com", "twitter.com",
                                            "github.com")
      for part in ("rawId", "email", "displayName", "photoUrl")),
    "createdAt", "lastSignedInAt", "phoneNumber", "disabled", "customAttributes",
)


class FirebaseReader(Reader):
    name = "firebase"
    signature = ("localId",)
    fields: ClassVar[dict[str, str]] = {"external_id": "localId"}
    metadata: ClassVar[dict[str, str]] = {"customAttributes": "private_metadata"}

    def __init__(self, path: PathLike, *, signer_key: str | None = None,
                 salt_separator: str | None = None, rounds: int | str | None = None,
                 mem_cost: int | str | None = None, **options: Any) -> None:
        super().__init__(path, **options)
        self.params = FirebaseParams.from_options(signer_key, salt_separator, rounds, mem_cost)

    def load(self) -> Iterator[dict[str, Any]]:
        if self.path.suffix.lower() != ".csv":
            yield from super().load()
            return
        with open(self.path, encoding=self.encoding, newline="") as handle:
            for cells in csv.reader(handle):
                if not any(cells):
                    continue
                record: dict[str, Any] = dict(zip(CSV_COLUMNS, cells, strict=False))
                record["providerUserInfo"] = [
                    {"providerId": provider, "rawId": record.pop(f"{provider}:rawId")}
                    for provider in ("google.com", "facebook.com", "twitter.com", "github.com")
                    if record.get(f"{provider}:rawId")
                ]
                yield {k: v for k, v in record.items() if ":" not in k and v != ""}

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        local_id = str(record["localId"])
        row: dict[str, Any] = {"external_id": local_id}
        warnings = identifiers(row, "email_address",
                               [(record.get("email"), flag(record.get("emailVerified")))])
        # Firebase only stores a phone number after an SMS check: it is verified.
        warnings += identifiers(row, "phone_number", [(record.get("phoneNumber"), True)])
        first, last = split_name(record.get("displayName"))
        if first:
            row["first_name"] = first
        if last:
            row["last_name"] = last
        if record.get("createdAt"):
            row["created_at"] = parse_time(record["createdAt"], "createdAt")
        if flag(record.get("disabled")):
            row["banned"] = True
        self.place_metadata(row, {"customAttributes": record.get("customAttributes")})
        providers = record.get("providerUserInfo") or []
        if record.get("passwordHash"):
            if self.params is None:
                raise MigrationError(
                    f"{self.path}: users have password hashes but the project's hash "
                    "parameters are not given: "
                    "pass --firebase-signer-key, --firebase-salt-separator, --firebase-rounds "
                    "and --firebase-mem-cost (Console > Authentication > Users > "
                    "Password hash parameters)")
            if not record.get("salt"):
                raise RowProblem("has a password hash but no salt")
            row["password_digest"] = firebase_digest(record["passwordHash"], record["salt"],
                                                     self.params)
            row["password_hasher"] = "scrypt_firebase"
        else:
            row["skip_password_requirement"] = True
            if not providers:
                warnings.append("no password hash: the user must reset their password")
        warnings += ["social login: the provider link is not transferable"] * len(providers)
        if record.get("photoUrl"):
            warnings.append("profile image not transferable (upload it afterwards)")
        return local_id, row, warnings
