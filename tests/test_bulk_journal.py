"""The import journal on its own: what it keeps, across reopening, and what it refuses.

The end-to-end import tests drive the journal through whole runs; these pin
its rules directly (fast, no server), so that a one-character change to one
of them fails a named test (see docs/mutation.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import sqlite3
import stat
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from clerk_async.bulk._journal import (
    DONE_STATES,
    Entry,
    Journal,
    JournalError,
    JournalLockedError,
    JournalWriteError,
    check_journal_path,
    read_journal,
)

from polling import wait_until


@pytest.fixture
async def path(tmp_path: Path) -> AsyncIterator[str]:
    yield str(tmp_path / "run.journal")


async def opened(path: str, *, batch: int = 256, interval: float = 0.2) -> Journal:
    journal = Journal(path, batch=batch, interval=interval)
    await journal.open()
    return journal


def committed(path: str) -> list[tuple[object, ...]]:
    """The rows table as another process sees it (committed data only)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute(
            "SELECT identity, occurrence, row, state, at_risk, key, user_id, code, message "
            "FROM rows ORDER BY row"
        ).fetchall()


async def test_outcomes_survive_reopening_and_read_back_in_line_order(path: str) -> None:
    journal = await opened(path)
    journal.record("e:b@x.test", 1, 7, "failed", key="b@x.test", code="form_param_invalid",
                   message="bad")
    journal.record("e:a@x.test", 1, 3, "created", key="a@x.test", user_id="user_a",
                   on_exists="skip")
    assert journal.get("e:a@x.test", 1) == Entry("created", False, "user_a", "skip", 3)
    await journal.close()
    assert committed(path) == [
        ("e:a@x.test", 1, 3, "created", 0, "a@x.test", "user_a", None, None),
        ("e:b@x.test", 1, 7, "failed", 0, "b@x.test", None, "form_param_invalid", "bad"),
    ]
    assert list(read_journal(path)) == [
        {"row": 3, "key": "a@x.test", "state": "created", "user_id": "user_a",
         "code": None, "message": None},
        {"row": 7, "key": "b@x.test", "state": "failed", "user_id": None,
         "code": "form_param_invalid", "message": "bad"},
    ]
    again = await opened(path)
    assert again.get("e:a@x.test", 1) == Entry("created", False, "user_a", "skip", 3)
    assert again.get("e:b@x.test", 1) == Entry("failed", False, None, None, 7)
    assert again.get("e:a@x.test", 2) is None  # same identity, a duplicate row after it
    await again.close()


async def test_an_intent_is_committed_before_intend_returns(path: str) -> None:
    journal = await opened(path, interval=3600.0)  # only intend itself can commit it
    await journal.intend("e:a@x.test", 1, 4)
    assert committed(path) == [("e:a@x.test", 1, 4, "intent", 1, None, None, None, None)]
    assert journal.get("e:a@x.test", 1) == Entry("intent", True, None, None, 4)
    await journal.close()


async def test_occurrences_count_rows_of_one_identity_per_run(path: str) -> None:
    journal = await opened(path)
    assert [journal.occurrence(i) for i in ("e:a", "e:b", "e:a", "e:a")] == [1, 1, 2, 3]
    await journal.close()
    again = await opened(path)  # a new run counts afresh
    assert again.occurrence("e:a") == 1
    await again.close()


async def test_a_user_a_finished_row_is_done_with_is_claimed_for_every_other_row(
    path: str,
) -> None:
    journal = await opened(path, interval=3600.0)
    journal.record("e:a@x.test", 1, 1, "created", key="a@x.test", user_id="user_1")
    journal.record("e:b@x.test", 1, 2, "existed", key="b@x.test", user_id="user_2")
    journal.record("e:c@x.test", 1, 3, "failed", key="c@x.test", user_id="user_3")
    for where in ("unsaved", "committed"):
        assert journal.claimed_by_other("user_1", "e:z@x.test", 1), where
        assert not journal.claimed_by_other("user_1", "e:a@x.test", 1), where  # itself
        assert journal.claimed_by_other("user_1", "e:a@x.test", 2), where  # a duplicate
        assert journal.claimed_by_other("user_2", "e:z@x.test", 1), where  # existed too
        assert not journal.claimed_by_other("user_3", "e:z@x.test", 1), where  # failed
        assert not journal.claimed_by_other("user_4", "e:z@x.test", 1), where
        await journal._commit()
    await journal.close()
    assert sorted(DONE_STATES) == ["created", "existed", "updated"]


