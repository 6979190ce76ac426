"""What the bulk importer decides, pinned by what a user of it can see.

Each group below is one decision of the importer (``clerk_async/bulk/_bulk_import.py``):
which requests it sends, when it stops the run, what it writes to the journal,
which user it counts as its own creation, what its progress snapshots say and
how long it waits between attempts. Every test reads the outcome from the
report, the journal, FakeClerk's store and the requests FakeClerk served, the
client's (virtual) sleeps, or what the run raises.

The clients here make one attempt per request (``max_attempts=1``): each fault
injected into FakeClerk reaches the importer itself instead of being absorbed
by the transport's own retries, so the fault counts below are exact.
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from test_bulk_journal import committed
from test_bulk_trust import _no_sleep, _old_user

from clerk_async import AsyncClerk, RetryPolicy
from clerk_async.bulk import BulkContext, BulkProgress, SystemicError, bulk_create, read_journal
from clerk_async.bulk import _bulk_import as importer_module
from clerk_async.bulk._journal import Journal
from clerk_async.bulk._rows import identity, params_from_row, row_keys
from clerk_async.testing import FakeClerk, ManualClock

from factories import VirtualClock

Sleep = Callable[[float], Awaitable[None]]


def _client(fake: FakeClerk, *, sleep: Sleep = _no_sleep, base_delay: float = 0.5,
            **options: Any) -> AsyncClerk:
    """One attempt per request: every injected fault reaches the importer."""
    options.setdefault("rate_limit", None)
    return AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url,
                      retry=RetryPolicy(max_attempts=1, base_delay=base_delay), sleep=sleep,
                      **options)


def _user_list_queries(fake: FakeClerk) -> list[list[tuple[str, str]]]:
    """The query of every ``GET /users`` FakeClerk receives (call before it starts)."""
    seen: list[list[tuple[str, str]]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "GET" and request.path == "/v1/users":
            seen.append(sorted(request.query.items()))
        response: web.StreamResponse = await handler(request)
        return response

    fake.app.middlewares.insert(0, record)
    return seen


async def _leave_in_flight(journal: Path, number: int, row: dict[str, Any],
                           occurrence: int = 1) -> None:
    """What a SIGKILL leaves behind: the row's intent committed, its outcome never written."""
    book = Journal(journal)
    await book.open()
    try:
        keys = row_keys(params_from_row(row), number)
        await book.intend(identity(keys), occurrence, number)
    finally:
        await book.close()


def _journal_rows(journal: Path) -> dict[int, dict[str, Any]]:
    """The committed journal by row number: state, intent, at_risk, key, code, message."""
    names = ("identity", "occurrence", "row", "state", "at_risk", "key", "user_id", "code",
             "message")
    return {int(r[2]): dict(zip(names, r, strict=True)) for r in committed(str(journal))}  # type: ignore[call-overload]


# --------------------------------------------------------------------------- requests


async def test_a_5xx_answer_to_the_probe_is_waited_out_and_asked_again() -> None:
    sleeps = VirtualClock()
    async with FakeClerk(require_identifier=False) as fake, \
            _client(fake, sleep=sleeps.sleep) as clerk:
        fake.inject_fault("GetUserList", "503", "429")
        report = await clerk.users.bulk_create([{"external_id": "after-probe"}])
        assert (report.created, report.failed) == (1, 0)
        assert fake.stats.requests["GetUserList"] == 3
        assert len(sleeps.sleeps) == 2


# --------------------------------------------------------------------------- stopping


