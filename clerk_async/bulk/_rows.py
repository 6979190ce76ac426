"""Import rows: checking each row, and naming it by its identifiers.

A row is checked completely before anything is sent for it, so one bad row
costs no request and never stops the rest of the import. Problems are
reported as :class:`RowError` with the field at fault.

A row's *keys* are typed (``external_id:…``, ``email:…``, ``phone:…``,
``username:…``, ``web3_wallet:…``, or ``row:N`` without any), so an email that
happens to equal another row's external_id never names the same row. Its
*identity* is all of its keys together: the journal matches a row by every
identifier it carries, not by the first one.

Identifiers are normalised once, by :func:`normalise`, and that one form is
what is sent, looked up and compared: surrounding spaces are trimmed (Clerk
trims them on create, so an untrimmed lookup would miss the row's own user),
and email addresses and usernames are lower-cased, as Clerk stores them.
Rows without any identifier are named by a digest of their content, so
editing or reordering other rows never renames them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import attrs

from .._convert import check_json_value, dumps
from .._types import UNSET
from ..models import CreateUserParams

__all__ = [
    "CREATE_FIELDS",
    "IDENTIFIER_FIELDS",
    "MAX_FIELD_CHARS",
    "RowError",
    "identifiers",
    "identity",
    "normalise",
    "params_from_row",
    "row_keys",
]


class RowError(ValueError):
    """A row that cannot be sent: which field is wrong, and why.

    ``data`` is what could be read of the row (e.g. a CSV line whose cell was
    wrong, that cell as written), for the failures file to give back.
    """

    def __init__(self, field: str | None, message: str, *, data: object = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        self.data = data


def _kind(annotation: str) -> str:
    # The generated params class spells its types as strings ("Unset[list[str]]").
    for marker, kind in (("list[", "list"), ("dict[", "metadata"), ("bool", "bool"),
                         ("int", "int")):
        if marker in annotation:
            return kind
    return "str"


#: Every CreateUser body field, with the kind of value it takes.
CREATE_FIELDS: dict[str, str] = {
    a.name: _kind(str(a.type)) for a in attrs.fields(CreateUserParams)
}
_NULLABLE = frozenset(
    a.name for a in attrs.fields(CreateUserParams) if "None" in str(a.type)
)
#: Fields Clerk keeps unique per instance, in the order lookups try them.
IDENTIFIER_FIELDS = ("external_id", "email_address", "phone_number", "username", "web3_wallet")
#: The typed-key prefix of each identifier field.
KEY_KINDS = {"external_id": "external_id", "email_address": "email",
             "phone_number": "phone", "username": "username", "web3_wallet": "web3_wallet"}
#: Clerk compares these case-insensitively, so the keys do too.
CASELESS = frozenset({"email_address", "username", "web3_wallet"})
#: Clerk stores these lower-cased; sending them so makes what we send what it keeps.
_FOLDED = frozenset({"email_address", "username"})
_SECRET = frozenset({"password", "password_digest", "totp_secret", "backup_codes"})
#: No Clerk text field is anywhere near this long; a longer one is a broken row.
MAX_FIELD_CHARS = 65_536


def _check_text(name: str, text: str) -> str:
    if "\x00" in text:
        raise RowError(name, "contains a NUL character")
    if len(text) > MAX_FIELD_CHARS:
        raise RowError(name, f"is longer than {MAX_FIELD_CHARS} characters ({len(text)})")
    return text


def _check_value(name: str, kind: str, value: Any) -> Any:
    if value is None:
        if name not in _NULLABLE:
            raise RowError(name, "must not be null")
        return None
    if kind == "list":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise RowError(name, f"must be a list of strings, got {type(value).__name__}")
        return [_check_text(name, i) for i in items]
    if kind == "metadata":
        if not isinstance(value, Mapping):
            raise RowError(name, f"must be a JSON object, got {type(value).__name__}")
        try:
            check_json_value(value, name)
        except ValueError as exc:
            raise RowError(name, str(exc)) from None
        return dict(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise RowError(name, f"must be true or false, got {type(value).__name__}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise RowError(name, f"must be an integer, got {type(value).__name__}")
        return value
    if not isinstance(value, str):
        raise RowError(name, f"must be a string, got {type(value).__name__}")
    return _check_text(name, value)


def params_from_row(row: Mapping[str, Any] | CreateUserParams) -> CreateUserParams:
    """Check one row and build its create body; :class:`RowError` on the first problem.

    Any ``password_hasher`` name is passed through: which hashers exist is
    Clerk's business, and a new one must not need a new SDK release.
    """
    if isinstance(row, CreateUserParams):
        values = {a.name: getattr(row, a.name) for a in attrs.fields(CreateUserParams)}
        values = {k: v for k, v in values.items() if v is not UNSET}
    elif isinstance(row, Mapping):
        values = {}
        for name, value in row.items():
            kind = CREATE_FIELDS.get(name) if isinstance(name, str) else None
            if kind is None:
                raise RowError(str(name), "unknown field (not a CreateUser parameter)")
            values[name] = _check_value(name, kind, value)
    else:
        raise RowError(None, f"a row must be a dict or CreateUserParams, got {type(row).__name__}")
    if values.get("password_digest") is not None and values.get("password_hasher") is None:
        raise RowError("password_hasher", "is required with password_digest")
    if isinstance(row, CreateUserParams):
        # Built in code, so typed for mypy but not checked at run time: the same
        # checks as a dict row (an email of 123 would otherwise end the import).
        # None passes as before: updates leave it out, and where a create may not
        # send null Clerk refuses that row alone.
        for name, value in values.items():
            if value is not None:
                _check_value(name, CREATE_FIELDS[name], value)
        return row
    return CreateUserParams(**values)


def normalise(params: CreateUserParams) -> CreateUserParams:
    """The row with its identifiers in the one form that is sent and compared."""
    changes: dict[str, Any] = {}
    for name in IDENTIFIER_FIELDS:
        value = getattr(params, name)
        if isinstance(value, str):
            fixed: Any = _fold(name, value)
        elif isinstance(value, list):
            fixed = [_fold(name, v) if isinstance(v, str) else v for v in value]
        else:
            continue
        if fixed != value:
            changes[name] = fixed
    if not changes:
        return params
    values = {a.name: getattr(params, a.name) for a in attrs.fields(CreateUserParams)}
    return CreateUserParams(**(values | changes))


def _fold(name: str, value: str) -> str:
    value = value.strip()
    return value.lower() if name in _FOLDED else value


def identifiers(params: CreateUserParams) -> list[tuple[str, list[str]]]:
    """The row's unique identifiers as ``(filter name, values)``, lookup order."""
    found: list[tuple[str, list[str]]] = []
    for name in IDENTIFIER_FIELDS:
        value = getattr(params, name)
        if isinstance(value, str) and value:
            found.append((name, [value]))
        elif isinstance(value, list) and value:
            found.append((name, list(value)))
    return found


def row_keys(params: CreateUserParams | None, row_number: int) -> list[str]:
    """The row's typed keys, most telling first; ``["row:N"]`` when it has no identifier."""
    keys = []
    if params is not None:
        for name, values in identifiers(params):
            for value in values:
                text = value.lower() if name in CASELESS else value
                keys.append(f"{KEY_KINDS[name]}:{text}")
    if keys:
        return keys
    if params is None:
        return [f"row:{row_number}"]
    # No identifier: the content names the row, so moving it never renames it.
    # Secrets stay out of the digest: it is written to the journal.
    body = dumps({a.name: getattr(params, a.name) for a in attrs.fields(CreateUserParams)
                  if a.name not in _SECRET and getattr(params, a.name) is not UNSET})
    return [f"content:{hashlib.sha256(body).hexdigest()[:32]}"]


def identity(keys: list[str]) -> str:
    """One string for all of a row's keys, independent of their order in the row."""
    return dumps(sorted(set(keys))).decode("utf-8")
