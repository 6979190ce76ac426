"""The import journal: what each row of an input became, in an SQLite file.

Why SQLite (stdlib ``sqlite3``, WAL mode) rather than the JSONL file of
earlier versions: resume used to load every finished key into a Python set,
which grows with the input (measured: ~109 MB for 1M rows). Here a resumed
run asks the indexed file about each row as it reaches it, so memory stays
flat at any size; ``benchmarks/bench_journal.py`` measures both.

Each row is stored under its *identity* (all of its typed, normalised keys,
see :func:`~clerk_async.bulk._rows.identity`) and its *occurrence* (1 for the
first row of the file with that identity, 2 for a duplicate after it, …),
never its line number: editing, reordering or prepending rows never makes a
rerun send a done row again. The line number is kept for reports. States:

* ``intent``: a create may be in flight. Written, and committed, *before*
  the create is sent, and only after the pre-check found no user with the
  row's identifiers. A run killed after sending leaves it behind; the next
  run then knows the row is at risk and judges a user it finds by evidence.
* ``created`` / ``existed`` / ``updated``: done, with the user id and the
  ``on_exists`` the outcome was decided under. A rerun skips the row, unless
  it was ``existed`` and the rerun's ``on_exists`` would settle it otherwise.
* ``failed``: with Clerk's (or our) code and message; a rerun tries it again.
  ``at_risk`` marks a failure after which a create may still have happened.
* ``undone``: a created user that ``bulk_undo`` deleted again.

Intents are committed in groups (every waiting row shares one commit), so
they add little latency; outcomes are batched. Commits are safe against the
process being killed at any point (WAL with ``synchronous=NORMAL``); after a
power cut the last fraction of a second of outcomes may be lost, and those
rows are simply checked again. A failed commit (disk full, I/O error) is
rolled back whole and raises :class:`JournalWriteError`; the file then
still describes every row correctly (rows whose outcome was lost stay
``intent``, which a rerun checks).

A file is only used if it is empty or carries our marker in its ``meta``
table: another application's SQLite file, a FIFO or a device is refused
before anything is written to it.

The file is locked with ``fcntl.flock`` while a run has it open: a second
run on the same journal gets :class:`JournalLockedError` naming the holder.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import sqlite3
import stat
from collections.abc import Iterator
from typing import Any, NamedTuple
from urllib.parse import quote

from ._paths import OutputPathError, check_output_path

__all__ = [
    "DONE_STATES",
    "Entry",
    "Journal",
    "JournalError",
    "JournalLockedError",
    "JournalWriteError",
    "check_journal_path",
    "read_journal",
]

#: States after which a row is never sent again. Failures are retried.
DONE_STATES = frozenset({"created", "existed", "updated"})
_MAGIC = b"SQLite format 3\x00"
#: Our marker in the meta table; a file without it is not ours to change.
_APP = "clerk-users import journal"
_FORMAT = "3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    identity TEXT NOT NULL,
    occurrence INTEGER NOT NULL,
    row INTEGER NOT NULL,
    state TEXT NOT NULL,
    at_risk INTEGER NOT NULL DEFAULT 0,
    key TEXT,
    user_id TEXT,
    code TEXT,
    message TEXT,
    on_exists TEXT,
    PRIMARY KEY (identity, occurrence)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rows_by_user ON rows (user_id) WHERE user_id IS NOT NULL;
"""
_INTENT = """
INSERT INTO rows (identity, occurrence, row, state, at_risk) VALUES (?, ?, ?, 'intent', 1)
ON CONFLICT (identity, occurrence) DO UPDATE SET state = 'intent', at_risk = 1,
    row = excluded.row
"""
_MOVED = "UPDATE rows SET row = ? WHERE identity = ? AND occurrence = ?"
_OUTCOME = """
INSERT INTO rows (identity, occurrence, row, state, at_risk, key, user_id, code, message,
                  on_exists)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (identity, occurrence) DO UPDATE SET row = excluded.row,
    state = excluded.state, at_risk = excluded.at_risk, key = excluded.key,
    user_id = excluded.user_id, code = excluded.code, message = excluded.message,
    on_exists = excluded.on_exists
"""