@pytest.mark.parametrize("failures", [7, 8])
async def test_the_run_stops_at_the_eighth_5xx_in_a_row_and_not_before(failures: int) -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("CreateUser", *["503"] * failures)
        rows = [{"external_id": f"five-{i}"} for i in range(3)]
        if failures == 8:
            with pytest.raises(SystemicError,
                               match=r"Clerk looks failing \(5xx\); 8 requests in a row failed"):
                await clerk.users.bulk_create(rows, concurrency=1)
            assert fake.stats.requests["CreateUser"] == 8
            return
        # The first row uses up its six attempts; the second succeeds on its second.
        report = await clerk.users.bulk_create(rows, concurrency=1)
        assert (report.created, report.failed) == (2, 1)
        assert report.failures[0].code == "internal_clerk_error"
        assert fake.stats.requests["CreateUser"] == 7 + 2


async def test_eight_creates_lost_on_the_wire_in_a_row_stop_the_run_as_unreachable() -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("CreateUser", *["drop_after"] * 8)
        rows = [{"external_id": f"lost-{i}"} for i in range(10)]
        with pytest.raises(SystemicError,
                           match=r"Clerk looks unreachable; 8 requests in a row failed"):
            await clerk.users.bulk_create(rows, concurrency=1)
        # Each lost answer was checked (the user is there), none was sent twice.
        assert len(fake.store.users) == 8


def _lost_create_then_failed_check(fake: FakeClerk) -> None:
    """One row's script: its create lands but the answer is lost (500 after the work);
    the lookup before the retry fails; the retry meets "identifier exists"; the lookup
    after that fails too. The row fails, two lookups counted as failures."""
    fake.inject_fault("CreateUser", "500_after", None)
    fake.inject_fault("GetUserList", "503", "503")


async def test_lookup_failures_before_and_after_a_retry_add_up_to_a_stop() -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("GetUserList", None)  # the probe
        for _ in range(4):
            _lost_create_then_failed_check(fake)
        rows = [{"external_id": f"dark-{i}"} for i in range(6)]
        with pytest.raises(SystemicError, match=r"8 requests in a row failed"):
            await clerk.users.bulk_create(rows, concurrency=1)
        assert fake.stats.requests["GetUserList"] == 1 + 8


async def _row_failing_on_its_lookup(fake: FakeClerk, name: str) -> dict[str, Any]:
    """A row whose email an older user holds, and whose lookup then answers 503."""
    _old_user(fake, email_address=f"{name}@example.com")
    fake.inject_fault("GetUserList", "503")
    return {"email_address": [f"{name}@example.com"]}


# --------------------------------------------------------------------------- journal


