"""Regression tests for each way the bulk importer used to misreport what happened.

Every test is named for the behaviour it pins down; all run against FakeClerk
over loopback with injected faults. Many rows carry only an external_id, so
the fake's "a user needs a sign-in identifier" rule is off here.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from clerk_async import AsyncClerk, RetryPolicy
from clerk_async.bulk import (
    JournalError,
    JournalLockedError,
    SystemicError,
    read_journal,
    user_to_create_row,
)
from clerk_async.bulk._journal import Journal
from clerk_async.testing import FakeClerk, Faults, ManualClock


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


def _client(fake: FakeClerk) -> AsyncClerk:
    return AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None,
                      retry=RetryPolicy(base_delay=0.0), sleep=_no_sleep)


def _old_user(fake: FakeClerk, **body: Any) -> Any:
    """A user that was there long before the import."""
    return fake.store.add_user(created_at=fake.store.now_ms() - 3_600_000, **body)


# --------------------------------------------------------------------------- ownership


@pytest.mark.parametrize("fault", ["500", "503", "500_after", "drop_after"])
@pytest.mark.parametrize("on_exists", ["skip", "update", "error"])
async def test_existing_user_found_after_transient_error_goes_through_on_exists(
        fault: str, on_exists: str) -> None:
    # The old importer counted any user its lookup found after a fault as its
    # own creation: "skip" said created, "update" never wrote, "error" never failed.
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        old = _old_user(fake, email_address="taken@example.com", first_name="Old")
        fake.inject_fault("CreateUser", fault)
        report = await clerk.users.bulk_create(
            [{"email_address": ["taken@example.com"], "first_name": "New"}],
            on_exists=on_exists)  # type: ignore[arg-type]
        assert report.created == 0
        name = fake.store.get(old.id).first_name
        if on_exists == "skip":
            assert report.existed == 1 and name == "Old"
        elif on_exists == "update":
            assert report.updated == 1 and name == "New"
        else:
            assert report.failed == 1 and report.failures[0].code == "form_identifier_exists"
        assert len(fake.store.users) == 1


@pytest.mark.parametrize("fault", ["500_after", "drop_after"])
@pytest.mark.parametrize("on_exists", ["skip", "update", "error"])
async def test_own_create_whose_answer_was_lost_counts_as_created(
        fault: str, on_exists: str) -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("CreateUser", fault)
        report = await clerk.users.bulk_create(
            [{"email_address": ["mine@example.com"], "external_id": "m1"}],
            on_exists=on_exists)  # type: ignore[arg-type]
        assert (report.created, report.failed) == (1, 0), report.failures
        assert len(fake.store.users) == 1


async def test_a_user_made_seconds_before_the_import_is_existing_after_a_fault() -> None:
    clock = ManualClock(start=1_900_000_000.0)
    async with FakeClerk(require_identifier=False, clock=clock) as fake, _client(fake) as clerk:
        # Created "just now", seconds before the import: the pre-check sees it.
        clock.advance(5)
        early = fake.store.add_user(email_address="early@example.com")
        clock.advance(2)
        fake.inject_fault("CreateUser", "500")
        report = await clerk.users.bulk_create([{"email_address": ["early@example.com"]}])
        assert (report.created, report.existed) == (0, 1)
        assert report.outcomes[0].user_id == early.id


# --------------------------------------------------------------------------- journal keys


async def test_email_equal_to_another_rows_external_id_is_not_skipped_on_resume(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    first = {"external_id": "shared@example.com"}
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        await clerk.users.bulk_create([first], journal=journal)
        report = await clerk.users.bulk_create(
            [first, {"email_address": ["shared@example.com"]}], journal=journal)
        assert (report.skipped_from_journal, report.created) == (1, 1)
        assert len(fake.store.users) == 2


async def test_external_id_that_looks_like_a_row_number_is_not_skipped_on_resume(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        await clerk.users.bulk_create([{"external_id": "x"}, {"first_name": "anon"}],
                                      journal=journal)
        report = await clerk.users.bulk_create(
            [{"external_id": "x"}, {"first_name": "anon"}, {"external_id": "#3"},
             {"external_id": "row:4"}], journal=journal)
        assert (report.skipped_from_journal, report.created) == (2, 2)
        assert len(fake.store.users) == 4


async def test_a_row_is_matched_by_all_of_its_identifiers(tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        await clerk.users.bulk_create([{"email_address": ["a@example.com"]}], journal=journal)
        # Same line, same email, one more identifier: a different row now.
        report = await clerk.users.bulk_create(
            [{"email_address": ["a@example.com"], "external_id": "a1"}], journal=journal)
        assert report.skipped_from_journal == 0 and report.existed == 1


# --------------------------------------------------------------------------- the lock


async def test_second_import_on_the_same_journal_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    holder = Journal(journal)
    await holder.open()
    try:
        async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
            with pytest.raises(JournalLockedError) as info:
                await clerk.users.bulk_create([{"external_id": "x"}], journal=journal)
            assert str(journal) in str(info.value) and str(os.getpid()) in str(info.value)
            assert info.value.pid == os.getpid()
            assert fake.stats.requests.total() == 0  # refused before any request
    finally:
        await holder.close()
    # Released: usable again.
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        report = await clerk.users.bulk_create([{"external_id": "x"}], journal=journal)
        assert report.created == 1


@pytest.mark.parametrize("setup", ["directory", "missing_dir", "jsonl"])
async def test_unusable_journal_path_is_a_clear_error(tmp_path: Path, setup: str) -> None:
    path = {"directory": tmp_path, "missing_dir": tmp_path / "no" / "j.journal",
            "jsonl": tmp_path / "old.journal"}[setup]
    if setup == "jsonl":
        path.write_text('{"key": "a", "row": 1, "outcome": "created"}\n')
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        with pytest.raises(JournalError, match=str(path).replace("/", ".")):
            await clerk.users.bulk_create([{"external_id": "x"}], journal=path)
        assert fake.stats.requests.total() == 0


# --------------------------------------------------------------------------- resume


async def test_resume_after_kill_under_on_exists_error_reports_created(tmp_path: Path) -> None:
    # The killed run's intent survives; its outcome does not (as after SIGKILL).
    journal = tmp_path / "j.journal"
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        book = Journal(journal)
        await book.open()
        from clerk_async.bulk._rows import identity
        await book.intend(identity(["external_id:k1"]), 1, 1)
        await book.close()
        fake.store.add_user(external_id="k1")  # the create the killed run sent
        report = await clerk.users.bulk_create([{"external_id": "k1"}], journal=journal,
                                               on_exists="error")
        assert (report.created, report.failed) == (1, 0)
        assert [e["state"] for e in read_journal(journal)] == ["created"]


async def test_row_without_identifier_in_flight_at_kill_is_not_sent_again(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        book = Journal(journal)
        await book.open()
        from clerk_async.bulk._rows import identity, params_from_row, row_keys
        await book.intend(identity(row_keys(params_from_row({"first_name": "anon"}), 1)), 1, 1)
        await book.close()
        report = await clerk.users.bulk_create([{"first_name": "anon"}], journal=journal)
        assert report.failed == 1 and report.failures[0].code == "ambiguous_create"
        assert fake.stats.requests["CreateUser"] == 0


# --------------------------------------------------------------------------- systemic


async def test_5xx_circuit_stops_the_run_and_keeps_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    rows = [{"external_id": f"s{i}"} for i in range(200)]
    faults = Faults(rate=1.0, kinds=("503",), operations={"CreateUser"})
    async with FakeClerk(require_identifier=False, faults=faults) as fake, _client(fake) as clerk:
        with pytest.raises(SystemicError, match="failing"):
            await clerk.users.bulk_create(rows, journal=journal, concurrency=4)
        assert fake.stats.requests["CreateUser"] < 40  # not 200 rows x 6 attempts
        fake.faults = None
        report = await clerk.users.bulk_create(rows, journal=journal, concurrency=4)
        assert report.created == 200 and len(fake.store.users) == 200


async def test_unreachable_clerk_stops_before_any_row() -> None:
    async with FakeClerk(require_identifier=False) as fake:
        base_url = fake.base_url
    async with AsyncClerk(secret_key="sk_test_x", base_url=base_url, rate_limit=None,
                          retry=RetryPolicy(base_delay=0.0), sleep=_no_sleep) as clerk:
        with pytest.raises(SystemicError, match="not reachable"):
            await clerk.users.bulk_create([{"external_id": "x"}])


async def test_wrong_key_stops_before_any_row() -> None:
    async with FakeClerk(require_identifier=False) as fake, AsyncClerk(secret_key="sk_test_wrong",
                                               base_url=fake.base_url) as clerk:
        with pytest.raises(SystemicError, match="refused"):
            await clerk.users.bulk_create([{"external_id": "x"}])
        assert fake.stats.requests["CreateUser"] == 0


# --------------------------------------------------------------------------- retries


async def test_update_patch_and_metadata_merge_are_retried() -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        old = _old_user(fake, email_address="u@example.com", first_name="Old")
        fake.inject_fault("UpdateUser", "500_after", "503")
        fake.inject_fault("UpdateUserMetadata", "drop_after")
        report = await clerk.users.bulk_create(
            [{"email_address": ["u@example.com"], "first_name": "New",
              "public_metadata": {"plan": "pro"}}], on_exists="update")
        assert (report.updated, report.failed) == (1, 0), report.failures
        assert fake.store.get(old.id).first_name == "New"
        assert fake.store.get(old.id).public_metadata == {"plan": "pro"}
        assert fake.stats.requests["UpdateUser"] == 3


# --------------------------------------------------------------------------- round trip


def test_user_object_maps_to_create_row_and_names_what_cannot_carry_over() -> None:
    user = {
        "object": "user", "id": "user_1", "external_id": "e1", "username": "ann",
        "first_name": "Ann", "last_name": None, "primary_email_address_id": "idn_b",
        "email_addresses": [
            {"id": "idn_a", "email_address": "a@example.com", "verification": None},
            {"id": "idn_b", "email_address": "b@example.com",
             "verification": {"status": "verified"}},
        ],
        "phone_numbers": [{"id": "idn_p", "phone_number": "+15555550100",
                           "verification": {"status": "verified"}}],
        "web3_wallets": [], "public_metadata": {"plan": "pro"}, "private_metadata": {},
        "unsafe_metadata": {"x": 1}, "created_at": 1_577_836_800_123,
        "password_enabled": True, "totp_enabled": True, "backup_code_enabled": False,
        "passkeys": [{"id": "pk"}], "external_accounts": [], "has_image": False,
        "banned": True, "locked": False, "delete_self_enabled": False,
    }
    row, warnings = user_to_create_row(user)
    assert row == {
        "external_id": "e1", "username": "ann", "first_name": "Ann",
        "email_address": ["b@example.com", "a@example.com"],
        "email_address_identification_status": ["verified", "reserved"],
        "phone_number": ["+15555550100"],
        "public_metadata": {"plan": "pro"}, "unsafe_metadata": {"x": 1},
        "created_at": "2020-01-01T00:00:00.123Z", "delete_self_enabled": False,
        "banned": True, "skip_password_requirement": True, "skip_password_checks": True,
    }
    assert warnings == ["password", "totp", "passkeys"]


async def test_export_imports_back_into_another_instance(tmp_path: Path) -> None:
    exported = tmp_path / "export.jsonl"
    async with FakeClerk(require_identifier=False, seed=1) as source, _client(source) as clerk:
        await clerk.users.create(
            email_address=["v@example.com", "r@example.com"],
            email_address_identification_status=["verified", "reserved"],
            username="vera", external_id="v1", first_name="Vera", password="a long passphrase",
            public_metadata={"plan": "pro"}, private_metadata={"crm": 7},
            created_at="2020-01-01T00:00:00.000Z")
        await clerk.users.create(phone_number=["+15555550101"], skip_password_requirement=True)
        assert await clerk.users.export(exported) == 2
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    async with FakeClerk(require_identifier=False, seed=2) as target, _client(target) as clerk:
        report = await clerk.users.bulk_create(rows)
        assert (report.created, report.failed) == (2, 0), report.failures
        assert report.not_transferable == {"password": 1}
        vera = next(u for u in target.store.users.values() if u.username == "vera")
        assert [(e.email_address, e.reserved) for e in vera.emails] == [
            ("v@example.com", False), ("r@example.com", True)]
        assert (vera.external_id, vera.first_name) == ("v1", "Vera")
        assert vera.public_metadata == {"plan": "pro"} and vera.private_metadata == {"crm": 7}
        assert vera.created_at == 1_577_836_800_000
        assert vera.password_hash is None  # never exported, reported instead


async def test_without_date_headers_rows_are_looked_up_before_their_first_create(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy that strips Date leaves no clock to judge by: each row is looked up
    # before its first create instead, so a fault still cannot mislabel anything.
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        old = _old_user(fake, email_address="old@example.com")
        fake.inject_fault("CreateUser", "drop_after", "500")
        report = await clerk.users.bulk_create(
            [{"email_address": ["new@example.com"]}, {"email_address": ["old@example.com"]},
             {"email_address": ["two@example.com"]}], concurrency=1)
        assert (report.created, report.existed, report.failed) == (2, 1, 0), report.failures
        assert {o.user_id for o in report.outcomes if o.status == "existed"} == {old.id}
        assert len(fake.store.users) == 3
