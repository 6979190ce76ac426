"""What every source reader shares: loading records, checking them, refusing early.

A reader turns one export into :class:`Record` values: a CreateUser row (a
plain dict the bulk engine takes) plus the warnings a person should see before
migrating (no password hash, an OAuth link that cannot move, ...). A full
first pass (:meth:`Reader.check`) sends nothing: a file that is not this
source's export is refused as a whole (:class:`MigrationError`) before any
request, while a record that is wrong on its own fails alone (its row reaches
the bulk engine as a row error) and a record no Clerk user can be made of is
skipped; both are counted, so the run's summary says what it did not carry.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

import attrs

from ..bulk._rows import RowError

__all__ = [
    "METADATA_FIELDS",
    "MUST_RESET",
    "NOT_TRANSFERABLE",
    "SKIPPED",
    "MigrationError",
    "Reader",
    "Record",
    "RowProblem",
    "SideFile",
    "Skip",
    "flag",
    "lost",
    "identifiers",
    "json_object",
    "load_records",
    "parse_time",
    "put_names",
    "readable",
    "reset",
    "rfc3339",
    "split_name",
    "text",
]

PathLike = str | os.PathLike[str]
T = TypeVar("T")
METADATA_FIELDS = ("public_metadata", "private_metadata", "unsafe_metadata")
_MAX_PROBLEMS_SHOWN = 5


class MigrationError(ValueError):
    """The export cannot be migrated as given; nothing has been sent."""


class RowProblem(ValueError):
    """One record that cannot become a correct row: that row fails, the others go on.

    The message never quotes a password or hash value.
    """


class Skip(Exception):
    """A record that cannot become a Clerk user at all (anonymous, deleted): left out, counted."""


#: The three headings of "what this run did not carry" (summary and ``--json``).
NOT_TRANSFERABLE = "not transferable"
MUST_RESET = "must reset password"
SKIPPED = "skipped"
_KINDS = (NOT_TRANSFERABLE, MUST_RESET)


def lost(what: str) -> str:
    """A warning for something the user had that Clerk cannot be given (counted per kind)."""
    return f"{NOT_TRANSFERABLE}: {what}"


def reset(why: str) -> str:
    """A warning for a user who signs in only after resetting their password."""
    return f"{MUST_RESET}: {why}"


@attrs.frozen
class Record:
    """One source user as a CreateUser row, with what did not carry over.

    ``skipped`` is why the record is left out (no Clerk user can be made of
    it); ``problem`` is why this row fails (the rest of the file goes on).
    """

    number: int  #: 1-based position in the export
    source_id: str
    row: dict[str, Any]
    warnings: tuple[str, ...] = ()
    skipped: str | None = None
    problem: str | None = None


def rfc3339(value: datetime) -> str:
    """A UTC RFC 3339 timestamp with milliseconds, as Clerk's ``created_at`` takes it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    text = value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


_EPOCH_NUMBER = re.compile(r"\d+(\.\d+)?")
_YEAR_10000 = 253402300800  # epoch seconds; datetime stops at 9999


def parse_time(value: Any, field: str, unit: Literal["s", "ms"] = "ms") -> str:
    """ISO 8601 text (Postgres' ``2024-06-29 20:25:06.12+00`` too) or an epoch number in
    ``unit`` (the source's documented one) → RFC 3339; :class:`RowProblem` otherwise."""
    number: float | None = None
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric or (isinstance(value, str) and _EPOCH_NUMBER.fullmatch(value.strip())):
        number = float(value)
    if number is not None:
        seconds = number / 1000 if unit == "ms" else number
        # NaN, infinities and 1e20 are no dates; years past 9999 do not fit a datetime.
        if math.isfinite(seconds) and 0 <= seconds < _YEAR_10000:
            return rfc3339(datetime.fromtimestamp(seconds, timezone.utc))
        raise RowProblem(f"{field} is not a timestamp in epoch {unit}: {_shown(value)}")
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        text = re.sub(r"([+-]\d\d)$", r"\1:00", text)  # Postgres writes "+00"
        text = re.sub(r"\.(\d{1,6})\d*", lambda m: "." + m.group(1).ljust(6, "0"), text)
        try:
            return rfc3339(datetime.fromisoformat(text))
        except (ValueError, OverflowError):
            pass
    raise RowProblem(f"{field} is not a timestamp: {_shown(value)}")


def _shown(value: Any) -> str:
    # A bad value named in a message, cut short (a CSV cell can be huge).
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def text(record: Mapping[str, Any], field: str) -> str | None:
    """A text field: None when absent or empty; :class:`RowProblem` for a list, object or
    boolean, which would otherwise turn into a wrong string."""
    value = record.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise RowProblem(f"{field} is a {type(value).__name__}, expected text")


def split_name(full: Any, field: str = "name") -> tuple[str | None, str | None]:
    """First word as first name, the rest as last name; a single word stays a first name."""
    if full is None or (isinstance(full, str) and not full.strip()):
        return None, None
    if not isinstance(full, str):
        raise RowProblem(f"{field} is a {type(full).__name__}, expected text")
    first, _, last = full.strip().partition(" ")
    return first, (last.strip() or None)


