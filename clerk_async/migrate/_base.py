"""What every source reader shares: loading records, checking them, refusing early.

A reader turns one export into :class:`Record` values: a CreateUser row (a
plain dict the bulk engine takes) plus the warnings a person should see before
migrating (no password hash, an OAuth link that cannot move, ...). Problems
that make a row or the whole file wrong are collected on a full first pass
(:meth:`Reader.check`) and raised as :class:`MigrationError`, so nothing is
sent for a file that would import half right.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import attrs

__all__ = [
    "METADATA_FIELDS",
    "MigrationError",
    "Reader",
    "Record",
    "RowProblem",
    "SideFile",
    "flag",
    "identifiers",
    "json_object",
    "load_records",
    "parse_time",
    "rfc3339",
    "split_name",
]

PathLike = str | os.PathLike[str]
T = TypeVar("T")
METADATA_FIELDS = ("public_metadata", "private_metadata", "unsafe_metadata")
_MAX_PROBLEMS_SHOWN = 5


class MigrationError(ValueError):
    """The export cannot be migrated as given; nothing has been sent."""


class RowProblem(ValueError):
    """One record that cannot become a correct row (collected, then refused together)."""


@attrs.frozen
class Record:
    """One source user as a CreateUser row, with what did not carry over."""

    number: int  #: 1-based position in the export
    source_id: str
    row: dict[str, Any]
    warnings: tuple[str, ...] = ()


def rfc3339(value: datetime) -> str:
    """A UTC RFC 3339 timestamp with milliseconds, as Clerk's ``created_at`` takes it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    text = value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_time(value: Any, field: str) -> str:
    """ISO 8601 text (Postgres' ``2024-06-29 20:25:06.12+00`` too) or epoch ms → RFC 3339."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return rfc3339(datetime.fromtimestamp(int(value) / 1000, timezone.utc))
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        text = re.sub(r"([+-]\d\d)$", r"\1:00", text)  # Postgres writes "+00"
        text = re.sub(r"\.(\d{1,6})\d*", lambda m: "." + m.group(1).ljust(6, "0"), text)
        try:
            return rfc3339(datetime.fromisoformat(text))
        except ValueError:
            pass
    raise RowProblem(f"{field} is not a timestamp: {value!r}")


def split_name(full: Any) -> tuple[str | None, str | None]:
    """First word as first name, the rest as last name; a single word stays a first name."""
    if not isinstance(full, str) or not full.strip():
        return None, None
    first, _, last = full.strip().partition(" ")
    return first, (last.strip() or None)


def flag(value: Any) -> bool:
    """Booleans as exports spell them: true/false, "true"/"TRUE"/"1", "t" (Postgres)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "t", "1", "yes")
    return bool(value)


def identifiers(
    row: dict[str, Any], field: str, pairs: list[tuple[Any, bool]]
) -> list[str]:
    """Put identifiers and their statuses on the row; unverified ones are ``reserved``.

    Never drops an unverified identifier: Clerk keeps it locked to this user
    and lets them verify it later. Returns warnings.
    """
    values: list[str] = []
    statuses: list[str] = []
    for value, verified in pairs:
        if isinstance(value, str) and value.strip() and value.strip() not in values:
            values.append(value.strip())
            statuses.append("verified" if verified else "reserved")
    if values:
        row[field] = values
        if "reserved" in statuses:
            row[f"{field}_identification_status"] = statuses
    kind = "email" if field == "email_address" else "phone"
    return [f"unverified {kind} imported as reserved"] * statuses.count("reserved")


