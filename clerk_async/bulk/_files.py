"""Reading import files (JSONL or CSV) without ever stopping on a bad line.

Files are read as bytes, a line at a time with a length cap, and decoded per
line: an undecodable byte, an over-long line, a NUL or broken JSON becomes a
:class:`RowError` for that line number and the next line is read as usual. A
UTF-8 byte-order mark at the start is dropped. Only a file that as a whole is
not text in the expected encoding (binary, or another encoding throughout) is
refused, once, by :func:`check_input` before anything is sent.
"""

from __future__ import annotations

import codecs
import csv
import os
from collections.abc import Iterator
from typing import IO, Any

from .._convert import loads
from ._rows import CREATE_FIELDS, RowError

__all__ = [
    "FORMATS",
    "MAX_LINE_BYTES",
    "InputFileError",
    "check_input",
    "count_rows",
    "detect_format",
    "read_rows",
]

PathLike = str | os.PathLike[str]
#: A line longer than this is reported as a bad row (and never held in memory whole).
MAX_LINE_BYTES = 1 << 20
_SNIFF_BYTES = 64 * 1024
_BOM = codecs.BOM_UTF8


class InputFileError(ValueError):
    """The input file as a whole cannot be read as rows (reported before any request)."""


#: The formats an import file can be in; ``--format`` names one of them.
FORMATS = ("csv", "jsonl", "json")
_BY_SUFFIX = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}


def detect_format(path: PathLike, given: str | None = None) -> str:
    """The format of ``path``: ``given``, else its extension, else what its start shows.

    ``.json`` holds a JSON array (pretty-printed or not) or, when its first
    line is a whole object, JSON Lines. A file with any other extension is
    sniffed: ``[`` starts a JSON array, ``{`` JSON Lines, and a first line of
    comma-separated create-parameter names a CSV header. Anything else is
    refused with :class:`InputFileError` naming ``--format``.
    """
    if given is not None:
        if given not in FORMATS:
            raise InputFileError(f"--format must be one of {', '.join(FORMATS)}, got {given!r}")
        return given
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    known = _BY_SUFFIX.get(suffix)
    if known == "csv" or known == "jsonl":
        return known
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    text = head[len(_BOM):] if head.startswith(_BOM) else head
    first_line = text.split(b"\n", 1)[0].strip()
    start = text.lstrip()[:1]
    if start == b"[":
        return "json"
    if start == b"{":
        try:
            whole = isinstance(loads(first_line), dict)
        except ValueError:
            whole = False
        return "jsonl" if whole else "json"
    header = [cell.strip().strip('"') for cell in first_line.decode("utf-8", "replace")
              .split(",")]
    if known is None and header and all(cell in CREATE_FIELDS for cell in header):
        return "csv"
    what = "a JSON array or object" if known == "json" else "JSON Lines, a JSON array or CSV"
    raise InputFileError(
        f"cannot tell the format of {os.fspath(path)}: it does not start like {what}; "
        f"pass --format {'|'.join(FORMATS)}"
    )


def _is_csv(path: PathLike, given: str | None = None) -> bool:
    return detect_format(path, given) == "csv"


def _codec(encoding: str | None) -> str:
    name = encoding or "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise InputFileError(f"unknown encoding {name!r}") from None


def check_input(path: PathLike, encoding: str | None = None,
                file_format: str | None = None) -> None:
    """Refuse a file that is not text in ``encoding`` (default UTF-8), naming why.

    Looks at the first 64 KiB: NUL bytes mean binary data; undecodable bytes
    on more than 20 lines, or on at least two lines making up more than a
    quarter of them, mean the file is in another encoding. A few bad lines
    are left to the per-row reports, so one stray byte never blocks an import.
    """
    codec = _codec(encoding)
    csv_file = _is_csv(path, file_format)
    if not csv_file and codec != "utf-8":
        raise InputFileError("JSON files are always UTF-8; --encoding applies to CSV only")
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if codec.startswith(("utf-16", "utf-32")):
        return  # NULs are normal there; per-line decoding reports the rest
    if b"\x00" in head:
        offset = head.index(b"\x00")
        raise InputFileError(
            f"{path} looks like a binary file (NUL byte at offset {offset}), "
            "not JSONL or CSV text"
        )
    lines = head.split(b"\n")
    if len(head) == _SNIFF_BYTES and len(lines) > 1:
        lines.pop()  # cut mid-line by the sniff window
    bad = [n for n, line in enumerate(lines, 1) if not _decodes(line, codec)]
    if len(bad) > 20 or (len(bad) >= 2 and len(bad) * 4 > len(lines)):
        hint = "; pass --encoding (e.g. cp1252 or latin-1)" if csv_file else ""
        raise InputFileError(
            f"{path} is not {codec} text (undecodable bytes on {len(bad)} of the first "
            f"{len(lines)} lines, first on line {bad[0]}){hint}"
        )


