"""Resume after a run with failures: the journal marks only finished rows done.

A row that failed must be sent again by the next run with the same journal;
a journal that recorded it as done would make resume skip it for ever, and
no other check notices (the run's own report is right either way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clerk_async import AsyncClerk, RetryPolicy
from clerk_async.testing import FakeClerk


def _rows(second_email: str) -> list[dict[str, Any]]:
    return [
        {"external_id": "resume-1", "email_address": ["one@example.com"]},
        {"external_id": "resume-2", "email_address": [second_email]},
        {"external_id": "resume-3", "email_address": ["three@example.com"]},
    ]


async def test_a_failed_row_is_sent_again_on_resume(tmp_path: Path) -> None:
    journal = tmp_path / "import.journal"
    async with FakeClerk() as fake, AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None,
        retry=RetryPolicy(base_delay=0.01),
    ) as clerk:
        first = await clerk.users.bulk_create(_rows("not-an-email"), journal=journal)
        assert (first.created, first.failed) == (2, 1)
        assert fake.store.find("resume-2") is None
        sent = fake.stats.requests["CreateUser"]

        # The row is fixed and the same journal is used: only that row is sent.
        second = await clerk.users.bulk_create(_rows("two@example.com"), journal=journal)
        assert (second.created, second.failed) == (1, 0), second.failures
        assert fake.stats.requests["CreateUser"] == sent + 1
        user = fake.store.find("resume-2")
        assert user is not None and user.emails[0].email_address == "two@example.com"
        assert len(fake.store.users) == 3

        # Everything is done now: a third run sends nothing at all.
        third = await clerk.users.bulk_create(_rows("two@example.com"), journal=journal)
        assert (third.created, third.failed) == (0, 0)
        assert fake.stats.requests["CreateUser"] == sent + 1