async def test_a_full_batch_is_committed_without_waiting_for_the_interval(path: str) -> None:
    journal = await opened(path, batch=3, interval=3600.0)
    for row in (1, 2):
        journal.record(f"e:{row}", 1, row, "created", key=str(row), user_id=f"user_{row}")
    await wait_until(lambda: not journal._wake.is_set(), what="the flusher to look")
    assert committed(path) == []  # two of three: the batch waits
    journal.record("e:3", 1, 3, "existed", key="3", user_id="user_3")
    await wait_until(lambda: len(committed(path)) == 3, what="the full batch's commit")
    await journal.close()


async def test_outcomes_are_committed_every_interval(path: str) -> None:
    journal = await opened(path, batch=1000, interval=0.01)
    journal.record("e:1", 1, 1, "created", key="1", user_id="user_1")
    await wait_until(lambda: len(committed(path)) == 1, what="the interval's commit")
    await journal.close()


async def test_close_releases_the_lock_and_leaves_no_pid_nor_wal(path: str) -> None:
    journal = await opened(path)
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        meta = dict(db.execute("SELECT k, v FROM meta").fetchall())
    assert meta == {"pid": str(os.getpid()), "format": "3", "app": "clerk-users import journal"}
    second = Journal(path)
    with pytest.raises(JournalLockedError, match=rf"^journal {path} is in use by process "
                       rf"{os.getpid()}; wait for it to finish or use another journal$") as info:
        await second.open()
    assert info.value.pid == os.getpid() and info.value.path == path
    journal.record("e:1", 1, 1, "created", key="1", user_id="user_1")
    await journal.close()
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        assert dict(db.execute("SELECT k, v FROM meta").fetchall()) == {
            "format": "3", "app": "clerk-users import journal"}
    assert not os.path.exists(path + "-wal") or os.path.getsize(path + "-wal") == 0
    await second.open()  # the lock is free again
    assert second.get("e:1", 1) == Entry("created", False, "user_1", None, 1)
    await second.close()


def test_a_holder_without_a_pid_is_named_another_process(path: str) -> None:
    assert str(JournalLockedError(path, None)) == (
        f"journal {path} is in use by another process; wait for it to finish "
        "or use another journal")


async def test_paths_that_cannot_hold_a_journal_are_refused(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="journal"):
        check_journal_path(str(tmp_path))  # a directory
    jsonl = tmp_path / "old.journal"
    jsonl.write_text('{"row": 1, "state": "created"}\n')
    with pytest.raises(JournalError, match=r"^journal .*old\.journal is not an import journal "
                       "of this version"):
        check_journal_path(str(jsonl))
    with pytest.raises(JournalError, match="not an import journal"):
        await Journal(jsonl).open()
    empty = tmp_path / "empty.journal"
    empty.write_bytes(b"")
    check_journal_path(str(empty))  # an empty file is a new journal
    journal = await opened(str(empty))
    await journal.close()
    check_journal_path(str(empty))  # and now a journal of this version


async def test_a_holder_that_left_no_pid_is_another_process(path: str) -> None:
    journal = await opened(path)
    await journal.close()  # a clean close removes the pid row
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by "someone else"
        with pytest.raises(JournalLockedError, match="in use by another process") as info:
            await Journal(path).open()
        assert info.value.pid is None
    finally:
        os.close(fd)


async def test_closing_twice_is_safe_and_a_closed_journal_is_not_read(path: str) -> None:
    journal = await opened(path)
    flusher, reader = journal._task, journal._reader
    assert flusher is not None and reader is not None
    await journal.close()
    await journal.close()
    assert flusher.done()
    with pytest.raises(sqlite3.ProgrammingError):
        reader.execute("SELECT 1")  # the connections are closed, not just forgotten
    with pytest.raises(AssertionError, match=r"^journal is not open\b"):
        journal.get("e:1", 1)
    with pytest.raises(AssertionError, match=r"^journal is not open\b"):
        journal.claimed_by_other("user_1", "e:1", 1)