def _decodes(line: bytes, codec: str) -> bool:
    try:
        line.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _lines(handle: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Raw lines, each capped at MAX_LINE_BYTES; ``True`` marks one that was cut."""
    first = True
    while line := handle.readline(MAX_LINE_BYTES + 1):
        if first and line.startswith(_BOM):
            line = line[len(_BOM):]
        first = False
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            # Drain the rest of the line without keeping it.
            while (more := handle.readline(MAX_LINE_BYTES)) and not more.endswith(b"\n"):
                pass
            yield b"", True
            continue
        yield line, False


def read_rows(path: PathLike, *, encoding: str | None = None, file_format: str | None = None
              ) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """Yield ``(row number, row)`` from a JSON Lines, JSON array or CSV file.

    The format is ``file_format`` (``"csv"``, ``"jsonl"`` or ``"json"``) or
    as :func:`detect_format` finds it. The file is checked first
    (:func:`check_input`, raising :class:`InputFileError`). The row number is
    the line the row starts on (for CSV the header is line 1), or for a JSON
    array the element's position. A row that cannot be read yields a
    :class:`RowError` in place of the dict, so the caller reports it and
    carries on. JSON Lines and CSV are read lazily; a JSON array is read
    whole. ``encoding`` is for CSV files that are not UTF-8.
    """
    kind = detect_format(path, file_format)
    check_input(path, encoding, kind)
    codec = _codec(encoding)
    if kind == "csv":
        return _read_csv(path, codec)
    if kind == "json":
        return _read_json_array(path)
    return _read_jsonl(path)


def _read_json_array(path: PathLike) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        document = loads(data[len(_BOM):] if data.startswith(_BOM) else data)
    except ValueError as exc:
        yield 1, RowError(None, f"the file is not valid JSON: {exc}")
        return
    if isinstance(document, dict):
        document = [document]  # one user
    if not isinstance(document, list):
        yield 1, RowError(None, "a .json file must hold an array of row objects")
        return
    for number, value in enumerate(document, start=1):
        if isinstance(value, dict):
            yield number, value
        else:
            yield number, RowError(None, f"a row must be a JSON object, got {value!r:.40}")


def _read_jsonl(path: PathLike) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    with open(path, "rb") as handle:
        for number, (line, cut) in enumerate(_lines(handle), start=1):
            if cut:
                yield number, RowError(None, f"line is longer than {MAX_LINE_BYTES} bytes")
                continue
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, RowError(None, f"not valid UTF-8 (byte {exc.start + 1})")
                continue
            try:
                value = loads(text.encode("utf-8"))
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
    if "\x00" in text:
        raise RowError(name, "contains a NUL character")
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


def _csv_row(names: list[str], record: list[str]) -> dict[str, Any] | RowError:
    """The row of a CSV record, or the first bad cell's error carrying the row with
    that cell as written (so the failures file shows what to fix)."""
    row: dict[str, Any] = {}
    problem: RowError | None = None
    # An empty cell means "not given", so leaving a column blank never sends an
    # empty string Clerk would reject.
    for name, text in zip(names, record, strict=False):
        if text == "":
            continue
        try:
            row[name] = _cell(name, text)
        except RowError as exc:
            row[name] = text
            problem = problem or exc
    if problem is not None:
        return RowError(problem.field, problem.message, data=row)
    return row


class _CsvLines:
    """Decoded lines for csv.reader, remembering which physical lines were bad."""

    def __init__(self, handle: IO[bytes], codec: str) -> None:
        self.raw = _lines(handle)
        self.codec = codec
        self.number = 0
        self.problems: dict[int, str] = {}

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        line, cut = next(self.raw)
        self.number += 1
        if cut:
            self.problems[self.number] = f"line is longer than {MAX_LINE_BYTES} bytes"
            return "\n"
        try:
            return line.decode(self.codec)
        except UnicodeDecodeError as exc:
            self.problems[self.number] = (
                f"not valid {self.codec} (byte {exc.start + 1}); is the file in another "
                "encoding? see --encoding"
            )
            return line.decode(self.codec, errors="replace")


def _read_csv(path: PathLike, codec: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    with open(path, "rb") as handle:
        lines = _CsvLines(handle, codec)
        reader = csv.reader(lines)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            yield 1, RowError(None, f"the header line cannot be read: {exc}")
            return
        if header is None:
            return
        names = [h.strip() for h in header]
        start = lines.number + 1
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                number, start = start, lines.number + 1
                yield number, RowError(None, f"cannot be read as CSV: {exc}")
                continue
            number, start = start, lines.number + 1
            problem = next((lines.problems.pop(n) for n in range(number, start)
                            if n in lines.problems), None)
            if problem is not None:
                yield number, RowError(None, problem)
                continue
            if not any(cell.strip() for cell in record):
                continue
            if len(record) > len(names):
                yield number, RowError(None, f"has {len(record)} cells, header has {len(names)}")
                continue
            yield number, _csv_row(names, record)


def count_rows(path: PathLike, *, encoding: str | None = None,
               file_format: str | None = None) -> int:
    """How many rows :func:`read_rows` will yield, bad ones included (a progress total)."""
    return sum(1 for _ in read_rows(path, encoding=encoding, file_format=file_format))
