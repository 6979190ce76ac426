"""The import journal: an append-only JSONL record of what each row became.

One line per finished row: ``{"key", "row", "outcome", "user_id"}`` or, for a
failure, ``"error": {"code", "message"}``. Lines are batched and each batch is
written, flushed and fsynced in a worker thread, so the event loop never
waits on the disk. A crash loses at most the last unsynced batch; those rows
are simply tried again on the next run, where Clerk's uniqueness checks (and
the importer's lookup) stop them from being created twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from ._convert import dumps, loads

__all__ = ["DONE_OUTCOMES", "Journal"]

#: Outcomes after which a row is never sent again. Failures are retried.
DONE_OUTCOMES = frozenset({"created", "existed", "updated"})


class Journal:
    """Append outcomes to ``path``; ``done`` holds the keys finished in earlier runs."""

    def __init__(self, path: str | os.PathLike[str], *, batch: int = 50,
                 interval: float = 0.2) -> None:
        self.path = os.fspath(path)
        self.done: set[str] = set()
        self._batch = batch
        self._interval = interval
        self._pending: list[bytes] = []
        self._handle: Any = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def open(self) -> None:
        await asyncio.to_thread(self._load)
        self._task = asyncio.create_task(self._flusher())

    def _load(self) -> None:
        needs_newline = False
        if os.path.exists(self.path):
            with open(self.path, "rb") as handle:
                for line in handle:
                    needs_newline = not line.endswith(b"\n")
                    try:
                        entry = loads(line)
                    except ValueError:
                        continue  # a line torn by a crash mid-write
                    if isinstance(entry, dict) and entry.get("outcome") in DONE_OUTCOMES:
                        self.done.add(str(entry.get("key")))
        self._handle = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        if needs_newline:
            # Start clean after a torn last line, or the next record would be glued to it.
            self._handle.write(b"\n")

    def record(self, key: str, row: int, outcome: str, *, user_id: str | None = None,
               error: dict[str, Any] | None = None) -> None:
        entry: dict[str, Any] = {"key": key, "row": row, "outcome": outcome}
        if user_id is not None:
            entry["user_id"] = user_id
        if error is not None:
            entry["error"] = error
        self._pending.append(dumps(entry) + b"\n")
        if len(self._pending) >= self._batch:
            self._wake.set()

    async def _flusher(self) -> None:
        while not self._closing:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        await asyncio.to_thread(self._write, lines)

    def _write(self, lines: list[bytes]) -> None:
        self._handle.write(b"".join(lines))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    async def close(self) -> None:
        """Write what is pending and close the file; safe after cancellation too."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            # The flusher may be mid-write in its thread; let it finish, then
            # write the rest ourselves.
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._handle is not None:
            lines, self._pending = self._pending, []
            handle, self._handle = self._handle, None
            await asyncio.to_thread(self._final, handle, lines)

    @staticmethod
    def _final(handle: Any, lines: list[bytes]) -> None:
        try:
            if lines:
                handle.write(b"".join(lines))
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            handle.close()