def json_object(value: Any, field: str) -> dict[str, Any] | None:
    """A metadata value: a JSON object, or text holding one (CSV exports)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise RowProblem(f"{field} is not JSON") from None
    if not isinstance(value, dict):
        raise RowProblem(f"{field} is not a JSON object")
    return value or None


class SideFile(Generic[T]):
    """Values from a second export keyed by user id (Auth0's hash file, Clerk's
    dashboard CSV): every one must join a user of the main export, else the two
    files are from different tenants or times and the run is refused."""

    def __init__(self, flag: str, path: PathLike, values: dict[str, T]) -> None:
        self.flag, self.path, self.values = flag, path, values
        self.joined: set[str] = set()

    def take(self, user_id: str) -> T | None:
        value = self.values.get(user_id)
        if value is not None:
            self.joined.add(user_id)
        return value

    def check_joined(self, main: Path) -> None:
        unjoined = sorted(set(self.values) - self.joined)
        if unjoined:
            raise MigrationError(
                f"{self.flag}: {len(unjoined)} record(s) of {self.path} match no user in {main} "
                f"(e.g. {', '.join(unjoined[:3])}): were both files exported from the same "
                "tenant at the same time?")


class Reader:
    """One source. Subclasses declare their tables and write :meth:`convert`."""

    name: ClassVar[str]
    #: Keys every record of this source has: how a file of the wrong source is told apart.
    signature: ClassVar[tuple[str, ...]]
    #: Source metadata field → Clerk metadata field (overridable per run).
    metadata: ClassVar[dict[str, str]] = {}

    def __init__(self, path: PathLike, *, metadata: Mapping[str, str] | None = None,
                 encoding: str = "utf-8-sig") -> None:
        self.path = Path(path)
        self.encoding = encoding
        if not self.path.is_file():
            raise MigrationError(f"no such file: {self.path}")
        self.metadata_map = dict(type(self).metadata)
        for source_field, target in (metadata or {}).items():
            if source_field not in self.metadata_map:
                raise MigrationError(
                    f"metadata: {self.name} exports have no {source_field!r} to place "
                    f"(they have: {', '.join(self.metadata_map) or 'none'})")
            if target not in (*METADATA_FIELDS, "none"):
                raise MigrationError(f"metadata: {target!r} is not one of "
                                     f"{', '.join(METADATA_FIELDS)} or none")
            self.metadata_map[source_field] = target
        self.count = 0
        self.warning_counts: Counter[str] = Counter()

    # -- what a subclass provides ---------------------------------------------------------

    def load(self) -> Iterator[dict[str, Any]]:
        """The export's raw records, in file order (JSON array, NDJSON or CSV with header)."""
        return load_records(self.path, self.encoding)

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        """One record → (source id, CreateUser row, warnings); :class:`RowProblem` if wrong."""
        raise NotImplementedError

    def finish(self) -> None:
        """After a full pass: refuse what only the whole file shows (e.g. unjoined hashes)."""

    # -- shared --------------------------------------------------------------------------

    def place_metadata(self, row: dict[str, Any], values: Mapping[str, Any]) -> None:
        """Put each source metadata object where this run's table says."""
        for source_field, value in values.items():
            target = self.metadata_map[source_field]
            obj = json_object(value, source_field)
            if obj and target != "none":
                row[target] = {**row.get(target, {}), **obj}

    @classmethod
    def looks_like(cls, record: Mapping[str, Any]) -> bool:
        """Whether a raw record has this source's shape (its signature keys)."""
        return all(key in record for key in cls.signature)

    def _check_signature(self, number: int, record: Mapping[str, Any]) -> None:
        if self.looks_like(record):
            return
        from . import READERS  # the registry imports every reader, so import it late

        guess = next((name for name, reader in READERS.items()
                      if name != self.name and reader.looks_like(record)), None)
        hint = f"; it looks like a {guess} export (--from {guess})" if guess else ""
        missing = ", ".join(k for k in self.signature if k not in record) or "its usual fields"
        raise MigrationError(f"{self.path}: record {number} is not from {self.name} "
                             f"(no {missing}){hint}")

    def records(self) -> Iterator[Record]:
        """Every record as a :class:`Record`; raises :class:`MigrationError` on a bad one."""
        for number, raw in enumerate(self.load(), 1):
            self._check_signature(number, raw)
            try:
                source_id, row, warnings = self.convert(raw)
            except RowProblem as exc:
                raise MigrationError(f"{self.path}: record {number}: {exc}") from None
            yield Record(number, source_id, row, tuple(warnings))

    def check(self) -> None:
        """Read the whole export once, sending nothing: count rows and warnings, and raise
        :class:`MigrationError` listing the records that cannot be migrated."""
        problems: list[str] = []
        self.count, self.warning_counts = 0, Counter()
        for number, raw in enumerate(self.load(), 1):
            self._check_signature(number, raw)
            self.count += 1
            try:
                _, _, warnings = self.convert(raw)
            except RowProblem as exc:
                problems.append(f"record {number}: {exc}")
                continue
            self.warning_counts.update(warnings)
        if problems:
            shown = "\n  ".join(problems[:_MAX_PROBLEMS_SHOWN])
            more = len(problems) - _MAX_PROBLEMS_SHOWN
            raise MigrationError(f"{self.path}: {len(problems)} record(s) cannot be migrated:"
                                 f"\n  {shown}" + (f"\n  ... and {more} more" if more > 0 else ""))
        self.finish()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The rows alone, lazily: what ``clerk.users.bulk_create`` takes."""
        for record in self.records():
            yield record.row


def load_records(path: Path, encoding: str) -> Iterator[dict[str, Any]]:
    """Records of a JSON array (or an object wrapping one), NDJSON, or CSV with a header."""
    with open(path, encoding=encoding, newline="") as handle:
        head = handle.read(4096).lstrip()
        handle.seek(0)
        if path.suffix.lower() == ".csv":
            for row in csv.DictReader(handle):
                yield {k: v for k, v in row.items() if k is not None}
            return
        if head.startswith("[") or (head.startswith("{") and not _is_ndjson(handle)):
            # A whole JSON document: exports wrap the list differently.
            document = json.load(handle)
            if isinstance(document, dict):
                lists = [v for v in document.values() if isinstance(v, list)]
                document = lists[0] if len(lists) == 1 else None
            if not isinstance(document, list):
                raise MigrationError(f"{path}: expected a list of users")
            for item in document:
                if not isinstance(item, dict):
                    raise MigrationError(f"{path}: every user must be a JSON object")
                yield item
            return
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    item = json.loads(line)
                except ValueError:
                    raise MigrationError(f"{path}: line {number} is not JSON") from None
                if not isinstance(item, dict):
                    raise MigrationError(f"{path}: line {number} is not a JSON object")
                yield item


def _is_ndjson(handle: Any) -> bool:
    # NDJSON: the first line alone is a complete object, and not a wrapper
    # such as Firebase's {"users": [...]} written on one line.
    first = handle.readline()
    handle.seek(0)
    try:
        value = json.loads(first)
    except ValueError:
        return False
    return isinstance(value, dict) and not (
        len(value) == 1 and isinstance(next(iter(value.values())), list))
