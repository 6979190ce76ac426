"""The import journal: what each row of an input became, in an SQLite file.

Why SQLite (stdlib ``sqlite3``, WAL mode) rather than the JSONL file of
earlier versions: resume used to load every finished key into a Python set,
which grows with the input (measured: ~109 MB for 1M rows). Here a resumed
run asks the indexed file about each row as it reaches it, so memory stays
flat at any size; ``benchmarks/bench_journal.py`` measures both.

Each row is stored under its *identity* (all of its typed keys, see
:func:`~clerk_async.bulk._rows.identity`) and its line number, with a state:

* ``intent``: a create may be in flight. Written, and committed, *before*
  the create is sent, with Clerk's clock at that moment (``intent_ms``). A
  run killed after sending leaves it behind; the next run then knows the row
  is at risk and checks Clerk before sending again.
* ``created`` / ``existed`` / ``updated``: done, with the user id. A rerun
  skips the row.
* ``failed``: with Clerk's (or our) code and message; a rerun tries it again.
  ``at_risk`` marks a failure after which a create may still have happened.

Intents are committed in groups (every waiting row shares one commit), so
they add little latency; outcomes are batched. Commits are safe against the
process being killed at any point (WAL with ``synchronous=NORMAL``); after a
power cut the last fraction of a second of outcomes may be lost, and those
rows are simply checked again.

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
from collections.abc import Iterator
from typing import Any, NamedTuple

from ._paths import OutputPathError, check_output_path

__all__ = [
    "DONE_STATES",
    "Entry",
    "Journal",
    "JournalError",
    "JournalLockedError",
    "check_journal_path",
    "read_journal",
]

#: States after which a row is never sent again. Failures are retried.
DONE_STATES = frozenset({"created", "existed", "updated"})
_MAGIC = b"SQLite format 3\x00"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    identity TEXT NOT NULL,
    row INTEGER NOT NULL,
    state TEXT NOT NULL,
    intent_ms INTEGER,
    at_risk INTEGER NOT NULL DEFAULT 0,
    key TEXT,
    user_id TEXT,
    code TEXT,
    message TEXT,
    PRIMARY KEY (identity, row)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rows_by_user ON rows (user_id) WHERE user_id IS NOT NULL;
"""
# A second intent for a row still at risk keeps the earlier time: the create
# sent back then may land later than the new one.
_INTENT = """
INSERT INTO rows (identity, row, state, intent_ms, at_risk) VALUES (?, ?, 'intent', ?, 1)
ON CONFLICT (identity, row) DO UPDATE SET state = 'intent', at_risk = 1,
    intent_ms = CASE WHEN rows.at_risk = 1 AND rows.intent_ms IS NOT NULL
                     THEN min(rows.intent_ms, excluded.intent_ms)
                     ELSE excluded.intent_ms END
"""
_OUTCOME = """
INSERT INTO rows (identity, row, state, at_risk, key, user_id, code, message)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (identity, row) DO UPDATE SET state = excluded.state,
    at_risk = excluded.at_risk, key = excluded.key, user_id = excluded.user_id,
    code = excluded.code, message = excluded.message
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


class Entry(NamedTuple):
    """What the journal knows about one row."""

    state: str
    intent_ms: int | None
    at_risk: bool
    user_id: str | None


def check_journal_path(path: str) -> None:
    """Raise :class:`JournalError` for a path that cannot hold a journal."""
    try:
        check_output_path(path, "journal")
    except OutputPathError as exc:
        raise JournalError(str(exc)) from None
    if os.path.exists(path):
        if not os.access(path, os.R_OK):
            raise JournalError(f"journal {path} is not readable")
        with open(path, "rb") as handle:
            head = handle.read(len(_MAGIC))
        if head and head != _MAGIC:
            raise JournalError(
                f"journal {path} is not an import journal of this version (a JSONL journal "
                "of an earlier clerk-users, or another file); give a new journal file"
            )


def _holder_pid(path: str) -> int | None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                                timeout=1.0)) as db:
            row = db.execute("SELECT v FROM meta WHERE k = 'pid'").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0]) if row and str(row[0]).isdigit() else None


Op = tuple[str, tuple[Any, ...]]


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
        self._new: dict[tuple[str, int], Entry] = {}
        self._flushing: dict[tuple[str, int], Entry] = {}
        self._claims_new: dict[str, tuple[str, int, str]] = {}
        self._claims_flushing: dict[str, tuple[str, int, str]] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

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
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise JournalLockedError(self.path, _holder_pid(self.path)) from None
            raise JournalError(f"journal {self.path}: {exc.strerror}") from None
        self._lock_fd = fd
        try:
            self._writer = sqlite3.connect(self.path, check_same_thread=False,
                                           isolation_level=None)
            self._writer.execute("PRAGMA journal_mode=WAL")
            self._writer.execute("PRAGMA synchronous=NORMAL")
            self._writer.executescript(_SCHEMA)
            self._writer.execute("INSERT OR REPLACE INTO meta VALUES ('pid', ?)",
                                 (str(os.getpid()),))
            self._writer.execute("INSERT OR REPLACE INTO meta VALUES ('format', '2')")
            self._reader = sqlite3.connect(self.path, check_same_thread=False,
                                           isolation_level=None)
        except sqlite3.DatabaseError as exc:
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
            if self._writer is not None:
                await self._commit()
        finally:
            # A flusher that died of a write error re-raises it above; the
            # lock is released all the same, so a rerun is not told "in use".
            await asyncio.to_thread(self._finish)

    def _finish(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("DELETE FROM meta WHERE k = 'pid'")
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._release()

    # -- reads ----------------------------------------------------------------------

    def get(self, identity: str, row: int) -> Entry | None:
        """What the journal knows of this row (this run's unsaved records included)."""
        key = (identity, row)
        entry = self._new.get(key) or self._flushing.get(key)
        if entry is not None:
            return entry
        assert self._reader is not None, "journal is not open"
        found = self._reader.execute(
            "SELECT state, intent_ms, at_risk, user_id FROM rows WHERE identity = ? AND row = ?",
            key,
        ).fetchone()
        return Entry(found[0], found[1], bool(found[2]), found[3]) if found else None

    def claimed_by_other(self, user_id: str, identity: str, row: int, *,
                         states: frozenset[str] = DONE_STATES) -> bool:
        """Whether another row finished with this user in one of ``states``."""
        mine = (identity, row)
        for claims in (self._claims_new, self._claims_flushing):
            holder = claims.get(user_id)
            if holder is not None and holder[:2] != mine and holder[2] in states:
                return True
        assert self._reader is not None, "journal is not open"
        marks = ", ".join("?" * len(states))
        found = self._reader.execute(
            f"SELECT 1 FROM rows WHERE user_id = ? AND state IN ({marks})"
            " AND NOT (identity = ? AND row = ?) LIMIT 1",
            (user_id, *sorted(states), identity, row),
        ).fetchone()
        return found is not None

    # -- writes ---------------------------------------------------------------------

    async def intend(self, identity: str, row: int, intent_ms: int) -> None:
        """Record that a create is about to be sent; returns once it is committed."""
        previous = self.get(identity, row)
        if previous is not None and previous.at_risk and previous.intent_ms is not None:
            intent_ms = min(intent_ms, previous.intent_ms)
        self._ops.append((_INTENT, (identity, row, intent_ms)))
        self._new[(identity, row)] = Entry("intent", intent_ms, True, None)
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake.set()
        await waiter

    def record(self, identity: str, row: int, state: str, *, key: str,
               user_id: str | None = None, code: str | None = None,
               message: str | None = None, at_risk: bool = False) -> None:
        """Record a row's outcome; committed with the next batch."""
        previous = self.get(identity, row)
        intent_ms = previous.intent_ms if previous is not None and at_risk else None
        self._ops.append((_OUTCOME, (identity, row, state, int(at_risk), key, user_id,
                                     code, message)))
        self._new[(identity, row)] = Entry(state, intent_ms, at_risk, user_id)
        if user_id is not None and state in DONE_STATES:
            self._claims_new[user_id] = (identity, row, state)
        if len(self._ops) >= self._batch:
            self._wake.set()

    async def _flusher(self) -> None:
        while not self._closing:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self._commit()

    async def _commit(self) -> None:
        if not self._ops:
            return
        ops, self._ops = self._ops, []
        waiters, self._waiters = self._waiters, []
        self._flushing, self._new = self._new, {}
        self._claims_flushing, self._claims_new = self._claims_new, {}
        try:
            await asyncio.shield(asyncio.to_thread(self._write, ops))
        except BaseException as exc:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(exc if isinstance(exc, Exception)
                                         else JournalError("journal write interrupted"))
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
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


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
