"""Import rows: reading JSONL and CSV files, checking each row, naming it.

A row is checked completely before anything is sent for it, so one bad row
costs no request and never stops the rest of the import. Problems are
reported as :class:`RowError` with the field at fault.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from ._convert import check_json_value, loads
from ._types import UNSET
from .models import CreateUserParams

__all__ = [
    "CREATE_FIELDS",
    "IDENTIFIER_FIELDS",
    "RowError",
    "count_rows",
    "identifiers",
    "params_from_row",
    "read_rows",
    "row_key",
]

PathLike = str | os.PathLike[str]


class RowError(ValueError):
    """A row that cannot be sent: which field is wrong, and why."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


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


def _check_value(name: str, kind: str, value: Any) -> Any:
    if value is None:
        if name not in _NULLABLE:
            raise RowError(name, "must not be null")
        return None
    if kind == "list":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise RowError(name, f"must be a list of strings, got {type(value).__name__}")
        return list(items)
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
    return value


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
        for name in ("public_metadata", "private_metadata", "unsafe_metadata"):
            if values.get(name) is not None:
                _check_value(name, "metadata", values[name])
        return row
    return CreateUserParams(**values)


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


def row_key(params: CreateUserParams | None, row_number: int) -> str:
    """The row's journal key: its external_id, else its first email, else ``#<row>``."""
    if params is not None:
        if isinstance(params.external_id, str) and params.external_id:
            return params.external_id
        emails = params.email_address
        if isinstance(emails, list) and emails:
            return emails[0]
    return f"#{row_number}"


# --------------------------------------------------------------------------- files


def _is_csv(path: PathLike) -> bool:
    return str(path).lower().endswith(".csv")


def read_rows(path: PathLike) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """Yield ``(line number, row)`` from a ``.jsonl`` or ``.csv`` file, lazily.

    The row number is the line the row starts on (for CSV the header is line
    1). A line that cannot be read as a row yields a :class:`RowError` in
    place of the dict, so the caller can report it and carry on.
    """
    if _is_csv(path):
        yield from _read_csv(path)
    else:
        yield from _read_jsonl(path)


def _read_jsonl(path: PathLike) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = loads(line)
            except ValueError as exc:
                yield number, RowError(None, f"not valid JSON: {exc}")
                continue
            if not isinstance(value, dict):
                yield number, RowError(None, f"a row must be a JSON object, got {value!r:.40}")
                continue
            yield number, value


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def _cell(name: str, text: str) -> Any:
    kind = CREATE_FIELDS.get(name)
    if kind is None:
        raise RowError(name, "unknown column (not a CreateUser parameter)")
    if kind == "list":
        return [item.strip() for item in text.split(";") if item.strip()]
    if kind == "metadata":
        try:
            return loads(text)
        except ValueError as exc:
            raise RowError(name, f"is not valid JSON: {exc}") from None
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise RowError(name, f"must be true or false, got {text!r}")
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise RowError(name, f"must be an integer, got {text!r}") from None
    return text


def _read_csv(path: PathLike) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip() for h in header]
        start = reader.line_num + 1
        for record in reader:
            number, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) > len(names):
                yield number, RowError(None, f"has {len(record)} cells, header has {len(names)}")
                continue
            try:
                # An empty cell means "not given", so leaving a column blank never
                # sends an empty string Clerk would reject.
                row = {n: _cell(n, c) for n, c in zip(names, record, strict=False) if c != ""}
            except RowError as exc:
                yield number, exc
                continue
            yield number, row


def count_rows(path: PathLike) -> int:
    """How many rows :func:`read_rows` will yield (for a progress total)."""
    if _is_csv(path):
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            return sum(1 for record in reader if any(c.strip() for c in record))
    with open(Path(path), "rb") as handle:
        return sum(1 for line in handle if line.strip())
