"""Supabase Auth: ``auth.users`` rows as CSV (``\\copy ... csv header``) or a JSON array.

Phones are stored without ``+`` and get it back. Hashes are routed by their
prefix (Go bcrypt ``$2a$``, imported ``$argon2...`` and ``$fbscrypt$``).
``raw_user_meta_data`` is writable by the signed-in user through
``supabase.auth.updateUser``, so it goes to ``unsafe_metadata``;
``raw_app_meta_data`` goes to ``private_metadata``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar

from ._base import (
    Reader,
    RowProblem,
    Skip,
    flag,
    has_identifier,
    identifiers,
    json_object,
    lost,
    parse_time,
    put_names,
    rfc3339,
    text,
)

__all__ = ["SupabaseReader"]


class SupabaseReader(Reader):
    name = "supabase"
    signature = ("id", "email")
    expected = ("auth.users rows (id, email, encrypted_password, email_confirmed_at, phone, "
                "raw_user_meta_data, raw_app_meta_data, created_at, ...)")
    metadata: ClassVar[dict[str, str]] = {
        "raw_user_meta_data": "unsafe_metadata",
        "raw_app_meta_data": "private_metadata",
    }
    routes_hashes = True
    #: Name keys tried in raw_user_meta_data, in order: Studio shows and writes
    #: display_name; OAuth providers fill full_name / name / user_name.
    name_keys: ClassVar[tuple[str, ...]] = ("display_name", "full_name", "name", "user_name")

    @classmethod
    def looks_like(cls, record: Mapping[str, Any]) -> bool:
        # Passwordless users' records may omit encrypted_password; these columns are
        # auth.users' own.
        return "id" in record and any(k in record for k in (
            "encrypted_password", "email_confirmed_at", "raw_user_meta_data",
            "raw_app_meta_data", "aud"))

    def _meta(self, record: Mapping[str, Any], field: str) -> dict[str, Any]:
        # --metadata FIELD=none: the column is not read at all (not even for names).
        if self.metadata_map[field] == "none":
            return {}
        return json_object(record.get(field), field) or {}

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        user_id = str(record["id"])
        if flag(record.get("is_anonymous"), "is_anonymous"):
            raise Skip("anonymous: no email or phone number")
        if record.get("deleted_at"):
            raise Skip("deleted in Supabase (deleted_at set)")
        row: dict[str, Any] = {"external_id": user_id}
        warnings = identifiers(row, "email_address",
                               [(text(record, "email"), bool(record.get("email_confirmed_at")))])
        phone = text(record, "phone") or ""
        if phone and not phone.startswith("+"):
            phone = "+" + phone  # supabase/auth stores E.164 without the plus
        warnings += identifiers(row, "phone_number",
                                [(phone or None, bool(record.get("phone_confirmed_at")))])
        if not has_identifier(row):
            raise Skip("no email or phone number")
        user_meta = self._meta(record, "raw_user_meta_data")
        key = next((k for k in self.name_keys if user_meta.get(k)), None)
        full = text(user_meta, key) if key else None
        # Discord-style names carry a "#0" discriminator.
        put_names(row, text(user_meta, "first_name") or text(user_meta, "given_name"),
                  text(user_meta, "last_name") or text(user_meta, "family_name"),
                  full.split("#")[0] if full else None)
        self.place_metadata(row, {k: record.get(k) for k in self.metadata})
        if record.get("created_at"):
            row["created_at"] = parse_time(record["created_at"], "created_at")
        if record.get("banned_until"):
            until = parse_time(record["banned_until"], "banned_until")
            if until > rfc3339(datetime.now(timezone.utc)):
                row["banned"] = True
        stored = record.get("encrypted_password")
        if stored is not None and not isinstance(stored, str):
            raise RowProblem("encrypted_password is not text")
        if stored:
            row["password_hasher"], row["password_digest"] = self.route_hash(stored)
        else:
            row["skip_password_requirement"] = True
            warnings.append("no password hash (OAuth or magic-link user)")
        providers = self._meta(record, "raw_app_meta_data").get("providers")
        for provider in providers if isinstance(providers, list) else []:
            if provider not in ("email", "phone"):
                warnings.append(lost(f"social login ({provider})"))
        return user_id, row, warnings