def put_names(row: dict[str, Any], first: str | None, last: str | None,
              full: Any = None, field: str = "name") -> None:
    """First/last name on the row: the given ones, else ``full`` split in two."""
    if not first and not last:
        first, last = split_name(full, field)
    if first:
        row["first_name"] = first
    if last:
        row["last_name"] = last


def flag(value: Any, field: str = "flag") -> bool:
    """Booleans as exports spell them: true/false, "true"/"TRUE"/"1", "t" (Postgres)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "t", "1", "yes")
    if value is None or isinstance(value, bool | int):
        return bool(value)
    raise RowProblem(f"{field} is a {type(value).__name__}, expected true or false")


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
        if value is not None and not isinstance(value, str):
            # An email given as a list or object would be dropped without a word.
            raise RowProblem(f"{field} is a {type(value).__name__}, expected one value")
        if value and value.strip() and value.strip() not in values:
            values.append(value.strip())
            statuses.append("verified" if verified else "reserved")
    if values:
        row[field] = values
        if "reserved" in statuses:
            row[f"{field}_identification_status"] = statuses
    kind = "email" if field == "email_address" else "phone"
    return [f"unverified {kind} imported as reserved"] * statuses.count("reserved")


def has_identifier(row: Mapping[str, Any]) -> bool:
    """Whether a CreateUser row has something to sign in with."""
    return bool(row.get("email_address") or row.get("phone_number") or row.get("username")
                or row.get("web3_wallet"))


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

    def unjoined(self) -> list[str]:
        """Ids of values no user of the main export took."""
        return sorted(set(self.values) - self.joined)

    def check_joined(self, main: Path) -> None:
        unjoined = self.unjoined()
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
    #: What a record of this source looks like, for the refusal of another layout.
    expected: ClassVar[str] = ""
    #: Source metadata field → Clerk metadata field (overridable per run).
    metadata: ClassVar[dict[str, str]] = {}
    #: Whether stored hashes are of mixed origin (routed by content; ``password_hasher=``).
    routes_hashes: ClassVar[bool] = False

    def __init__(self, path: PathLike, *, metadata: Mapping[str, str] | None = None,
                 encoding: str = "utf-8-sig", password_hasher: str | None = None) -> None:
        from ._hashes import check_hasher_name

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
        if password_hasher is not None and not self.routes_hashes:
            raise MigrationError(f"password_hasher: {self.name} exports have one hash format "
                                 "of their own; there is nothing to choose")
        self.password_hasher = check_hasher_name(password_hasher)
        self.count = 0
        self.warning_counts: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.problems: list[tuple[int, str]] = []
        #: Side-file records no user took (e.g. Auth0 hashes for users not in the export).
        self.notices: list[str] = []

    # -- what a subclass provides ---------------------------------------------------------

    def load(self) -> Iterator[dict[str, Any]]:
        """The export's raw records, in file order (JSON array, NDJSON or CSV with header)."""
        return load_records(self.path, self.encoding)

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        """One record → (source id, CreateUser row, warnings); :class:`RowProblem` if wrong,
        :class:`Skip` if no Clerk user can be made of it."""
        raise NotImplementedError

    def finish(self) -> None:
        """After a full pass: what only the whole file shows (e.g. unjoined hashes)."""

    # -- shared --------------------------------------------------------------------------

    def route_hash(self, stored: str) -> tuple[str, str]:
        """(hasher, digest) for a stored hash: this run's forced hasher, else by content."""
        from ._hashes import by_content

        if self.password_hasher is not None:
            return self.password_hasher, stored
        return by_content(stored)

    def place_metadata(self, row: dict[str, Any], values: Mapping[str, Any]) -> None:
        """Put each source metadata object where this run's table says."""
        for source_field, value in values.items():
            target = self.metadata_map[source_field]
            if target == "none":
                continue  # never parsed: a cell that is not JSON must not refuse the row
            obj = json_object(value, source_field)
            if obj:
                row[target] = {**row.get(target, {}), **obj}

    @classmethod
    def looks_like(cls, record: Mapping[str, Any]) -> bool:
        """Whether a raw record has this source's shape (its signature keys)."""
        return all(key in record for key in cls.signature)

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether a raw record fits this run's layout (a reader with field-name options
        checks those)."""
        return self.looks_like(record)

    def _check_signature(self, number: int, record: Mapping[str, Any]) -> None:
        if self.matches(record):
            return
        from . import READERS  # the registry imports every reader, so import it late

        guess = next((name for name, reader in READERS.items()
                      if name != self.name and reader.looks_like(record)), None)
        hint = f"; it looks like a {guess} export (--from {guess})" if guess else ""
        missing = ", ".join(k for k in self.signature if k not in record) or "its usual fields"
        expected = f"; expected {self.expected}" if self.expected else ""
        raise MigrationError(f"{self.path}: record {number} is not from {self.name} "
                             f"(no {missing}){hint}{expected}")

    def records(self) -> Iterator[Record]:
        """Every record as a :class:`Record`, skipped and failing ones included (marked).

        Raises :class:`MigrationError` for a file that is not this source's export.
        Two records sharing an identifier are a conflict: the later one fails
        naming the earlier, whatever ``on_exists`` says, so no account is
        merged into another.
        """
        seen: dict[str, tuple[int, str]] = {}
        for number, raw in enumerate(self.load(), 1):
            self._check_signature(number, raw)
            source_id = _source_id(raw)
            try:
                source_id, row, warnings = self.convert(raw)
            except Skip as exc:
                yield Record(number, source_id, {}, skipped=str(exc))
                continue
            except RowProblem as exc:
                yield Record(number, source_id, {}, problem=str(exc))
                continue
            clash = _conflict(seen, number, source_id, row)
            yield Record(number, source_id, row, tuple(warnings), problem=clash)

    def check(self) -> None:
        """Read the whole export once, sending nothing: count rows, warnings, skipped rows and
        failing rows. Raises :class:`MigrationError` only for a file that cannot be read as
        this source's export."""
        self.count, self.warning_counts, self.skipped, self.problems = 0, Counter(), Counter(), []
        self.notices = []
        for record in self.records():
            self.count += 1
            if record.skipped is not None:
                self.skipped[record.skipped] += 1
            elif record.problem is not None:
                self.problems.append((record.number, record.problem))
            else:
                self.warning_counts.update(record.warnings)
        self.finish()

    def not_carried(self) -> dict[str, dict[str, int]]:
        """What this export holds that the run does not carry, by heading and reason,
        with user counts (filled by :meth:`check`)."""
        table: dict[str, dict[str, int]] = {kind: {} for kind in (*_KINDS, SKIPPED)}
        for warning, count in self.warning_counts.most_common():
            kind, sep, what = warning.partition(": ")
            if sep and kind in _KINDS:
                table[kind][what] = count
        table[SKIPPED] = dict(self.skipped.most_common())
        return table

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
        """``(record number, row)`` lazily, what ``clerk.users.bulk_create`` takes: skipped
        records left out, failing ones as a :class:`RowError` (a failed row, not a request)."""
        for record in self.records():
            if record.skipped is not None:
                continue
            if record.problem is not None:
                yield record.number, RowError(None, f"{record.source_id}: {record.problem}")
            else:
                yield record.number, record.row