class _HeldWriter:
    """Holds the journal's commits in their thread until released, so a test can look
    at the journal while a commit is in flight."""

    def __init__(self, journal: Journal) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self._write = journal._write
        journal._write = self  # type: ignore[method-assign]

    def __call__(self, ops: list[Any]) -> None:
        self.entered.set()
        assert self.release.wait(10), "the test never released the commit"
        self._write(ops)


async def test_records_in_flight_are_read_from_memory(path: str) -> None:
    journal = await opened(path, interval=3600.0)
    await journal.intend("e:a", 1, 1)
    journal.record("e:a", 1, 1, "failed", key="a", code="timeout", at_risk=True)
    journal.record("e:b", 1, 2, "created", key="b", user_id="user_1")
    journal.record("e:c", 1, 3, "failed", key="c", user_id="user_1")  # same user, not done
    held = _HeldWriter(journal)
    journal._wake.set()  # the flusher commits the batch now...
    await wait_until(held.entered.is_set, what="the flusher's commit")
    # ...and it is being written, not yet in the file.
    intent = asyncio.ensure_future(journal.intend("e:a", 1, 1))
    await asyncio.sleep(0)
    assert committed(path)[0][3] == "intent"  # the file still has only the first intent
    assert journal.get("e:a", 1) == Entry("intent", True, None, None, 1)
    assert journal.get("e:b", 1) == Entry("created", False, "user_1", None, 2)
    assert journal.claimed_by_other("user_1", "e:z", 1)
    assert not journal.claimed_by_other("user_1", "e:b", 1)
    held.release.set()
    await intent  # committed by the flusher's next round
    assert journal.get("e:a", 1) == Entry("intent", True, None, None, 1)
    await journal.close()


async def test_a_failed_batch_is_rolled_back_whole_and_stops_the_journal(path: str) -> None:
    journal = await opened(path, interval=3600.0)
    journal.record("e:1", 1, 1, "created", key="1", user_id="user_1")
    journal.record("e:2", 1, 2, None, key="2")  # type: ignore[arg-type]  # NOT NULL state
    await journal._commit()
    assert committed(path) == []  # nothing of the failed batch, not even its first row
    assert isinstance(journal.failed, JournalWriteError)
    with pytest.raises(JournalWriteError, match="cannot be written"):
        journal.record("e:3", 1, 3, "created", key="3", user_id="user_3")
    await journal.close()
    again = await opened(path)  # no transaction was left open, the lock is free
    await again.close()


def test_another_applications_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE meta (k TEXT, v TEXT)")
        db.execute("CREATE TABLE rows (x)")  # even a table of the same name
        db.commit()
    before = other.read_bytes()
    with pytest.raises(JournalError, match=r"SQLite database of another application"):
        check_journal_path(other)
    with pytest.raises(JournalError, match=r"another application"):
        asyncio.run(Journal(other).open())
    assert other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


def test_a_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "journal.fifo"
    os.mkfifo(fifo)
    # Opening a FIFO for reading blocks until a writer comes: the check must not.
    with pytest.raises(JournalError, match=r"is not a regular file"):
        check_journal_path(fifo)


async def test_refusals_say_what_is_wrong_with_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(JournalError, match=rf"^journal {tmp_path} is a directory; give a file"):
        check_journal_path(str(tmp_path))
    old = tmp_path / "old.journal"
    old.write_text('{"row": 1}\n')
    with pytest.raises(JournalError) as info:
        check_journal_path(str(old))
    assert str(info.value) == (
        f"journal {old} is not an import journal of this version (a JSONL journal of an "
        "earlier clerk-users, or another file); give a new journal file")
    # As root every file is readable: pretend this one is not (still writable).
    monkeypatch.setattr(os, "access", lambda _path, mode: mode != os.R_OK)
    with pytest.raises(JournalError, match=rf"^journal {old} is not readable$"):
        check_journal_path(str(old))


