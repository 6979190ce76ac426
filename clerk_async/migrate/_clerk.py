"""Another Clerk instance: what ``clerk-users export`` writes (JSONL of API users),
or the dashboard's user-export CSV (which alone carries password digests and
TOTP secrets).

The JSONL mapping is the bulk package's own ``user_to_create_row``, shared with
the export/import round trip, so Clerk → Clerk has one mapping. Metadata keeps
its place (the source already chose public/private/unsafe).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from ._base import Reader, identifiers

__all__ = ["ClerkReader"]

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

        row, warnings = user_to_create_row(record)
        return user_id, dict(row), list(warnings)

    def _from_dashboard_csv(self, record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        row: dict[str, Any] = {}
        for clerk, column in self.csv_fields.items():
            if record.get(column):
                row[clerk] = str(record[column]).strip()
        warnings: list[str] = []
        for field, kind in (("email_address", "email"), ("phone_number", "phone")):
            primary = str(record.get(f"primary_{field}") or "").strip()
            verified = _cells(record.get(f"verified_{field}es" if kind == "email"
                                         else f"verified_{field}s"))
            unverified = _cells(record.get(f"unverified_{field}es" if kind == "email"
                                           else f"unverified_{field}s"))
            pairs = [(primary, primary not in unverified)] if primary else []
            pairs += [(v, True) for v in verified] + [(v, False) for v in unverified]
            warnings += identifiers(row, field, pairs)
        if "password_digest" not in row:
            row["skip_password_requirement"] = True
            warnings.append("no password digest: the user must reset their password")
        warnings.append("metadata, created_at and OAuth links are not in the dashboard CSV")
        return row, warnings


def _cells(value: Any) -> list[str]:
    return [v.strip() for v in _SPLIT.split(str(value or "")) if v.strip()]
