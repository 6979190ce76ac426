"""A Clerk user object (as ``clerk-users export`` writes it) -> CreateUser params.

Copying users between Clerk instances (development to production, region
moves, tenant splits) is export, then import. This is the mapping in between,
as one pure function so the CLI's import, ``bulk_create`` and the ``clerk``
migration source all agree on it.

What carries over: email addresses and phone numbers with their verification
state (verified stays verified; anything else is created *reserved*, i.e.
unverified but kept for this user), web3 wallets, names, username, locale,
external_id, the three metadata objects, ``created_at``, ``legal_accepted_at``,
the ban/lock flags and the self-delete/organization settings.

What cannot: Clerk never exports password hashes, TOTP secrets or backup
codes, and passkeys, OAuth/SAML/enterprise connections and profile images are
bound to the old instance. Each one a user had is returned as a warning (and
counted in the import report), so nothing is dropped silently; those users
will have to set them up again. Rows are created with
``skip_password_requirement`` and ``skip_password_checks`` since no password
can come along.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

from ._rows import RowError

__all__ = ["NOT_TRANSFERABLE", "is_user_object", "user_to_create_row"]

#: Warning names, each with the user-object field that says the user had it.
NOT_TRANSFERABLE = {
    "password": "password_enabled",
    "totp": "totp_enabled",
    "backup_codes": "backup_code_enabled",
    "passkeys": "passkeys",
    "external_accounts": "external_accounts",
    "saml_accounts": "saml_accounts",
    "enterprise_accounts": "enterprise_accounts",
    "profile_image": "has_image",
}
_COPIED = ("external_id", "first_name", "last_name", "username", "locale")
_SETTINGS = ("delete_self_enabled", "create_organization_enabled",
             "create_organizations_limit")


def is_user_object(row: object) -> bool:
    """Whether ``row`` is a Clerk user object rather than a row of create params."""
    return isinstance(row, Mapping) and row.get("object") == "user"


#: Clerk's stamps are int64 milliseconds; RFC 3339 (and Python) stop at year 9999.
_LAST_MS = int(_dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=_dt.timezone.utc)
               .timestamp() * 1000)


def _rfc3339(field: str, ms: object) -> str | None:
    """The stamp as RFC 3339; a value no date can be made of fails the row, naming it."""
    if ms is None:
        return None
    if isinstance(ms, bool) or not isinstance(ms, int):
        raise RowError(field, f"must be Unix milliseconds (an integer), got {ms!r:.40}")
    if not 0 <= ms <= _LAST_MS:
        raise RowError(field, f"{ms} ms is not a date between 1970 and 9999")
    moment = _dt.datetime.fromtimestamp(ms // 1000, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _identifiers(items: object, field: str, primary: object) -> tuple[list[str], list[str]]:
    """Values (primary first) and their creation status, ``verified`` or ``reserved``."""
    if not isinstance(items, Sequence) or isinstance(items, str):
        return [], []
    ordered = sorted((i for i in items if isinstance(i, Mapping)),
                     key=lambda i: i.get("id") != primary)
    values, statuses = [], []
    for item in ordered:
        value = item.get(field)
        if not isinstance(value, str) or not value:
            continue
        verification = item.get("verification")
        verified = isinstance(verification, Mapping) and verification.get("status") == "verified"
        values.append(value)
        statuses.append("verified" if verified else "reserved")
    return values, statuses


def _had(user: Mapping[str, Any], field: str) -> bool:
    value = user.get(field)
    if isinstance(value, bool):
        return value
    return isinstance(value, Sequence) and not isinstance(value, str) and len(value) > 0


def user_to_create_row(user: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Map one exported Clerk user to a create row; also return what cannot carry over.

    The row uses the same field names as ``users.create`` (and as import
    files), so it goes through the usual row checks. The warnings are names
    from :data:`NOT_TRANSFERABLE`, in that order. A stamp that is no date
    (not an integer, negative, or past year 9999) raises :class:`RowError`.
    """
    row: dict[str, Any] = {}
    for name in _COPIED:
        value = user.get(name)
        if isinstance(value, str) and value:
            row[name] = value
    for field, item_field, key, primary in (
        ("email_addresses", "email_address", "email_address", "primary_email_address_id"),
        ("phone_numbers", "phone_number", "phone_number", "primary_phone_number_id"),
    ):
        values, statuses = _identifiers(user.get(field), item_field, user.get(primary))
        if values:
            row[key] = values
            if any(s != "verified" for s in statuses):
                row[f"{key}_identification_status"] = statuses
    wallets, _ = _identifiers(user.get("web3_wallets"), "web3_wallet",
                              user.get("primary_web3_wallet_id"))
    if wallets:
        row["web3_wallet"] = wallets
    for name in ("public_metadata", "private_metadata", "unsafe_metadata"):
        value = user.get(name)
        if isinstance(value, Mapping) and value:
            row[name] = dict(value)
    for name, field in (("created_at", "created_at"), ("legal_accepted_at", "legal_accepted_at")):
        stamp = _rfc3339(field, user.get(field))
        if stamp is not None:
            row[name] = stamp
    for name in _SETTINGS:
        value = user.get(name)
        if value is not None and not isinstance(value, Mapping | list):
            row[name] = value
    for name in ("banned", "locked"):
        if user.get(name) is True:
            row[name] = True
    row["skip_password_requirement"] = True
    row["skip_password_checks"] = True
    warnings = [name for name, field in NOT_TRANSFERABLE.items() if _had(user, field)]
    return row, warnings