class JournalError(ValueError):
    """The journal path cannot be used (a directory, not a journal, unwritable…)."""


class JournalLockedError(JournalError):
    """Another run holds the journal."""

    def __init__(self, path: str, pid: int | None) -> None:
        holder = f"process {pid}" if pid else "another process"
        super().__init__(f"journal {path} is in use by {holder}; wait for it to finish "
                         "or use another journal")
        self.path = path
        self.pid = pid


class JournalWriteError(JournalError):
    """The journal could not be written (disk full, I/O error); the run must stop."""


class Entry(NamedTuple):
    """What the journal knows about one row."""

    state: str
    at_risk: bool
    user_id: str | None
    on_exists: str | None = None
    row: int | None = None  #: the line the row was last seen on


def check_journal_path(path: str | os.PathLike[str]) -> None:
    """Raise :class:`JournalError` for a path that cannot hold our journal.

    Reads at most the file's header and its ``meta`` table, read-only: a file
    that is not ours is never changed, and a FIFO is never opened.
    """
    path = os.fspath(path)
    try:
        check_output_path(path, "journal")
    except OutputPathError as exc:
        raise JournalError(str(exc)) from None
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise JournalError(f"journal {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise JournalError(f"journal {path} is not a regular file (a FIFO, socket or "
                           "device); give a file name")
    if not os.access(path, os.R_OK):
        raise JournalError(f"journal {path} is not readable")
    with open(path, "rb") as handle:
        head = handle.read(len(_MAGIC))
    if not head:
        return
    if head != _MAGIC:
        raise JournalError(
            f"journal {path} is not an import journal of this version (a JSONL journal "
            "of an earlier clerk-users, or another file); give a new journal file"
        )
    marker = _marker(path)
    if marker is None or marker[0] != _APP:
        raise JournalError(
            f"journal {path} is an SQLite database of another application (no clerk-users "
            "journal marker); it was left untouched, give a new journal file"
        )
    if marker[1] != _FORMAT:
        raise JournalError(
            f"journal {path} was written by an earlier clerk-users (journal format "
            f"{marker[1]}, this version reads {_FORMAT}); finish that import with the "
            "version that started it, or give a new journal file"
        )


def _marker(path: str) -> tuple[str, str] | None:
    """``(app, format)`` from the meta table, read without writing anything."""
    base = f"file:{quote(os.path.abspath(path))}?mode=ro"
    found: dict[str, str] = {}
    # A WAL file without its -shm cannot be read plainly read-only; "immutable"
    # reads it without creating anything beside it.
    for uri in (base, base + "&immutable=1"):
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=1.0)) as db:
                found = dict(db.execute(
                    "SELECT k, v FROM meta WHERE k IN ('app', 'format')").fetchall())
            break
        except sqlite3.Error:
            continue
    if "app" in found:
        return str(found["app"]), str(found.get("format", ""))
    if "format" in found:  # an earlier version of ours, which wrote no app marker
        return _APP, str(found["format"])
    return None


def _holder_pid(path: str) -> int | None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                                timeout=1.0)) as db:
            row = db.execute("SELECT v FROM meta WHERE k = 'pid'").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0]) if row and str(row[0]).isdigit() else None


Op = tuple[str, tuple[Any, ...]]
Key = tuple[str, int]


