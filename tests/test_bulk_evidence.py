"""Issue 22: ownership by evidence. Each test is a scenario that the clock-based
importer misreported; all run over FakeClerk on loopback."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from clerk_async import AsyncClerk, RetryPolicy
from clerk_async._ratelimit import Quota
from clerk_async.bulk import read_journal
from clerk_async.bulk._bulk_import import precheck_ahead
from clerk_async.testing import FakeClerk, Faults


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


def _client(base_url: str, key: str) -> AsyncClerk:
    return AsyncClerk(secret_key=key, base_url=base_url, rate_limit=None,
                      retry=RetryPolicy(base_delay=0.0), sleep=_no_sleep)


def _clerk(fake: FakeClerk) -> AsyncClerk:
    return _client(fake.base_url, fake.secret_key)


@pytest.mark.parametrize("on_exists", ["skip", "update", "error"])
async def test_a_user_made_just_before_the_row_then_a_503_goes_through_on_exists(
        on_exists: str) -> None:
    async with FakeClerk(require_identifier=False) as fake, _clerk(fake) as clerk:
        other = fake.store.add_user(email_address="a@example.com", first_name="Other")
        fake.inject_fault("CreateUser", "503")
        report = await clerk.users.bulk_create(
            [{"email_address": ["a@example.com"], "first_name": "Row"}],
            on_exists=on_exists)  # type: ignore[arg-type]
        assert report.created == 0 and len(fake.store.users) == 1
        expected = {"skip": (1, 0, 0), "update": (0, 1, 0), "error": (0, 0, 1)}[on_exists]
        assert (report.existed, report.updated, report.failed) == expected
        assert fake.store.get(other.id).first_name == ("Row" if on_exists == "update"
                                                       else "Other")


async def test_an_old_user_changed_just_before_a_row_with_its_own_created_at_is_not_claimed(
        ) -> None:
    async with FakeClerk(require_identifier=False) as fake, _clerk(fake) as clerk:
        old = fake.store.add_user(email_address="old@example.com",
                                  created_at=fake.store.now_ms() - 365 * 86_400_000)
        fake.store.touch(fake.store.get(old.id))  # profile changed a moment ago
        fake.inject_fault("CreateUser", "500")
        report = await clerk.users.bulk_create(
            [{"email_address": ["old@example.com"], "created_at": "2020-01-01T00:00:00Z"}])
        assert (report.created, report.existed) == (0, 1)


async def test_a_self_signup_after_a_row_left_at_risk_is_not_claimed_on_rerun(
        tmp_path: Path) -> None:
    journal = tmp_path / "run.journal"
    row = {"email_address": ["late@example.com"], "first_name": "Imported",
           "public_metadata": {"plan": "gold"}}
    async with FakeClerk(require_identifier=False) as fake, _clerk(fake) as clerk:
        fake.inject_fault("CreateUser", *["503"] * 6)
        first = await clerk.users.bulk_create([row], journal=journal)
        assert first.failed == 1 and not fake.store.users
        fake.store.add_user(email_address="late@example.com", first_name="Self")
        again = await clerk.users.bulk_create([row], journal=journal)
        assert (again.created, again.existed) == (0, 1)


@pytest.mark.parametrize("date", ["2 s ahead", "30 s behind", "absent"])
async def test_outcomes_do_not_depend_on_the_date_header(date: str) -> None:
    # A proxy rewrites (or drops) Date; the old importer judged ownership by it.
    fake = FakeClerk(require_identifier=False)

    @web.middleware
    async def proxy(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if date == "absent":
            response.headers.popall("Date", None)
        else:
            skew = 2.0 if date == "2 s ahead" else -30.0
            response.headers["Date"] = formatdate(time.time() + skew, usegmt=True)
        return response

    fake.app.middlewares.insert(0, proxy)
    async with fake, _clerk(fake) as clerk:
        other = fake.store.add_user(email_address="before@example.com")  # seconds ago
        # The row's own create lands but its answer is lost; the other row's
        # create fails with a 503 that changed nothing.
        fake.inject_fault("CreateUser", "500_after", "503")
        report = await clerk.users.bulk_create(
            [{"email_address": ["mine@example.com"], "first_name": "M"},
             {"email_address": ["before@example.com"], "first_name": "B"}], concurrency=1)
        assert (report.created, report.existed, report.failed) == (1, 1, 0)
        assert {o.user_id for o in report.outcomes if o.status == "existed"} == {other.id}
        assert len(fake.store.users) == 2


async def test_duplicate_rows_without_journal_settle_in_file_order_under_update() -> None:
    async with FakeClerk(require_identifier=False) as fake, _clerk(fake) as clerk:
        # The first row's answer is lost; the second row's create meets a 503.
        fake.inject_fault("CreateUser", "500_after", "503")
        report = await clerk.users.bulk_create(
            [{"email_address": ["dup@example.com"], "first_name": "First"},
             {"email_address": ["dup@example.com"], "first_name": "Second"}],
            on_exists="update", concurrency=4)
        assert (report.created, report.updated) == (1, 1)
        (user,) = fake.store.users.values()
        assert user.first_name == "Second"


@pytest.mark.parametrize("fault", [None, "500_after"])
async def test_identifiers_with_spaces_are_trimmed_before_sending_and_comparing(
        fault: str | None) -> None:
    async with FakeClerk(require_identifier=False) as fake, _clerk(fake) as clerk:
        if fault is None:
            old = fake.store.add_user(email_address="sp@example.com", first_name="Old")
        else:
            fake.inject_fault("CreateUser", fault)
        report = await clerk.users.bulk_create(
            [{"email_address": ["  SP@example.com "], "first_name": "New"}],
            on_exists="update")
        assert report.failed == 0, report.failures
        if fault is None:
            assert report.updated == 1 and fake.store.get(old.id).first_name == "New"
        else:
            assert report.created == 1 and len(fake.store.users) == 1


async def test_a_prepended_row_does_not_resend_done_rows(tmp_path: Path) -> None:
    journal = tmp_path / "run.journal"
    rows = [{"email_address": [f"p{i}@example.com"]} for i in range(3)]
    async with FakeClerk(require_identifier=False) as fake, _clerk(fake) as clerk:
        await clerk.users.bulk_create(rows, journal=journal)
        creates = fake.stats.requests["CreateUser"]
        again = await clerk.users.bulk_create([{"email_address": ["new@example.com"]}, *rows],
                                              journal=journal)
        assert (again.created, again.skipped_from_journal, again.failed) == (1, 3, 0)
        assert fake.stats.requests["CreateUser"] == creates + 1
        # The journal's line numbers follow the file as it is now.
        assert [(e["row"], e["key"]) for e in read_journal(journal)] == [
            (1, "email:new@example.com"), *((i + 2, f"email:p{i}@example.com")
                                            for i in range(3))]


async def test_a_rerun_with_update_applies_what_skip_left_alone(tmp_path: Path) -> None:
    journal = tmp_path / "run.journal"
    async with FakeClerk(require_identifier=False) as fake, _clerk(fake) as clerk:
        old = fake.store.add_user(email_address="o@example.com", first_name="Old")
        row = [{"email_address": ["o@example.com"], "first_name": "New"}]
        first = await clerk.users.bulk_create(row, journal=journal)
        assert first.existed == 1
        again = await clerk.users.bulk_create(row, journal=journal, on_exists="update")
        assert again.updated == 1 and fake.store.get(old.id).first_name == "New"


async def test_a_front_end_ignoring_the_query_string_never_misleads_the_import() -> None:
    fake = FakeClerk(require_identifier=False)

    @web.middleware
    async def ignore_query(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "GET" and request.path == "/v1/users":
            request = request.clone(rel_url=request.rel_url.with_query({"limit": "100"}))
        response: web.StreamResponse = await handler(request)
        return response

    fake.app.middlewares.insert(0, ignore_query)
    async with fake:
        unrelated = [fake.store.add_user(email_address=f"x{i}@example.com",
                                         first_name="Untouched") for i in range(20)]
        async with _clerk(fake) as clerk:
            answered = await clerk.users.list(limit=100, email_address=["x7@example.com"])
            assert len(answered) == 20  # the front end really ignores the filter
            report = await clerk.users.bulk_create(
                [{"email_address": [f"x{i}@example.com"], "first_name": "Row"}
                 for i in range(5, 25)], on_exists="update")
        assert (report.updated, report.created, report.failed) == (15, 5, 0), report.failures
        # Each update went to the user that really holds the row's email, no other.
        owner = {u.emails[0].email_address: u.id for u in fake.store.users.values()}
        for outcome in report.outcomes:
            assert outcome.user_id == owner[outcome.key.removeprefix("email:")]
        for user in unrelated:
            assert fake.store.get(user.id).first_name == (
                "Untouched" if user in unrelated[:5] else "Row")


async def test_undo_deletes_only_what_the_journal_created_and_resumes(tmp_path: Path) -> None:
    journal = tmp_path / "run.journal"
    async with FakeClerk(require_identifier=False) as fake, _clerk(fake) as clerk:
        keep = fake.store.add_user(email_address="keep@example.com")
        await clerk.users.bulk_create(
            [{"email_address": ["keep@example.com"]}, {"email_address": ["n1@example.com"]},
             {"email_address": ["n2@example.com"]}], journal=journal)
        dry = await clerk.users.bulk_undo(journal, dry_run=True)
        assert sorted(o.key for o in dry.listed) == ["email:n1@example.com",
                                                     "email:n2@example.com"]
        assert len(fake.store.users) == 3
        gone = dry.listed[0].user_id
        fake.store.delete_user(fake.store.get(gone))  # deleted by hand meanwhile
        report = await clerk.users.bulk_undo(journal)
        assert (report.deleted, report.already_gone, report.failed) == (2, 1, 0)
        assert list(fake.store.users) == [keep.id]
        again = await clerk.users.bulk_undo(journal)  # resumable: nothing left to do
        assert again.deleted == 0
        assert sorted(e["state"] for e in read_journal(journal)) == ["existed", "undone",
                                                                     "undone"]


async def test_check_instance_reads_only_and_counts() -> None:
    async with FakeClerk(require_identifier=False) as fake, _clerk(fake) as clerk:
        fake.store.add_user(email_address="e@example.com")
        fake.store.add_user(email_address="c1@example.com")
        fake.store.add_user(external_id="c2")
        report = await clerk.users.bulk_create(
            [{"email_address": ["n@example.com"]}, {"email_address": ["e@example.com"]},
             {"email_address": ["c1@example.com"], "external_id": "c2"}],
            dry_run=True, check_instance=True)
        assert (report.would_create, report.exist_already, report.clashes) == (1, 1, 1)
        assert fake.stats.requests.get("CreateUser", 0) == 0
        assert len(fake.store.users) == 3


async def test_a_claimed_lost_create_is_noted_and_under_update_also_updated() -> None:
    async with FakeClerk(require_identifier=False) as fake, _clerk(fake) as clerk:
        fake.inject_fault("CreateUser", "500_after")
        report = await clerk.users.bulk_create(
            [{"email_address": ["lost@example.com"], "first_name": "L"}], on_exists="update")
        (user,) = fake.store.users.values()
        assert (report.created, report.ambiguous) == (1, 1)
        assert [(n.row, n.user_id, n.code) for n in report.notes] == [
            (1, user.id, "ambiguous_owner")]
        # Whoever made the user, the row's data is now Clerk's (the password too).
        assert fake.stats.requests["UpdateUser"] == 1


async def test_rows_behind_an_unsettled_row_wait_for_a_rerun_to_settle_them_in_order(
        tmp_path: Path) -> None:
    journal = tmp_path / "run.journal"
    rows = [{"email_address": ["same@example.com"], "first_name": "First"},
            {"email_address": ["same@example.com"], "first_name": "Second"}]
    async with FakeClerk(require_identifier=False) as fake, _clerk(fake) as clerk:
        # The first row's create lands, its answer is lost, and every look for it fails.
        fake.inject_fault("CreateUser", "500_after", *["503"] * 5)
        fake.inject_fault("GetUserList", None, *["503"] * 100)
        first = await clerk.users.bulk_create(rows, journal=journal, on_exists="update",
                                              concurrency=2)
        fake.fault_plan = type(fake.fault_plan)(fake.fault_plan.config)  # Clerk is well again
        assert [f.code for f in first.failures] == ["internal_clerk_error",
                                                    "earlier_row_unsettled"]
        (user,) = fake.store.users.values()
        assert user.first_name == "First"  # the second row did not treat it as existing
        again = await clerk.users.bulk_create(rows, journal=journal, on_exists="update")
        assert [(o.row, o.status) for o in again.outcomes] == [(1, "created"), (2, "updated")]
        assert fake.store.get(user.id).first_name == "Second"


async def test_every_request_clerk_receives_under_faults_went_through_the_clients_count(
) -> None:
    # The quota Clerk keeps counts what reached it, answered or not; the
    # client paces only what it counts. Half the rows exist already, so the
    # pre-check and the lookups after lost creates (GETs) meet dropped
    # connections as often as the creates do.
    async with FakeClerk(require_identifier=False, faults=Faults(
            rate=0.3, kinds=("500", "503", "drop_after", "500_after"), seed=4)) as fake:
        for i in range(0, 120, 2):
            fake.store.add_user(email_address=f"user{i}@example.com")
        async with _clerk(fake) as clerk:
            report = await clerk.users.bulk_create(
                [{"email_address": [f"user{i}@example.com"]} for i in range(120)],
                concurrency=8, keep_outcomes=False)
        # Whatever a row's fate under this many faults, each is in one outcome.
        assert report.created + report.existed + report.failed == 120
        assert fake.stats.faults_by_kind["drop_after"] > 0
        assert sum(fake.stats.requests.values()) == clerk.stats.requests


async def test_batches_are_pre_checked_ahead_so_a_slow_pre_check_does_not_idle_the_workers(
) -> None:
    # Each batch of up to 100 rows is one GetUserList here (emails only). With
    # one batch ahead, a pre-check that met a 5xx and its retry backoff left
    # every worker without rows; now the pre-checks of the next batches are
    # under way before the first row of the first batch is handed out.
    seen_at_first_row: list[int] = []

    def progress(_: object) -> None:
        if not seen_at_first_row:
            seen_at_first_row.append(clerk.stats["GetUserList"].requests)

    async with FakeClerk(require_identifier=False) as fake, _clerk(fake) as clerk:
        report = await clerk.users.bulk_create(
            [{"email_address": [f"r{i}@example.com"]} for i in range(1200)],
            dry_run=True, check_instance=True, progress=progress)
        assert report.would_create == 1200
        assert fake.stats.requests["GetUserList"] == 12
        assert seen_at_first_row == [1 + precheck_ahead(None)] == [9]


def test_how_far_ahead_follows_the_quota() -> None:
    # About two seconds of quota: one batch at the development quota, where a
    # batch alone lasts ten seconds; the most at a high rate.
    assert precheck_ahead(Quota(100, 10.0)) == 1
    assert precheck_ahead(Quota(1000, 10.0)) == 2
    assert precheck_ahead(Quota(500, 1.0)) == 8
    assert precheck_ahead(Quota(10_000, 1.0)) == 8