async def test_failed_rows_are_journaled_as_the_report_tells_them(tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    rows: list[Any] = [{"external_id": "fine"}, {"email_address": ["clerk-says-no"]},
                       {"external_id": "bad", "banned": "yes"}]
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        report = await clerk.users.bulk_create(rows, journal=journal)
    assert (report.created, report.failed) == (1, 2)
    entries = {e["row"]: e for e in read_journal(journal)}
    assert entries[1]["state"] == "created"
    assert {(e["row"], e["key"], e["state"], e["code"], e["message"])
            for e in entries.values() if e["row"] != 1} == {
        (f.row, f.key, "failed", f.code, f.message) for f in report.failures}
    assert {f.code for f in report.failures} == {"form_param_format_invalid", "invalid_row"}


async def test_a_row_without_identifiers_fixed_after_failing_validation_is_sent(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        first = await clerk.users.bulk_create([{"first_name": "Ann", "banned": "yes"}],
                                              journal=journal)
        assert first.failures[0].code == "invalid_row"
        # Nothing was sent for it, so nothing can have been created: once the
        # file is fixed the row is sent like any new one.
        second = await clerk.users.bulk_create([{"first_name": "Ann"}], journal=journal)
        assert (second.created, second.failed) == (1, 0), second.failures
        assert len(fake.store.users) == 1


# --------------------------------------------------------------------------- at risk


# --------------------------------------------------------------------------- no identifier


async def test_every_row_without_a_unique_identifier_is_counted_unprotected() -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        report = await clerk.users.bulk_create(
            [{"first_name": "A"}, {"first_name": "B"}, {"external_id": "C"}])
        assert (report.created, report.unprotected) == (3, 2)


async def test_a_row_without_identifiers_left_in_flight_is_never_sent_again(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    row = {"first_name": "anon"}
    await _leave_in_flight(journal, 1, row)
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        for _ in range(2):  # and the failure keeps it at risk for the run after
            report = await clerk.users.bulk_create([row], journal=journal)
            assert [(f.code, f.message) for f in report.failures] == [(
                "ambiguous_create",
                "an earlier run may have created this row's user, and the row has no "
                "unique identifier to check with; not sent again to avoid a duplicate")]
        assert fake.stats.requests["CreateUser"] == 0


# --------------------------------------------------------------------------- ownership


async def test_a_user_found_without_all_of_the_rows_identifiers_is_not_its_creation(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    row = {"email_address": ["half@example.com"], "external_id": "half"}
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        await _leave_in_flight(journal, 1, row)
        # Created after the intent, but it lacks the row's external_id.
        other = fake.store.add_user(email_address="half@example.com")
        report = await clerk.users.bulk_create([row], journal=journal)
        assert [(o.status, o.user_id) for o in report.outcomes] == [("existed", other.id)]


async def test_a_row_with_its_own_created_at_recognises_its_lost_create() -> None:
    row = {"external_id": "dated", "created_at": "2020-01-01T00:00:00.000Z"}
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("CreateUser", "500_after")
        # Clerk stamps created_at with the row's date; updated_at tells when it came to be.
        report = await clerk.users.bulk_create([row], on_exists="error")
        assert (report.created, report.failed) == (1, 0), report.failures
        (user,) = fake.store.users.values()
        assert user.created_at == 1_577_836_800_000


async def test_a_user_another_row_updated_is_not_claimed_by_a_row_with_its_own_created_at(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    row = {"external_id": "moved", "created_at": "2020-01-01T00:00:00.000Z"}
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        old = _old_user(fake, external_id="moved")
        await _leave_in_flight(journal, 2, row, occurrence=2)
        # Row 1 updates the old user, which moves its updated_at past row 2's intent.
        report = await clerk.users.bulk_create([{**row, "first_name": "One"}, row],
                                               journal=journal, on_exists="update",
                                               concurrency=1)
        assert [(o.status, o.user_id) for o in report.outcomes] == [
            ("updated", old.id), ("updated", old.id)]


@pytest.mark.parametrize("epoch", [False, True], ids=["now", "clerk-epoch"])
async def test_a_resumed_row_claims_the_user_carrying_its_values_whatever_its_stamp(
        tmp_path: Path, epoch: bool) -> None:
    # Stamps decide nothing: even a user stamped at Clerk's epoch is judged by content.
    journal = tmp_path / "j.journal"
    row = {"external_id": "same-ms"}
    clock = ManualClock(start=0.0) if epoch else None
    async with FakeClerk(require_identifier=False, clock=clock) as fake, \
            _client(fake) as clerk:
        made = fake.store.add_user(external_id="same-ms")
        assert (made.created_at == 0) is epoch
        await _leave_in_flight(journal, 1, row)
        report = await clerk.users.bulk_create([row], journal=journal)
        assert [(o.status, o.user_id) for o in report.outcomes] == [("created", made.id)]


async def test_a_resumed_row_is_judged_by_evidence_when_clerks_clocks_disagree(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    row = {"external_id": "skew"}
    clock = ManualClock(start=1_900_000_000.0)
    async with FakeClerk(require_identifier=False, clock=clock) as fake, \
            _client(fake) as clerk:
        await clerk.users.list(limit=1)
        clock.advance(-30)  # the server that stamps the user runs 30 s behind
        await _leave_in_flight(journal, 1, row)
        fake.inject_fault("CreateUser", "500_after")
        report = await clerk.users.bulk_create([row], journal=journal, on_exists="error")
        (made,) = fake.store.users.values()
        assert made.created_at == 1_899_999_970_000  # after the intent, before the reading
        assert [(o.status, o.user_id) for o in report.outcomes] == [("created", made.id)]


async def test_without_date_headers_an_existing_user_found_first_is_updated(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The pre-check finds the user: updated without any create.
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        old = _old_user(fake, email_address="old@example.com", first_name="Old")
        report = await clerk.users.bulk_create(
            [{"email_address": ["old@example.com"], "first_name": "New"}], on_exists="update")
        assert [(o.status, o.user_id) for o in report.outcomes] == [("updated", old.id)]
        assert fake.store.get(old.id).first_name == "New"
        assert fake.stats.requests["CreateUser"] == 0


# --------------------------------------------------------------------------- progress


class _Ticks:
    """Stands in for the importer's ``time`` module: its monotonic clock moves by
    ``step`` at each reading, so when snapshots fall due does not depend on the machine."""

    def __init__(self, start: float, step: float) -> None:
        self.now, self.step = start, step

    def monotonic(self) -> float:
        now = self.now
        self.now += self.step
        return now


async def test_progress_comes_at_most_every_tenth_of_a_second_and_once_at_the_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer_module, "time", _Ticks(1000.0, 0.0))
    seen: list[BulkProgress] = []
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        rows = [{"external_id": f"p{i}"} for i in range(5)]
        await clerk.users.bulk_create(rows, progress=seen.append, concurrency=1)
    assert [s.done for s in seen] == [1, 5]  # the first row, then the forced last one


async def test_progress_is_due_again_after_exactly_a_tenth_of_a_second(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert 0.2 - 0.1 == 0.1  # the readings below are 0.0, 0.1, 0.2, ...
    monkeypatch.setattr(importer_module, "time", _Ticks(0.0, 0.1))
    seen: list[BulkProgress] = []
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        rows = [{"external_id": f"q{i}"} for i in range(2)]
        await clerk.users.bulk_create(rows, progress=seen.append, concurrency=1)
    assert [s.done for s in seen] == [1, 2, 2]


@pytest.mark.parametrize("on_exists", ["skip", "update"])
async def test_the_last_progress_snapshot_counts_every_outcome_and_the_rate_of_this_run(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, on_exists: str) -> None:
    journal = tmp_path / "j.journal"
    done = [{"external_id": "done-1"}, {"external_id": "done-2"}]
    seen: list[BulkProgress] = []
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        await clerk.users.bulk_create(done, journal=journal)
        _old_user(fake, external_id="there")
        # Each reading of the importer's clock is 0.125 s after the one before: its
        # start, one snapshot per row (5) and the last one, so 0.75 s in all.
        monkeypatch.setattr(importer_module, "time", _Ticks(1000.0, 0.125))
        rows: list[Any] = [*done, {"external_id": "there"}, {"external_id": "x", "banned": 1},
                           {"external_id": "new"}]
        await clerk.users.bulk_create(rows, journal=journal, on_exists=on_exists,  # type: ignore[arg-type]
                                      progress=seen.append, concurrency=1)
    existed = int(on_exists == "skip")
    assert seen[-1] == BulkProgress(
        done=5, total=5, created=1, failed=1, rate_per_s=(5 - 2) / 0.75, quota_wait_s=0.0,
        existed=existed, updated=1 - existed, skipped=2, elapsed_s=0.75)
    assert len(seen) == 6


async def test_progress_counts_only_the_quota_wait_of_this_run() -> None:
    clock = VirtualClock()
    async with FakeClerk(require_identifier=False) as fake, _client(
            fake, sleep=clock.sleep, clock=clock, rate_limit="2/1s") as clerk:
        for _ in range(4):  # earlier work on the same client waited for its quota
            await clerk.users.list(limit=1)
        before = clerk.stats.quota_wait
        assert before > 0
        seen: list[BulkProgress] = []
        rows = [{"external_id": f"w{i}"} for i in range(3)]
        await clerk.users.bulk_create(rows, progress=seen.append)
        waited = clerk.stats.quota_wait - before
        assert waited > 0
        assert seen[-1].quota_wait_s == pytest.approx(waited)


# --------------------------------------------------------------------------- waits


class _MidJitter:
    """Stands in for the importer's random source: every jittered wait is the middle
    of its range, so the waits show the backoff's ranges themselves."""

    def uniform(self, low: float, high: float) -> float:
        return (low + high) / 2


async def test_create_retries_wait_in_full_jitter_ranges_doubling_up_to_eight_seconds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer_module, "random", types.SimpleNamespace(Random=_MidJitter))
    clock = VirtualClock()
    async with FakeClerk(require_identifier=False) as fake, _client(
            fake, sleep=clock.sleep, base_delay=1.0) as clerk:
        fake.inject_fault("CreateUser", *["503"] * 5)
        report = await clerk.users.bulk_create([{"external_id": "patient"}])
        assert (report.created, report.failed) == (1, 0)
    # Ranges [0, 1], [0, 2], [0, 4], [0, 8], [0, 8] after the five failures.
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 4.0]


async def test_a_row_that_failed_cleanly_does_not_judge_by_the_intent_of_that_run(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    row = {"email_address": ["kept@example.com"]}
    clock = ManualClock(start=1_900_000_000.0)
    async with FakeClerk(require_identifier=False, clock=clock) as fake, \
            _client(fake) as clerk:
        squatter = _old_user(fake, email_address="kept@example.com")
        first = await clerk.users.bulk_create([row], journal=journal, on_exists="error")
        assert first.failures[0].code == "form_identifier_exists"  # nothing was created
        fake.store.delete_user(squatter)
        clock.advance(30)
        newcomer = fake.store.add_user(email_address="kept@example.com")  # between the runs
        clock.advance(30)
        fake.inject_fault("CreateUser", "503")
        second = await clerk.users.bulk_create([row], journal=journal)
        assert [(o.status, o.user_id) for o in second.outcomes] == [("existed", newcomer.id)]


async def _fail_at_risk_without_clock(fake: FakeClerk, journal: Path, row: dict[str, Any],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A run behind a proxy that strips Date (no clock for its intent) whose six
    creates all answer 503: the row fails at risk."""
    with monkeypatch.context():
        async with _client(fake) as clerk:
            fake.inject_fault("CreateUser", *["503"] * 6)
            report = await clerk.users.bulk_create([row], journal=journal)
    assert report.failures[0].code == "internal_clerk_error"


async def test_after_a_run_without_clock_a_row_found_absent_owns_its_lost_create_despite_skew(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = tmp_path / "j.journal"
    row = {"external_id": "unclocked-skew"}
    clock = ManualClock(start=1_900_000_000.0)
    async with FakeClerk(require_identifier=False, clock=clock) as fake:
        await _fail_at_risk_without_clock(fake, journal, row, monkeypatch)
        async with _client(fake) as clerk:
            await clerk.users.list(limit=1)
            clock.advance(-30)  # the server that stamps the user runs behind
            fake.inject_fault("CreateUser", "500_after")
            report = await clerk.users.bulk_create([row], journal=journal, on_exists="error")
        (made,) = fake.store.users
        assert [(o.status, o.user_id) for o in report.outcomes] == [("created", made)]


# --------------------------------------------------------------------------- refusals


class _Refusing:
    """A ``Users`` implementation (the protocol ``bulk_create`` runs on) in front of
    ``clerk.users`` that refuses one kind of call before sending it, as an input
    check of its own would: searching users (ValueError) or updating one (TypeError)."""

    def __init__(self, users: Any, refuse: str) -> None:
        self._users, self._refuse = users, refuse

    def __getattr__(self, name: str) -> Any:
        return getattr(self._users, name)

    async def list(self, *, limit: int | None = None, **filters: Any) -> Any:
        if self._refuse == "search" and filters:
            raise ValueError("this directory cannot search users")
        return await self._users.list(limit=limit, **filters)

    async def update(self, user_id: str, **fields: Any) -> Any:
        if self._refuse == "update":
            raise TypeError("first_name: not accepted here")
        return await self._users.update(user_id, **fields)


async def test_an_update_refused_before_sending_fails_its_row_and_the_run_goes_on() -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        old = _old_user(fake, email_address="old@example.com", first_name="Old")
        report = await bulk_create(
            _Refusing(clerk.users, "update"),
            [{"email_address": ["old@example.com"], "first_name": "New"},
             {"external_id": "fresh"}],
            context=BulkContext(sleep=_no_sleep), on_exists="update", concurrency=1)
        assert [(f.row, f.code, f.message) for f in report.failures] == [
            (1, "TypeError", "first_name: not accepted here")]
        assert report.created == 1
        assert fake.store.get(old.id).first_name == "Old"




# --------------------------------------------------------------------------- pre-check (issue 22)


async def test_a_clean_run_sends_one_pre_check_per_identifier_kind_and_one_create_per_row(
        ) -> None:
    fake = FakeClerk(require_identifier=False)
    queries = _user_list_queries(fake)
    async with fake, _client(fake) as clerk:
        rows = [{"external_id": f"clean-{i}", "email_address": [f"c{i}@example.com"]}
                for i in range(150)]
        report = await clerk.users.bulk_create(rows)
        assert (report.created, report.failed) == (150, 0)
        assert fake.stats.requests["CreateUser"] == 150
        # Two batches (100 + 50 rows), one GetUserList per identifier kind each.
        assert len(queries) == 4
        assert sorted(len([v for k, v in q if k != "limit"]) for q in queries) == [
            50, 50, 100, 100]


async def test_a_lost_create_whose_check_failed_is_settled_by_the_rerun_without_resending(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    row = {"external_id": "lost-1"}
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("GetUserList", None)  # the pre-check
        _lost_create_then_failed_check(fake)
        first = await clerk.users.bulk_create([row], journal=journal)
        assert first.failures[0].code == "internal_clerk_error"
        (user_id,) = fake.store.users
        assert _journal_rows(journal)[1]["at_risk"] == 1
        sent = fake.stats.requests["CreateUser"]
        again = await clerk.users.bulk_create([row], journal=journal, on_exists="error")
        # Absent at the first run's pre-check, carries every value, claimed by no
        # other row: the row's own, reported with the one ambiguity it keeps.
        assert [(o.status, o.user_id) for o in again.outcomes] == [("created", user_id)]
        assert again.ambiguous == 1 and again.notes[0].user_id == user_id
        assert fake.stats.requests["CreateUser"] == sent


async def test_a_user_another_journal_row_created_is_not_claimed_by_a_resumed_row(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    row = {"external_id": "claimed"}
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        first = await clerk.users.bulk_create([row], journal=journal)
        await _leave_in_flight(journal, 2, row, occurrence=2)  # a duplicate, killed in flight
        (made,) = first.outcomes
        report = await clerk.users.bulk_create([row, row], journal=journal)
        assert [(o.row, o.status, o.user_id) for o in report.outcomes] == [
            (2, "existed", made.user_id)]
        assert report.skipped_from_journal == 1 and report.created == 0


async def test_a_pre_check_refused_before_sending_fails_its_rows_at_risk_kept(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    row = {"external_id": "refused"}
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        await _leave_in_flight(journal, 1, row)
        report = await bulk_create(_Refusing(clerk.users, "search"), [row],
                                   context=BulkContext(sleep=_no_sleep), journal=journal)
        assert [(f.code, f.message) for f in report.failures] == [
            ("ValueError", "this directory cannot search users")]
        assert _journal_rows(journal)[1]["at_risk"] == 1
        assert fake.stats.requests.get("CreateUser", 0) == 0
