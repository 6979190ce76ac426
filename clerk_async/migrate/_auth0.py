"""Auth0: the user export job's NDJSON/JSON/CSV, or the User Import / Export
extension's CSV/JSON (title-cased fields: "Id", "Given Name", "Email Verified",
...), joined with the password-hash file Auth0 support sends (NDJSON, one
``passwordHash`` per database user). A hash record whose user is not in the
user export (the hash file comes later, by ticket) is listed, not fatal.

``user_metadata`` is editable by the user in Auth0, so it goes to
``unsafe_metadata`` (migration-tool puts it in public_metadata);
``app_metadata`` is admin-only and goes to ``private_metadata``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from ._base import (
    MigrationError,
    PathLike,
    Reader,
    SideFile,
    Skip,
    flag,
    has_identifier,
    identifiers,
    load_records,
    lost,
    parse_time,
    put_names,
    reset,
    text,
)

__all__ = ["Auth0Reader"]


class Auth0Reader(Reader):
    name = "auth0"
    signature = ("user_id",)
    expected = ("the export job's user_id, email, email_verified, ... or the Import / Export "
                "extension's Id, Email, Email Verified, Given Name, ...")
    #: Clerk field ← Auth0 field, copied when present.
    fields: ClassVar[dict[str, str]] = {
        "external_id": "user_id",
        "username": "username",
        "first_name": "given_name",
        "last_name": "family_name",
    }
    #: (Clerk identifier field, Auth0 value, Auth0 "verified" flag)
    identifier_fields: ClassVar[list[tuple[str, str, str]]] = [
        ("email_address", "email", "email_verified"),
        ("phone_number", "phone_number", "phone_verified"),
    ]
    metadata: ClassVar[dict[str, str]] = {
        "app_metadata": "private_metadata",
        "user_metadata": "unsafe_metadata",
    }
    database_prefix = "auth0|"  # other prefixes (google-oauth2|...) are social logins

    def __init__(self, path: PathLike, *, hashes: PathLike | None = None,
                 connection: str | None = None, metadata: Mapping[str, str] | None = None,
                 encoding: str = "utf-8-sig") -> None:
        super().__init__(path, metadata=metadata, encoding=encoding)
        self.hashes: SideFile[str] | None = None
        if hashes is not None:
            self.hashes = SideFile("--auth0-hashes", hashes,
                                   self._load_hashes(hashes, connection))

    def _load_hashes(self, path: PathLike, connection: str | None) -> dict[str, str]:
        found: dict[str, str] = {}
        try:
            entries = list(load_records(Path(path), self.encoding))
        except OSError as exc:
            raise MigrationError(f"--auth0-hashes: cannot read {path}: {exc.strerror}") from None
        for number, entry in enumerate(entries, 1):
            if "passwordHash" not in entry or "_id" not in entry:
                raise MigrationError(f"--auth0-hashes {path}: line {number} is not an Auth0 "
                                     "password-hash record (no _id/passwordHash)")
            if connection is not None and entry.get("connection") != connection:
                continue
            # Auth0's user_id is "auth0|" + alt_id when set (custom DB, API-created
            # ids), else + the Mongo object id.
            oid = entry["_id"].get("$oid") if isinstance(entry["_id"], Mapping) else entry["_id"]
            key = self.database_prefix + str(entry.get("alt_id") or oid)
            found[key] = str(entry["passwordHash"])
        return found

    def load(self) -> Iterator[dict[str, Any]]:
        csv_export = self.path.suffix.lower() == ".csv"
        for record in super().load():
            # Auth0's CSV guards against formula injection with a leading "'".
            if csv_export:
                record = {k: _unguard(v) for k, v in record.items()}
            yield record if "user_id" in record else _from_extension(record)

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        user_id = str(record["user_id"])
        row: dict[str, Any] = {}
        for clerk, auth0 in self.fields.items():
            value = text(record, auth0)
            if value:
                row[clerk] = value
        put_names(row, row.pop("first_name", None), row.pop("last_name", None),
                  record.get("name"))
        warnings: list[str] = []
        for clerk, value, verified in self.identifier_fields:
            warnings += identifiers(row, clerk, [(text(record, value),
                                                  flag(record.get(verified), verified))])
        if not has_identifier(row):
            raise Skip("no email, phone number or username")
        self.place_metadata(row, {k: record.get(k) for k in self.metadata})
        if record.get("created_at"):
            row["created_at"] = parse_time(record["created_at"], "created_at")
        if flag(record.get("blocked"), "blocked"):
            row["banned"] = True
        if not user_id.startswith(self.database_prefix):
            row["skip_password_requirement"] = True
            warnings.append(lost(f"social login ({user_id.partition('|')[0]})"))
        elif self.hashes is not None and (digest := self.hashes.take(user_id)):
            row["password_digest"], row["password_hasher"] = digest, "bcrypt"
        else:
            row["skip_password_requirement"] = True
            warnings.append(reset("no password hash"))
        if record.get("multifactor"):
            warnings.append(lost("MFA enrolment"))
        return user_id, row, warnings

    def finish(self) -> None:
        if self.hashes is not None:
            # The hash file comes later than the user export: users created in
            # between have a hash but no profile. Listed, so nobody is lost unseen.
            self.notices = [
                f"--auth0-hashes: {user_id} has a password hash but is not in {self.path} "
                "(created after the user export?); not imported"
                for user_id in self.hashes.unjoined()]


def _from_extension(record: Mapping[str, Any]) -> dict[str, Any]:
    # The extension's fields are the export's, title-cased: "Given Name" -> given_name,
    # and its "Id" is the user_id.
    out = {key.strip().lower().replace(" ", "_"): value for key, value in record.items()}
    if "id" in out and "user_id" not in out:
        out["user_id"] = out.pop("id")
    return out


def _unguard(value: Any) -> Any:
    return value[1:] if isinstance(value, str) and value.startswith("'") else value