class Journal:
    """The journal of one import run; use ``await open()`` and ``await close()``."""

    def __init__(self, path: str | os.PathLike[str], *, batch: int = 256,
                 interval: float = 0.2) -> None:
        self.path = os.fspath(path)
        self._batch = batch
        self._interval = interval
        self._lock_fd: int | None = None
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        # Written but not yet committed: the newest batch, and the one being
        # committed. Reads look here first, so they never miss a record.
        self._ops: list[Op] = []
        self._new: dict[Key, Entry] = {}
        self._flushing: dict[Key, Entry] = {}
        self._claims_new: dict[str, Key] = {}
        self._claims_flushing: dict[str, Key] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._committing = asyncio.Lock()  # one commit at a time on the one connection
        #: Set once a commit failed: nothing more is written, the run must stop.
        self.failed: JournalWriteError | None = None

    # -- life cycle ---------------------------------------------------------------

    async def open(self) -> None:
        opening = asyncio.ensure_future(asyncio.to_thread(self._open))
        try:
            await asyncio.shield(opening)
        except asyncio.CancelledError:
            # The thread goes on and may take the lock: wait, then let go of it.
            with contextlib.suppress(Exception):
                await opening
            self._release()
            raise
        self._task = asyncio.create_task(self._flusher())

    def _open(self) -> None:
        check_journal_path(self.path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o644)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped in since the check
                raise JournalError(f"journal {self.path} is not a regular file")
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise JournalLockedError(self.path, _holder_pid(self.path)) from None
            raise JournalError(f"journal {self.path}: {exc.strerror}") from None
        except JournalError:
            os.close(fd)
            raise
        self._lock_fd = fd
        try:
            self._writer = sqlite3.connect(self.path, check_same_thread=False,
                                           isolation_level=None)
            self._writer.execute("PRAGMA journal_mode=WAL")
            self._writer.execute("PRAGMA synchronous=NORMAL")
            self._writer.executescript(_SCHEMA)
            self._writer.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
                ("app", _APP), ("format", _FORMAT), ("pid", str(os.getpid())),
            ])
            self._reader = sqlite3.connect(self.path, check_same_thread=False,
                                           isolation_level=None)
            # Which occurrence of an identity a row is, counted per run (on disk
            # when large, so memory stays flat for any input).
            self._reader.execute(
                "CREATE TEMP TABLE seen (identity TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        except sqlite3.Error as exc:
            self._release()
            raise JournalError(f"journal {self.path} cannot be used: {exc}") from None

    def _release(self) -> None:
        for db in (self._reader, self._writer):
            if db is not None:
                db.close()
        self._reader = self._writer = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    async def close(self) -> None:
        """Commit what is pending and release the file; safe after cancellation too.

        Cancelling the caller does not cut this short: the file lock must
        always be released, and whatever was recorded committed.
        """
        closing = asyncio.ensure_future(self._close())
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            await closing
            raise

    async def _close(self) -> None:
        self._closing = True
        self._wake.set()
        try:
            task, self._task = self._task, None
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self._writer is not None and self.failed is None:
                await self._commit()
        finally:
            # The lock is released even after a failed write, so a rerun is
            # not told "in use".
            await asyncio.to_thread(self._finish)

    def _finish(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("DELETE FROM meta WHERE k = 'pid'")
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._release()

    # -- reads ----------------------------------------------------------------------

    def occurrence(self, identity: str) -> int:
        """1 for the first row with this identity in this run, 2 for the next, …"""
        assert self._reader is not None, "journal is not open"
        found = self._reader.execute(
            "INSERT INTO seen VALUES (?, 1) ON CONFLICT (identity) DO UPDATE SET n = n + 1"
            " RETURNING n", (identity,)).fetchone()
        return int(found[0])

    def get(self, identity: str, occurrence: int) -> Entry | None:
        """What the journal knows of this row (this run's unsaved records included)."""
        key = (identity, occurrence)
        entry = self._new.get(key) or self._flushing.get(key)
        if entry is not None:
            return entry
        assert self._reader is not None, "journal is not open"
        found = self._reader.execute(
            "SELECT state, at_risk, user_id, on_exists, row FROM rows"
            " WHERE identity = ? AND occurrence = ?", key,
        ).fetchone()
        return Entry(found[0], bool(found[1]), found[2], found[3], found[4]) if found else None

    def claimed_by_other(self, user_id: str, identity: str, occurrence: int) -> bool:
        """Whether another row of this journal is done with this user (in any done state).

        Such a user belongs to that row's story (created by it, or met as
        existing), so no row may claim it as its own creation."""
        mine = (identity, occurrence)
        for claims in (self._claims_new, self._claims_flushing):
            holder = claims.get(user_id)
            if holder is not None and holder != mine:
                return True
        assert self._reader is not None, "journal is not open"
        found = self._reader.execute(
            "SELECT 1 FROM rows WHERE user_id = ? AND state IN ('created', 'existed', 'updated')"
            " AND NOT (identity = ? AND occurrence = ?) LIMIT 1",
            (user_id, identity, occurrence),
        ).fetchone()
        return found is not None

    def created(self) -> list[tuple[str, int, int, str, str]]:
        """``(identity, occurrence, row, key, user_id)`` of every row this journal created."""
        assert self._reader is not None, "journal is not open"
        return [(r[0], r[1], r[2], r[3], r[4]) for r in self._reader.execute(
            "SELECT identity, occurrence, row, key, user_id FROM rows"
            " WHERE state = 'created' ORDER BY row")]

    # -- writes ---------------------------------------------------------------------

    def _check(self) -> None:
        if self.failed is not None:
            raise self.failed

    async def intend(self, identity: str, occurrence: int, row: int) -> None:
        """Record that a create is about to be sent; returns once it is committed."""
        self._check()
        self._ops.append((_INTENT, (identity, occurrence, row)))
        self._new[(identity, occurrence)] = Entry("intent", True, None, None, row)
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake.set()
        await waiter

    def record(self, identity: str, occurrence: int, row: int, state: str, *, key: str,
               user_id: str | None = None, code: str | None = None,
               message: str | None = None, at_risk: bool = False,
               on_exists: str | None = None) -> None:
        """Record a row's outcome; committed with the next batch."""
        self._check()
        self._ops.append((_OUTCOME, (identity, occurrence, row, state, int(at_risk), key,
                                     user_id, code, message, on_exists)))
        self._new[(identity, occurrence)] = Entry(state, at_risk, user_id, on_exists, row)
        if user_id is not None and state in DONE_STATES:
            self._claims_new[user_id] = (identity, occurrence)
        if len(self._ops) >= self._batch:
            self._wake.set()

    def moved(self, identity: str, occurrence: int, row: int) -> None:
        """A done row is now on line ``row`` (rows were inserted or moved above it)."""
        self._check()
        self._ops.append((_MOVED, (row, identity, occurrence)))

    async def flush(self) -> None:
        """Commit everything recorded so far (raises :class:`JournalWriteError`)."""
        await self._commit()
        self._check()

    async def _flusher(self) -> None:
        while not self._closing and self.failed is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self._commit()

    async def _commit(self) -> None:
        async with self._committing:
            await self._commit_now()

    async def _commit_now(self) -> None:
        if not self._ops or self.failed is not None:
            return
        ops, self._ops = self._ops, []
        waiters, self._waiters = self._waiters, []
        self._flushing, self._new = self._new, {}
        self._claims_flushing, self._claims_new = self._claims_new, {}
        writing = asyncio.ensure_future(asyncio.to_thread(self._write, ops))
        try:
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                # The thread goes on: hold the commit lock until it is done, so
                # no second transaction starts on the connection meanwhile.
                await asyncio.wait([writing])
                raise
        except (sqlite3.Error, OSError) as exc:
            self.failed = JournalWriteError(f"journal {self.path} cannot be written ({exc})")
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(self.failed)
            return
        except BaseException:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(JournalError("journal write interrupted"))
            raise
        finally:
            self._flushing, self._claims_flushing = {}, {}
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _write(self, ops: list[Op]) -> None:
        db = self._writer
        assert db is not None
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, args in ops:
                db.execute(sql, args)
            db.execute("COMMIT")
        except BaseException:
            # All or nothing: the file keeps describing every row correctly.
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise


def read_journal(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every row a journal knows, in line order: ``row``, ``key``, ``state``,
    ``user_id``, ``code``, ``message`` (e.g. to map input rows to Clerk user ids)."""
    with contextlib.closing(sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True)) as db:
        cursor = db.execute(
            "SELECT row, key, state, user_id, code, message FROM rows ORDER BY row"
        )
        for row, key, state, user_id, code, message in cursor:
            yield {"row": row, "key": key, "state": state, "user_id": user_id,
                   "code": code, "message": message}
