"""bulk_create, export and bulk_update_metadata against FakeClerk over loopback."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from clerk_async import AsyncClerk, CreateUserParams, RetryPolicy
from clerk_async.bulk import BulkProgress, read_journal
from clerk_async.testing import FakeClerk, Faults


def _rows(n: int, prefix: str = "u") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(n):
        row: dict[str, Any] = {"email_address": [f"{prefix}{i}@example.com"], "first_name": "R"}
        if i % 3:
            row["external_id"] = f"{prefix}-ext-{i}"
        if i % 4 == 0:
            row["username"] = f"{prefix}_user_{i}"
        rows.append(row)
    return rows


def _client(fake: FakeClerk) -> AsyncClerk:
    return AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None,
                      retry=RetryPolicy(base_delay=0.01))


async def test_faults_give_exactly_one_user_per_row() -> None:
    faults = Faults(rate=0.1, kinds=("500", "503", "drop_after"), seed=11)
    async with FakeClerk(require_identifier=False, faults=faults) as fake, _client(fake) as clerk:
        report = await clerk.users.bulk_create(_rows(240), concurrency=8)
        assert fake.stats.faults_by_kind["drop_after"] > 0
        assert fake.stats.faults_by_kind["500"] + fake.stats.faults_by_kind["503"] > 0
        emails = [u.emails[0].email_address for u in fake.store.users.values()]
        assert len(fake.store.users) == 240
        assert sorted(emails) == sorted(f"u{i}@example.com" for i in range(240))
        assert report.failed == 0, report.failures
        assert report.created == 240
        assert report.existed == report.updated == report.skipped_from_journal == 0
        # Every row's key maps to the one user that holds its email.
        by_email = {u.emails[0].email_address: uid for uid, u in fake.store.users.items()}
        assert len(report.outcomes) == 240
        assert {o.key: o.user_id for o in report.outcomes} == {
            f"external_id:u-ext-{i}" if i % 3 else f"email:u{i}@example.com":
            by_email[f"u{i}@example.com"]
            for i in range(240)
        }
        assert {o.status for o in report.outcomes} == {"created"}


async def test_journal_rerun_skips_finished_rows(tmp_path: Path) -> None:
    journal = tmp_path / "import.journal"
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        first = await clerk.users.bulk_create(_rows(30), journal=journal, concurrency=4)
        assert first.created == 30
        entries = list(read_journal(journal))
        assert len(entries) == 30 and all(e["state"] == "created" for e in entries)
        assert {e["user_id"] for e in entries} == set(fake.store.users)
        assert [e["row"] for e in entries] == list(range(1, 31))
        creates = fake.stats.requests["CreateUser"]

        again = await clerk.users.bulk_create(_rows(35), journal=journal, concurrency=4)
        assert again.skipped_from_journal == 30 and again.created == 5
        assert fake.stats.requests["CreateUser"] == creates + 5
        assert len(fake.store.users) == 35
        assert [e["state"] for e in read_journal(journal)] == ["created"] * 35


async def test_in_flight_row_created_again_is_recorded_as_existing() -> None:
    # What a rerun after SIGKILL meets: the row exists, the journal doesn't know.
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        user = fake.store.add_user(email_address="u0@example.com")
        report = await clerk.users.bulk_create(_rows(1))
        assert report.existed == 1 and report.created == 0
        assert [(o.status, o.user_id) for o in report.outcomes] == [("existed", user.id)]
        assert len(fake.store.users) == 1
        assert fake.store.get(user.id).first_name is None


async def test_on_exists_modes() -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        old = fake.store.add_user(email_address="taken@example.com", first_name="Old",
                                  public_metadata={"keep": 1, "plan": "free"})
        row = {"email_address": ["taken@example.com"], "first_name": "New",
               "public_metadata": {"plan": "pro"}, "private_metadata": {"crm": 7}}

        skip = await clerk.users.bulk_create([row], on_exists="skip")
        assert (skip.existed, skip.updated, skip.failed) == (1, 0, 0)
        assert fake.store.get(old.id).first_name == "Old"

        error = await clerk.users.bulk_create([row], on_exists="error")
        assert error.failed == 1
        failure = error.failures[0]
        assert (failure.row, failure.key, failure.code) == (1, "email:taken@example.com",
                                                            "form_identifier_exists")

        update = await clerk.users.bulk_create([row], on_exists="update")
        assert (update.updated, update.failed) == (1, 0)
        user = await clerk.users.get(old.id)
        assert user.first_name == "New"
        assert user.public_metadata == {"keep": 1, "plan": "pro"}
        assert user.private_metadata == {"crm": 7}
        assert len(fake.store.users) == 1

        with pytest.raises(ValueError, match="on_exists"):
            await clerk.users.bulk_create([row], on_exists="merge")  # type: ignore[arg-type]


async def test_bad_rows_are_reported_and_good_rows_import() -> None:
    rows: list[Any] = [
        {"email_address": ["ok1@example.com"]},
        {"email_address": ["bad1@example.com"], "favourite_colour": "blue"},
        {"email_address": ["bad2@example.com"], "banned": "yes"},
        {"external_id": "bad3", "public_metadata": ["not", "an", "object"]},
        {"email_address": ["bad4@example.com"], "password_digest": "$2b$10$abc"},
        "not a row",
        CreateUserParams(email_address=["ok2@example.com"], first_name="P"),
        {"email_address": ["clerk-says-no"]},
    ]
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        report = await clerk.users.bulk_create(rows)
    assert report.created == 2 and report.failed == 6
    by_row = {f.row: f for f in report.failures}
    assert (by_row[2].field, by_row[2].key, by_row[2].code) == (
        "favourite_colour", "email:bad1@example.com", "invalid_row")
    assert by_row[3].field == "banned"
    assert (by_row[4].field, by_row[4].key) == ("public_metadata", "external_id:bad3")
    assert by_row[5].field == "password_hasher"
    assert by_row[6].key == "row:6"
    assert by_row[8].code == "form_param_format_invalid"  # Clerk's own refusal, same report
    assert fake.stats.requests["CreateUser"] == 3  # invalid rows cost no request


async def test_rows_without_identifier_are_not_retried_after_ambiguous_failure() -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("CreateUser", "drop_after")
        report = await clerk.users.bulk_create([{"first_name": "Nobody"}])
        assert report.unprotected == 1 and report.failed == 1
        assert "no unique identifier" in report.failures[0].message
        assert len(fake.store.users) == 1  # it was created once, never twice


async def test_async_input_progress_and_dry_run() -> None:
    async def source() -> AsyncIterator[dict[str, Any]]:
        for row in _rows(20, "a"):
            yield row

    seen: list[BulkProgress] = []
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        report = await clerk.users.bulk_create(source(), progress=seen.append)
        assert report.created == 20
        assert seen[-1].done == 20 and seen[-1].created == 20 and seen[-1].total is None

        seen.clear()
        dry = await clerk.users.bulk_create(_rows(10, "d"), dry_run=True, progress=seen.append)
        assert dry.validated == 10 and dry.created == 0
        assert seen[-1].total == 10
        assert len(fake.store.users) == 20


async def test_export_streams_every_user(tmp_path: Path) -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        for i in range(620):
            fake.store.add_user(email_address=f"e{i}@example.com")
        target = tmp_path / "users.jsonl"
        assert await clerk.users.export(target) == 620
        ids = [json.loads(line)["id"] for line in target.read_text().splitlines()]
        assert sorted(ids) == sorted(fake.store.users)
        text = io.StringIO()
        assert await clerk.users.export(text) == 620
        first = json.loads(text.getvalue().splitlines()[0])
        assert first["email_addresses"][0]["email_address"].endswith("@example.com")


async def test_bulk_update_metadata() -> None:
    faults = Faults(rate=0.2, kinds=("503", "drop_after"), operations={"UpdateUserMetadata"},
                    seed=3)
    async with FakeClerk(require_identifier=False, faults=faults) as fake, _client(fake) as clerk:
        users = [fake.store.add_user(email_address=f"m{i}@example.com",
                                     public_metadata={"keep": i}) for i in range(30)]
        updates: list[Any] = [(u.id, {"public_metadata": {"plan": "pro"}}) for u in users]
        updates += [("user_missing", {"public_metadata": {"a": 1}}),
                    (users[0].id, {"secret_metadata": {}})]
        report = await clerk.users.bulk_update_metadata(updates, concurrency=5)
        assert report.updated == 30 and report.failed == 2
        codes = {f.key: (f.code, f.field) for f in report.failures}
        assert codes["user_missing"][0] == "resource_not_found"
        assert codes[users[0].id] == ("invalid_row", "secret_metadata")
        for u in users:
            assert fake.store.get(u.id).public_metadata["plan"] == "pro"
