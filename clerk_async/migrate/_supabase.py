"""Supabase Auth: ``auth.users`` rows as CSV (``\\copy ... csv header``) or a JSON array.

Phones are stored without ``+`` and get it back. Hashes are routed by their
prefix (Go bcrypt ``$2a$``, imported ``$argon2...`` and ``$fbscrypt$``).
``raw_user_meta_data`` is writable by the signed-in user through
``supabase.auth.updateUser``, so it goes to ``unsafe_metadata``;
``raw_app_meta_data`` goes to ``private_metadata``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar

from ._base import Reader, identifiers, json_object, parse_time, rfc3339, split_name
from ._hashes import by_prefix

__all__ = ["SupabaseReader"]


class SupabaseReader(Reader):
    name = "supabase"
    signature = ("id", "encrypted_password")
    metadata: ClassVar[dict[str, str]] = {
        "raw_user_meta_data": "unsafe_metadata",
        "raw_app_meta_data": "private_metadata",
    }
    #: Name keys tried in raw_user_meta_data, in order (providers differ).
    name_keys: ClassVar[tuple[str, ...]] = ("full_name", "name", "user_name")

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        user_id = str(record["id"])
        row: dict[str, Any] = {"external_id": user_id}
        warnings = identifiers(row, "email_address",
                               [(record.get("email"), bool(record.get("email_confirmed_at")))])
        phone = str(record.get("phone") or "").strip()
        if phone and not phone.startswith("+"):
            phone = "+" + phone  # supabase/auth stores E.164 without the plus
        warnings += identifiers(row, "phone_number",
                                [(phone, bool(record.get("phone_confirmed_at")))])
        user_meta = json_object(record.get("raw_user_meta_data"), "raw_user_meta_data") or {}
        first = user_meta.get("first_name") or user_meta.get("given_name")
        last = user_meta.get("last_name") or user_meta.get("family_name")
        if not first:
            full = next((user_meta[k] for k in self.name_keys if user_meta.get(k)), None)
            first, last = split_name(str(full).split("#")[0] if full else None)
        if first:
            row["first_name"] = str(first)
        if last:
            row["last_name"] = str(last)
        self.place_metadata(row, {k: record.get(k) for k in self.metadata})
        if record.get("created_at"):
            row["created_at"] = parse_time(record["created_at"], "created_at")
        if record.get("banned_until"):
            until = parse_time(record["banned_until"], "banned_until")
            if until > rfc3339(datetime.now(timezone.utc)):
                row["banned"] = True
        stored = str(record.get("encrypted_password") or "")
        if stored:
            row["password_hasher"], row["password_digest"] = by_prefix(stored)
        else:
            row["skip_password_requirement"] = True
            warnings.append("no password hash (OAuth or magic-link user)")
        return user_id, row, warnings
