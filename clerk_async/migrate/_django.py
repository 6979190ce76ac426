"""Django: ``manage.py dumpdata auth.User`` (JSON), or a CSV of the ``auth_user`` table,
or a custom user model's table with its field names given (``fields=``).

Passwords are routed by Django's hasher prefix (``pbkdf2_sha256$`` →
``pbkdf2_sha256_django``, ``bcrypt_sha256$`` → ``bcrypt_sha256_django``,
``argon2$argon2id$`` → ``argon2id``, ``bcrypt$`` → ``bcrypt``, ``pbkdf2_sha1$`` →
``pbkdf2_sha1`` in hex, ``md5$`` → ``md5_salted``, ``unsalted_md5$$`` → ``md5``).
An unusable password (``!...``, set by ``set_unusable_password`` for users
who never had one) means no password. ``is_active=False`` becomes Clerk's
``banned``: Django refuses such users every sign-in until an admin sets the
flag again, and a ban is what holds until an admin lifts it. Clerk's
``locked`` would not do: a lock ends by itself after the instance's lockout
duration, so inactive users would get back in. ``last_login`` has no
CreateUser field and is not carried.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._base import (
    MigrationError,
    PathLike,
    Reader,
    Skip,
    flag,
    has_identifier,
    identifiers,
    parse_time,
    reset,
    text,
)

__all__ = ["DjangoReader"]

#: Clerk meaning → auth_user column (override per run for a custom user model).
DEFAULT_FIELDS: dict[str, str] = {
    "id": "id",
    "password": "password",
    "username": "username",
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "is_active": "is_active",
    "date_joined": "date_joined",
    "last_login": "last_login",
}


class DjangoReader(Reader):
    name = "django"
    signature = ("password",)
    expected = ("manage.py dumpdata auth.User output ([{\"model\": \"auth.user\", \"pk\": ..., "
                "\"fields\": {...}}]) or the auth_user table's columns (id, password, username, "
                "email, is_active, date_joined, ...); name a custom user model's columns "
                "with --django-field")
    routes_hashes = True

    def __init__(self, path: PathLike, *, fields: Mapping[str, str] | None = None,
                 verified_emails: bool = True, metadata: Mapping[str, str] | None = None,
                 encoding: str = "utf-8-sig", password_hasher: str | None = None) -> None:
        super().__init__(path, metadata=metadata, encoding=encoding,
                         password_hasher=password_hasher)
        self.fields = dict(DEFAULT_FIELDS)
        for meaning, column in (fields or {}).items():
            if meaning not in DEFAULT_FIELDS:
                raise MigrationError(f"fields: {meaning!r} is not one of "
                                     f"{', '.join(DEFAULT_FIELDS)}")
            self.fields[meaning] = column
        self.verified_emails = verified_emails

    def load(self) -> Iterator[dict[str, Any]]:
        for record in super().load():
            # dumpdata nests the columns under "fields" and the key under "pk".
            if isinstance(record.get("fields"), dict) and "pk" in record:
                yield {"id": record["pk"], **record["fields"]}
            else:
                yield record

    @classmethod
    def looks_like(cls, record: Mapping[str, Any]) -> bool:
        return "password" in record and ("date_joined" in record or "is_active" in record)

    def matches(self, record: Mapping[str, Any]) -> bool:
        return self.fields["password"] in record and self.fields["id"] in record

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        f = self.fields
        user_id = text(record, f["id"]) or "?"
        row: dict[str, Any] = {"external_id": user_id} if user_id != "?" else {}
        # Django never verifies email addresses itself; the flag says whether the
        # app did (e.g. at sign-up), else they come in as reserved.
        warnings = identifiers(row, "email_address",
                               [(text(record, f["email"]), self.verified_emails)])
        username = text(record, f["username"])
        if username and username not in row.get("email_address", []):
            row["username"] = username
        if not has_identifier(row):
            raise Skip("no email or username")
        for clerk in ("first_name", "last_name"):
            value = text(record, f[clerk])
            if value:
                row[clerk] = value
        if record.get(f["date_joined"]) not in (None, ""):
            row["created_at"] = parse_time(record[f["date_joined"]], f["date_joined"])
        if f["is_active"] in record and not flag(record[f["is_active"]], f["is_active"]):
            row["banned"] = True
        stored = text(record, f["password"])
        if stored and not stored.startswith("!"):
            row["password_hasher"], row["password_digest"] = self.route_hash(stored)
        else:
            row["skip_password_requirement"] = True
            warnings.append(reset("unusable or empty password in Django"))
        return user_id, row, warnings
