"""Another Clerk instance: what ``clerk-users export`` writes (JSONL of API users),
or the dashboard's user-export CSV (which alone carries password digests and
TOTP secrets), or both: the JSONL with ``passwords=`` the CSV, joined on ``id``.

The JSONL mapping is the bulk package's own ``user_to_create_row``, shared with
the export/import round trip, so Clerk → Clerk has one mapping (it keeps the
user's ``external_id`` and metadata where they were). Rows from the CSV alone
take the source user id as ``external_id``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from ._base import (
    MigrationError,
    PathLike,
    Reader,
    SideFile,
    identifiers,
    load_records,
    lost,
    reset,
)

__all__ = ["ClerkReader"]

_SECRET_COLUMNS = ("password_digest", "password_hasher", "totp_secret")
_SPLIT = re.compile(r"[,;|]")  # the CSV's separator inside multi-value cells is undocumented


class ClerkReader(Reader):
    name = "clerk"
    signature = ("id",)
    #: Dashboard CSV: Clerk field ← column, copied when non-empty.
    csv_fields: ClassVar[dict[str, str]] = {
        "external_id": "id",
        "first_name": "first_name",
        "last_name": "last_name",
        "username": "username",
        "totp_secret": "totp_secret",
        "password_digest": "password_digest",
        "password_hasher": "password_hasher",
    }

    #: Dashboard CSV: Clerk identifier field ← (primary, verified, unverified) columns.
    csv_identifiers: ClassVar[dict[str, tuple[str, str, str]]] = {
        "email_address": ("primary_email_address", "verified_email_addresses",
                          "unverified_email_addresses"),
        "phone_number": ("primary_phone_number", "verified_phone_numbers",
                         "unverified_phone_numbers"),
    }

    def __init__(self, path: PathLike, *, passwords: PathLike | None = None,
                 metadata: Mapping[str, str] | None = None,
                 encoding: str = "utf-8-sig") -> None:
        super().__init__(path, metadata=metadata, encoding=encoding)
        self.secrets: SideFile[dict[str, str]] | None = None
        if passwords is not None:
            if self.path.suffix.lower() == ".csv":
                raise MigrationError("--clerk-passwords joins the dashboard CSV to a "
                                     "clerk-users export (JSONL); FILE is already that CSV")
            self.secrets = SideFile("--clerk-passwords", passwords,
                                    self._load_secrets(Path(passwords)))

    def _load_secrets(self, path: Path) -> dict[str, dict[str, str]]:
        if not path.is_file():
            raise MigrationError(f"--clerk-passwords: no such file: {path}")
        found: dict[str, dict[str, str]] = {}
        for number, record in enumerate(load_records(path, self.encoding), 1):
            if "id" not in record or "password_digest" not in record:
                raise MigrationError(f"--clerk-passwords {path}: record {number} is not a row "
                                     "of the dashboard's user export (no id/password_digest)")
            found[str(record["id"])] = {
                k: str(record[k]).strip() for k in _SECRET_COLUMNS if record.get(k)}
        return found

    @classmethod
    def looks_like(cls, record: Mapping[str, Any]) -> bool:
        # Many exports have an "id"; a Clerk user's starts with user_ and comes with
        # the dashboard CSV's or the API's email columns.
        return (str(record.get("id", "")).startswith("user_")
                and ("primary_email_address" in record or "email_addresses" in record))

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        user_id = str(record["id"])
        if "primary_email_address" in record or "verified_email_addresses" in record:
            return user_id, *self._from_dashboard_csv(record)
        from ..bulk._export_rows import user_to_create_row
        from ..bulk._rows import RowError

        try:
            row, names = user_to_create_row(record)
        except RowError:
            # A stamp that is no date (e.g. past year 9999) fails this one row,
            # not the whole export: the importer maps the user object itself
            # and reports the field.
            return user_id, dict(record), []
        row = dict(row)
        secrets = (self.secrets.take(user_id) if self.secrets else None) or {}
        if "password_digest" in secrets and "password_hasher" in secrets:
            row.pop("skip_password_requirement", None)
            row.update(password_digest=secrets["password_digest"],
                       password_hasher=secrets["password_hasher"])
            names = [n for n in names if n != "password"]
        if "totp_secret" in secrets:
            row["totp_secret"] = secrets["totp_secret"]
            names = [n for n in names if n != "totp"]
        return user_id, row, [lost(name) for name in names]

    def finish(self) -> None:
        if self.secrets is not None:
            self.secrets.check_joined(self.path)

    def _from_dashboard_csv(self, record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        row: dict[str, Any] = {}
        for clerk, column in self.csv_fields.items():
            if record.get(column):
                row[clerk] = str(record[column]).strip()
        warnings: list[str] = []
        for field, (primary_column, verified_column, unverified_column) in (
                self.csv_identifiers.items()):
            primary = str(record.get(primary_column) or "").strip()
            verified = _cells(record.get(verified_column))
            unverified = _cells(record.get(unverified_column))
            pairs = [(primary, primary not in unverified)] if primary else []
            pairs += [(v, True) for v in verified] + [(v, False) for v in unverified]
            warnings += identifiers(row, field, pairs)
        if "password_digest" not in row:
            row["skip_password_requirement"] = True
            warnings.append(reset("no password digest"))
        warnings.append(lost("metadata, created_at and OAuth links (not in the dashboard CSV)"))
        return row, warnings


def _cells(value: Any) -> list[str]:
    return [v.strip() for v in _SPLIT.split(str(value or "")) if v.strip()]