async def test_defaults_and_closing_a_journal_never_opened(path: str) -> None:
    journal = Journal(path)
    # Outcomes are committed in batches of 256 or every 0.2 s, whichever comes first.
    assert (journal._batch, journal._interval) == (256, 0.2)
    await journal.close()  # nothing to commit, nothing to release
    assert not os.path.exists(path)


async def test_a_new_journal_file_is_private_to_its_owner_for_writing(path: str) -> None:
    umask = os.umask(0o022)
    try:
        journal = await opened(path)
        await journal.close()
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


async def test_journals_that_cannot_be_used_say_why(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(AssertionError, match=r"^journal is not open\b"):
        Journal(path).get("e:1", 1)
    with open(path, "wb") as handle:  # looks like SQLite, is not
        handle.write(b"SQLite format 3\x00" + b"\xff" * 200)
    for _ in range(2):  # the failed open let go of its lock
        with pytest.raises(JournalError, match=rf"^journal {path} is an SQLite database of "):
            await Journal(path).open()
    os.remove(path)

    def failing_flock(fd: int, operation: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(fcntl, "flock", failing_flock)
    with pytest.raises(JournalError, match=rf"^journal {path}: Input/output error$"):
        await Journal(path).open()


class _Interrupted(BaseException):
    """Not an Exception: what a thread sees when the process is being torn down."""


@pytest.mark.parametrize(("failure", "raised", "message"), [
    (sqlite3.OperationalError("disk I/O error"), JournalWriteError,
     r"^journal .* cannot be written \(disk I/O error\)$"),
    (_Interrupted(), JournalError, "^journal write interrupted$"),
])
async def test_a_failed_intent_commit_fails_the_caller_waiting_for_it(
    path: str, failure: BaseException, raised: type[BaseException], message: str
) -> None:
    journal = await opened(path, interval=3600.0)

    def broken(ops: list[Any]) -> None:
        raise failure

    journal._write = broken  # type: ignore[method-assign]
    with pytest.raises(raised, match=message):
        await journal.intend("e:1", 1, 1)
    # close() still releases the file, so the next run can take the journal; a
    # write failure is kept for the importer to report (a systemic stop).
    if isinstance(failure, sqlite3.Error):
        await journal.close()
        assert isinstance(journal.failed, JournalWriteError)
        with pytest.raises(JournalWriteError):
            journal.record("e:2", 1, 2, "created", key="2")
    else:
        with pytest.raises(type(failure)):
            await journal.close()
    assert journal._lock_fd is None and journal._writer is None
    again = await opened(path)
    await again.close()


async def test_an_open_cancelled_while_it_fails_lets_go_cleanly(path: str) -> None:
    holder = await opened(path)
    late = asyncio.ensure_future(Journal(path).open())  # will find the journal locked
    await asyncio.sleep(0)
    late.cancel()
    with pytest.raises(asyncio.CancelledError):
        await late
    await holder.close()


async def test_close_survives_a_cancelled_flusher_and_a_failing_final_cleanup(
    path: str,
) -> None:
    journal = await opened(path)
    journal.record("e:1", 1, 1, "created", key="1", user_id="user_1")
    assert journal._task is not None
    journal._task.cancel()  # e.g. asyncio.run cancelling what is left at shutdown

    class NoCleanup:
        """The writer, failing only the final cleanup (a disk that went read-only)."""

        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def execute(self, sql: str, *args: Any) -> Any:
            if sql.startswith(("DELETE FROM meta", "PRAGMA wal_checkpoint")):
                raise sqlite3.OperationalError("attempt to write a readonly database")
            return self.db.execute(sql, *args)

        def close(self) -> None:
            self.db.close()

    assert journal._writer is not None
    journal._writer = NoCleanup(journal._writer)  # type: ignore[assignment]
    await journal.close()
    assert [r[0] for r in committed(path)] == ["e:1"]  # the outcome was still committed
    again = await opened(path)  # and the lock was released
    await again.close()
