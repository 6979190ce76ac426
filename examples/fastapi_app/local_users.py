"""This app's own table of users, kept in step with Clerk by its webhooks.

Clerk stays the source of truth; the table is what the app joins against
(orders, posts…) without calling Clerk. Each delivery is applied in one
transaction together with its ``svix-id``, so a retried delivery is skipped
and a crash between the two leaves neither. An update older than the row
(deliveries can arrive out of order) is ignored, by Clerk's ``updated_at``.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from clerk_async import DeletedObject, User
from clerk_async.webhooks import WebhookEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email_address TEXT,
    first_name TEXT,
    last_name TEXT,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS processed_webhooks (svix_id TEXT PRIMARY KEY);
"""


def _primary_email(user: User) -> str | None:
    return next(
        (e.email_address for e in user.email_addresses if e.id == user.primary_email_address_id),
        None,
    )


class LocalUsers:
    """A SQLite table of users; ``path`` is a file, or ``":memory:"`` for a demo."""

    def __init__(self, path: str) -> None:
        # One connection guarded by a lock: the handlers run on one event loop and
        # each statement takes microseconds, so a pool would buy nothing here.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def apply(self, event: WebhookEvent) -> str:
        """Apply one verified event: ``"processed"``, ``"duplicate"`` or ``"ignored"``."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                outcome = self._apply(event)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return outcome

    def _apply(self, event: WebhookEvent) -> str:
        try:
            self._db.execute("INSERT INTO processed_webhooks VALUES (?)", (event.id,))
        except sqlite3.IntegrityError:
            return "duplicate"
        data = event.data
        if event.type in ("user.created", "user.updated") and isinstance(data, User):
            self._db.execute(
                """INSERT INTO users VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET
                     email_address = excluded.email_address, first_name = excluded.first_name,
                     last_name = excluded.last_name, updated_at = excluded.updated_at
                   WHERE excluded.updated_at >= users.updated_at""",
                (data.id, _primary_email(data), data.first_name, data.last_name, data.updated_at),
            )
            return "processed"
        if event.type == "user.deleted" and isinstance(data, DeletedObject):
            self._db.execute("DELETE FROM users WHERE id = ?", (data.id,))
            return "processed"
        return "ignored"

    def get(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, email_address, first_name, last_name FROM users WHERE id = ?",
                (user_id,),
            ).fetchone()
        if row is None:
            return None
        return dict(zip(("id", "email_address", "first_name", "last_name"), row, strict=True))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM users").fetchone()[0])

    def close(self) -> None:
        self._db.close()