def _source_id(raw: Mapping[str, Any]) -> str:
    # What names a record in a message before it is converted.
    for key in ("user_id", "localId", "id", "Username", "pk", "Id", "_id"):
        value = raw.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return "?"


def _conflict(seen: dict[str, tuple[int, str]], number: int, source_id: str,
              row: Mapping[str, Any]) -> str | None:
    keys = [("external_id", str(row["external_id"]))] if row.get("external_id") else []
    keys += [("email address", str(e).lower()) for e in row.get("email_address", [])]
    keys += [("phone number", str(p)) for p in row.get("phone_number", [])]
    if row.get("username"):
        keys.append(("username", str(row["username"]).lower()))
    for kind, key in keys:
        earlier = seen.get(f"{kind}:{key}")
        if earlier is not None:
            return (f"conflict: shares its {kind} with record {earlier[0]} ({earlier[1]}); "
                    "two accounts of the export would become one Clerk user, so this one "
                    "is not imported (merge or drop one of them)")
    for kind, key in keys:
        seen[f"{kind}:{key}"] = (number, source_id)
    return None


def load_records(path: Path, encoding: str) -> Iterator[dict[str, Any]]:
    """Records of a JSON array (or an object wrapping one), NDJSON, or CSV with a header."""
    with readable(path, encoding):
        yield from _load_records(path, encoding)


@contextlib.contextmanager
def readable(path: Path, encoding: str) -> Iterator[None]:
    """Turn what makes a file unreadable (bytes not in ``encoding``, a CSV cell over the
    csv module's limit) into a :class:`MigrationError` naming the file, never a traceback."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise MigrationError(f"{path}: not {encoding} text (undecodable byte at offset "
                             f"{exc.start} of a block); pass --encoding") from None
    except csv.Error as exc:
        # The 128 KiB cell limit is process-wide in the csv module: not ours to raise.
        raise MigrationError(f"{path}: not readable as CSV ({exc})") from None


def _load_records(path: Path, encoding: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding=encoding, newline="") as handle:
        head = handle.read(4096).lstrip()
        handle.seek(0)
        if path.suffix.lower() == ".csv":
            for row in csv.DictReader(handle):
                yield {k: v for k, v in row.items() if k is not None}
            return
        if head.startswith("[") or (head.startswith("{") and not _is_ndjson(handle)):
            # A whole JSON document: exports wrap the list differently.
            try:
                document = json.load(handle)
            except ValueError as exc:
                raise MigrationError(f"{path}: not valid JSON (line {getattr(exc, 'lineno', '?')}"
                                     f"): truncated or damaged?") from None
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
