"""Resume after a run with failures: the journal marks only finished rows done.

A row that failed must be sent again by the next run with the same journal
and the same rows; a journal that recorded it as done would make resume skip
it for ever, and the failing run's own report looks right either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clerk_async import AsyncClerk, RetryPolicy
from clerk_async.testing import FakeClerk

ROWS: list[dict[str, Any]] = [
    {"external_id": "resume-1", "email_address": ["one@example.com"]},
    {"external_id": "resume-2", "email_address": ["two@example.com"]},
    {"external_id": "resume-3", "email_address": ["three@example.com"]},
]


async def test_a_failed_row_is_sent_again_on_resume(tmp_path: Path) -> None:
    journal = tmp_path / "import.journal"
    async with FakeClerk() as fake, AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None,
        retry=RetryPolicy(base_delay=0.01),
    ) as clerk:
        # Someone else holds the second row's email, and the run refuses to adopt it.
        squatter = fake.store.add_user(email_address="two@example.com")
        first = await clerk.users.bulk_create(ROWS, journal=journal, on_exists="error")
        assert (first.created, first.failed) == (2, 1), first.failures
        assert fake.store.find("resume-2") is None

        # The conflict is resolved; the same rows and journal: only that row is created.
        fake.store.delete_user(squatter)
        second = await clerk.users.bulk_create(ROWS, journal=journal, on_exists="error")
        assert (second.created, second.failed) == (1, 0), second.failures
        user = fake.store.find("resume-2")
        assert user is not None and user.emails[0].email_address == "two@example.com"
        assert len(fake.store.users) == 3

        # Everything is done now: a third run creates nothing and fails nothing.
        sent = fake.stats.requests["CreateUser"]
        third = await clerk.users.bulk_create(ROWS, journal=journal, on_exists="error")
        assert (third.created, third.failed) == (0, 0)
        assert fake.stats.requests["CreateUser"] == sent
