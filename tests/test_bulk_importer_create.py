"""What the bulk importer decides for one row, pinned by what a user can see.

Each test names one decision: which user found after a fault is the row's own,
when a row is left at risk so that the next run checks before sending, which
failures stop the run, how long it waits between attempts, what reaches the
report and the journal. Everything is observed from outside: the report, the
journal (``read_journal``), FakeClerk's store and request counts, and the calls
the importer makes through the ``bulk.Users`` protocol (the requests it sends).
FakeClerk runs on loopback; faults Clerk cannot be made to produce on demand
(a 409, a key revoked mid-run, an unreadable answer) are raised at the
``bulk.Users`` seam by :class:`_Spy`.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_bulk_trust import _client, _old_user

from clerk_async import (
    AsyncClerk,
    ClerkDecodeError,
    ConflictError,
    CreateUserParams,
    ErrorDetail,
    PermissionDeniedError,
    Quota,
    RetryPolicy,
    ServerError,
    UnprocessableEntityError,
    bulk,
)
from clerk_async.bulk import RowError, SystemicError, read_journal
from clerk_async.testing import FakeClerk, Faults


def _api_error(cls: type[Any], status: int, code: str, **meta: str) -> Any:
    detail = ErrorDetail(code=code, message=f"{code} (scripted)",
                         long_message=f"{code}: said by the test", meta=meta or None)
    return cls(status=status, errors=[detail], clerk_trace_id=None, headers={}, body="")


class _Spy:
    """``clerk.users`` as the importer uses it (the ``bulk.Users`` protocol): every
    call is recorded in order, and ``create_errors`` makes the next creates raise
    (None: send it for real)."""

    def __init__(self, users: Any, *, create_errors: tuple[BaseException | None, ...] = ()
                 ) -> None:
        self.users = users
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.create_errors = list(create_errors)
        self.in_flight = self.most_in_flight = 0

    async def list(self, **filters: Any) -> Any:
        self.calls.append(("list", filters))
        return await self.users.list(**filters)

    def iter(self, **filters: Any) -> Any:
        return self.users.iter(**filters)

    async def create_from(self, params: CreateUserParams) -> Any:
        self.calls.append(("create_from", {}))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            error = self.create_errors.pop(0) if self.create_errors else None
            if error is not None:
                raise error
            return await self.users.create_from(params)
        finally:
            self.in_flight -= 1

    async def update(self, user_id: str, **fields: Any) -> Any:
        self.calls.append(("update", fields))
        return await self.users.update(user_id, **fields)

    async def update_metadata(self, user_id: str, **metadata: Any) -> Any:
        self.calls.append(("update_metadata", metadata))
        return await self.users.update_metadata(user_id, **metadata)


def _context(clerk: AsyncClerk, **changes: Any) -> bulk.BulkContext:
    """The context ``clerk.users.bulk_create`` runs with."""
    return attrs.evolve(clerk.users._bulk_context(), **changes)


def _someone_elses(fake: FakeClerk, **body: Any) -> Any:
    """A user another client creates while the import runs (stamped after its intents)."""
    return fake.store.add_user(created_at=fake.store.now_ms() + 60_000, **body)


# ------------------------------------------------------------------ whose user is it


_NOT_THE_ROWS = {
    "lacks the row's email": (
        {"external_id": "e1", "email_address": ["row@example.com"]},
        {"external_id": "e1", "email_address": "other@example.com"}),
    "has another external_id": (
        {"external_id": "e1", "email_address": ["a@example.com"]},
        {"external_id": "e2", "email_address": "a@example.com"}),
    "has another username": (
        {"email_address": ["a@example.com"], "username": "rowname"},
        {"email_address": "a@example.com", "username": "othername"}),
    "has no username": (
        {"email_address": ["a@example.com"], "username": "xxxx"},
        {"email_address": "a@example.com"}),
    "has an email equal only when upper-cased": (
        {"external_id": "e1", "email_address": ["straße@example.com"]},
        {"external_id": "e1", "email_address": "strasse@example.com"}),
}


@pytest.mark.parametrize("case", list(_NOT_THE_ROWS))
async def test_a_user_made_by_someone_else_during_the_import_is_not_claimed(case: str) -> None:
    # Stamped after the row's intent, so only its identifiers can tell that it is
    # not this row's creation: it must carry every one of them.
    row, theirs = _NOT_THE_ROWS[case]
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        other = _someone_elses(fake, **theirs)
        fake.inject_fault("CreateUser", "500")
        report = await clerk.users.bulk_create([row])
        assert (report.created, report.existed, report.failed) == (0, 1, 0), report.failures
        assert report.outcomes[0].user_id == other.id
        assert len(fake.store.users) == 1


async def test_own_lost_create_is_claimed_whatever_identifiers_and_letter_case_it_has() -> None:
    row = {"external_id": "own1", "email_address": ["Ann.Lee@Example.com"],
           "phone_number": ["+15555550123"], "username": "AnnLee",
           "web3_wallet": ["0x52908400098527886E0F7030069857D2E4169EE7"]}
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("CreateUser", "500_after")
        report = await clerk.users.bulk_create([row], on_exists="error")
        assert (report.created, report.failed) == (1, 0), report.failures
        assert report.outcomes[0].user_id in fake.store.users
        assert len(fake.store.users) == 1


async def test_a_create_whose_answer_was_lost_is_found_and_not_sent_again() -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("CreateUser", "drop_after")
        report = await clerk.users.bulk_create([{"external_id": "d1"}], on_exists="error")
        assert (report.created, report.failed) == (1, 0), report.failures
        assert fake.stats.requests["CreateUser"] == 1


async def test_a_create_that_lands_on_the_last_attempt_is_found_by_the_final_check(
        ) -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("CreateUser", "503", "503", "503", "503", "503", "500_after")
        report = await clerk.users.bulk_create([{"external_id": "late"}], on_exists="error")
        assert (report.created, report.failed) == (1, 0), report.failures
        assert fake.stats.requests["CreateUser"] == 6
        user = fake.store.find("late")
        assert user is not None and report.outcomes[0].user_id == user.id


# ------------------------------------------------------------------ what on_exists="error" says


async def test_on_exists_error_after_a_fault_names_the_user_that_holds_the_identifiers() -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        old = _old_user(fake, email_address="taken@example.com")
        fake.inject_fault("CreateUser", "500")
        report = await clerk.users.bulk_create([{"email_address": ["taken@example.com"]}],
                                               on_exists="error")
        failure = report.failures[0]
        assert failure.code == "form_identifier_exists"
        assert old.id in failure.message and "already exists" in failure.message


# ------------------------------------------------------------------ at risk: check before resending


def _server_error() -> Any:
    return _api_error(ServerError, 500, "internal_clerk_error")


# name -> (row, CreateUser faults at FakeClerk, errors raised at the Users seam, code)
_AFTER_AMBIGUITY: dict[str, tuple[dict[str, Any], tuple[str, ...],
                                  tuple[BaseException | None, ...], str]] = {
    "Clerk refuses the row": (
        {"external_id": "r1", "username": "ab"}, ("500",), (),
        "form_username_invalid_length"),
    "5xx on every attempt": (
        {"external_id": "r1"}, ("503",) * 6, (), "internal_clerk_error"),
    "a conflict": (
        {"external_id": "r1"}, (),
        (_server_error(), _api_error(ConflictError, 409, "conflict_thing")), "conflict_thing"),
    "an unreadable answer": (
        {"external_id": "r1"}, (),
        (_server_error(), ClerkDecodeError("not a user")), "ClerkDecodeError"),
    "identifier exists but its holder is gone": (
        {"external_id": "r1"}, (),
        (_server_error(), _api_error(UnprocessableEntityError, 422, "form_identifier_exists",
                                     param_name="external_id")),
        "form_identifier_exists"),
}


async def test_a_create_that_landed_unconfirmed_is_claimed_as_created_by_the_rerun(
        tmp_path: Path) -> None:
    # The answer is lost, and every lookup after it fails too (the quiet one before
    # the retry, then the one after "identifier exists"): the row fails at risk.
    journal = tmp_path / "j.journal"
    row = {"external_id": "u1"}
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("CreateUser", "drop_after")
        fake.inject_fault("GetUserList", None, *("500",) * 8)
        first = await clerk.users.bulk_create([row], journal=journal, on_exists="error")
        assert [f.code for f in first.failures] == ["internal_clerk_error"]
        second = await clerk.users.bulk_create([row], journal=journal, on_exists="error")
        assert (second.created, second.failed) == (1, 0), second.failures
        assert fake.stats.requests["CreateUser"] == 2
        assert len(fake.store.users) == 1


async def test_a_row_without_identifiers_whose_create_may_have_landed_is_never_resent(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("CreateUser", "drop_after")
        for _ in range(2):  # the run, then a rerun with the same journal
            report = await clerk.users.bulk_create([{"first_name": "Nobody"}], journal=journal)
            assert [f.code for f in report.failures] == ["ambiguous_create"]
        assert fake.stats.requests["CreateUser"] == 1
        assert len(fake.store.users) == 1


@pytest.mark.parametrize("on_exists", ["error", "update"])
async def test_a_row_that_met_an_existing_user_is_not_at_risk_on_rerun(
        tmp_path: Path, on_exists: Any) -> None:
    # Nothing of the row's was created, so the rerun must not claim a user that
    # someone else made with its email in between (it was made after the intent).
    journal = tmp_path / "j.journal"
    row = {"email_address": ["a@example.com"], "first_name": "Row"}
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        holder = _old_user(fake, email_address="a@example.com")
        fake.inject_fault("UpdateUser", "503", "503", "503", "503")
        first = await clerk.users.bulk_create([row], journal=journal, on_exists=on_exists)
        assert first.failed == 1 and first.created == 0
        fake.store.delete_user(holder)
        newcomer = fake.store.add_user(email_address="a@example.com", first_name="New")
        second = await clerk.users.bulk_create([row], journal=journal, on_exists=on_exists)
        assert second.created == 0
        if on_exists == "error":
            assert [f.code for f in second.failures] == ["form_identifier_exists"]
        else:
            assert [(o.status, o.user_id) for o in second.outcomes] == [("updated", newcomer.id)]
            assert fake.store.get(newcomer.id).first_name == "Row"


# ------------------------------------------------------------------ when the run stops


async def test_seven_create_failures_in_a_row_after_a_success_do_not_stop_the_run() -> None:
    rows = [{"external_id": f"c{i}"} for i in range(3)]
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("CreateUser", None, *("503",) * 7, None)
        report = await clerk.users.bulk_create(rows, concurrency=1)
        assert (report.created, report.failed) == (2, 1), report.failures


async def test_clerk_refusing_the_key_during_the_import_stops_the_run() -> None:
    refused = _api_error(PermissionDeniedError, 403, "authorization_invalid")
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        spy = _Spy(clerk.users, create_errors=(refused,))
        with pytest.raises(SystemicError, match="refused the secret key"):
            await bulk.bulk_create(spy, [{"external_id": "k1"}, {"external_id": "k2"}],
                                   context=_context(clerk), concurrency=1)
        assert not fake.store.users


# ------------------------------------------------------------------ retries and their pace


async def test_a_rate_limited_create_is_retried_without_a_lookup() -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as base:
        clerk = base.with_options(retry=None)  # every 429 reaches the importer
        fake.inject_fault("CreateUser", "429", "429")
        report = await clerk.users.bulk_create([{"external_id": "q1"}], on_exists="error")
        assert (report.created, report.failed) == (1, 0), report.failures
        assert fake.stats.requests["CreateUser"] == 3
        assert fake.stats.requests["GetUserList"] == 1  # the probe only: nothing was sent


async def test_a_row_rate_limited_on_every_attempt_fails_as_rate_limited_without_a_lookup(
        ) -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as base:
        clerk = base.with_options(retry=None)
        fake.inject_fault("CreateUser", *("429",) * 6)
        report = await clerk.users.bulk_create([{"external_id": "q1"}])
        assert [f.code for f in report.failures] == ["too_many_requests"]
        assert fake.stats.requests["CreateUser"] == 6
        assert fake.stats.requests["GetUserList"] == 1
        assert not fake.store.users


@pytest.mark.parametrize(("retry", "waits"), [
    (RetryPolicy(base_delay=1.5), [1.5, 3.0, 6.0, 8.0, 8.0]),
    (None, [0.5, 1.0, 2.0, 4.0, 8.0]),  # no policy: the importer's own base of 0.5 s
])
async def test_waits_between_create_attempts_double_from_the_base_delay(
        monkeypatch: pytest.MonkeyPatch, retry: RetryPolicy | None, waits: list[float]) -> None:
    # Full jitter pinned at its ceiling, so each wait is the backoff's upper bound.
    monkeypatch.setattr(random.Random, "uniform", lambda self, low, high: high)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        fake.inject_fault("CreateUser", *("503",) * 5)
        report = await bulk.bulk_create(clerk.users, [{"external_id": "w1"}],
                                        context=bulk.BulkContext(retry=retry, sleep=sleep))
        assert report.created == 1, report.failures
        assert slept == waits


# ------------------------------------------------------------------ input, report and journal


async def test_numbered_rows_are_reported_and_journaled_under_their_numbers(
        tmp_path: Path) -> None:
    journal = tmp_path / "j.journal"
    rows: list[Any] = [
        (3, {"external_id": "n3"}),
        (5, RowError(None, "line 5 is not JSON")),
        (7, {"external_id": 8, "email_address": ["kept@example.com"]}),
        (9, {"external_id": "n9", "username": "ab"}),
        (11, {"email_address": ["held@example.com"]}),
    ]
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        held = _old_user(fake, email_address="held@example.com")
        report = await clerk.users.bulk_create(rows, journal=journal, concurrency=1)
    assert [(f.row, f.key, f.code, f.field) for f in report.failures] == [
        (5, "row:5", "invalid_row", None),
        (7, "email:kept@example.com", "invalid_row", "external_id"),
        (9, "external_id:n9", "form_username_invalid_length", None),
    ]
    assert report.failures[0].message == "line 5 is not JSON"
    created = fake.store.find("n3")
    assert created is not None
    assert [(o.row, o.key, o.status, o.user_id) for o in report.outcomes] == [
        (3, "external_id:n3", "created", created.id),
        (11, "email:held@example.com", "existed", held.id),
    ]
    assert [(e["row"], e["key"], e["state"], e["code"]) for e in read_journal(journal)] == [
        (3, "external_id:n3", "created", None),
        (5, "row:5", "failed", "invalid_row"),
        (7, "email:kept@example.com", "failed", "invalid_row"),
        (9, "external_id:n9", "failed", "form_username_invalid_length"),
        (11, "email:held@example.com", "existed", None),
    ]


async def test_update_sends_no_null_password_or_metadata_fields() -> None:
    # Clerk's UpdateUser and UpdateUserMetadata do not take null for these.
    params = CreateUserParams(email_address=["u@example.com"], first_name="New",
                              password_digest=None, password_hasher=None,
                              public_metadata=None, private_metadata={"crm": 1})
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        old = _old_user(fake, email_address="u@example.com", public_metadata={"keep": 1})
        spy = _Spy(clerk.users)
        report = await bulk.bulk_create(spy, [params], context=_context(clerk),
                                        on_exists="update")
        assert report.updated == 1, report.failures
        assert [c for c in spy.calls if c[0].startswith("update")] == [
            ("update", {"first_name": "New"}),
            ("update_metadata", {"private_metadata": {"crm": 1}}),
        ]
        user = fake.store.get(old.id)
        assert (user.first_name, user.public_metadata, user.private_metadata) == (
            "New", {"keep": 1}, {"crm": 1})


# ------------------------------------------------------------------ the engine's own defaults


async def test_bulk_create_called_directly_skips_existing_users_and_keeps_outcomes() -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        old = _old_user(fake, email_address="old@example.com")
        report = await bulk.bulk_create(
            clerk.users, [{"email_address": ["old@example.com"]},
                          {"email_address": ["new@example.com"]}])
        new = next(u for u in fake.store.users.values() if u.id != old.id)
        assert sorted((o.row, o.status, o.user_id) for o in report.outcomes) == [
            (1, "existed", old.id), (2, "created", new.id)]
        assert len(fake.store.users) == 2


async def test_bad_concurrency_is_refused_before_any_request() -> None:
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        with pytest.raises(ValueError, match="concurrency"):
            await bulk.bulk_create(clerk.users, [{"external_id": "x"}], concurrency=0)
        assert fake.stats.requests.total() == 0


async def test_default_concurrency_follows_the_quota() -> None:
    # 10 requests per 10 s: four rows in flight (the floor), not the 16 used without one.
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        spy = _Spy(clerk.users)
        report = await bulk.bulk_create(
            spy, [{"external_id": f"p{i}"} for i in range(20)],
            context=_context(clerk, quota=Quota(10, 10.0)))
        assert report.created == 20
        assert spy.most_in_flight == 4


# ------------------------------------------------------------------ issue 22: kept behaviours


@pytest.mark.parametrize("case", list(_AFTER_AMBIGUITY))
async def test_any_failure_after_an_attempt_that_may_have_landed_leaves_the_row_at_risk(
        tmp_path: Path, case: str) -> None:
    row, faults, errors, code = _AFTER_AMBIGUITY[case]
    journal = tmp_path / "j.journal"
    async with FakeClerk(require_identifier=False) as fake, _client(fake) as clerk:
        if faults:
            fake.inject_fault("CreateUser", *faults)
        first = await bulk.bulk_create(_Spy(clerk.users, create_errors=errors), [row],
                                       context=_context(clerk), journal=journal)
        assert [(f.row, f.code) for f in first.failures] == [(1, code)]
        # closing(): sqlite3's own context manager commits but leaves the file open.
        with contextlib.closing(sqlite3.connect(journal)) as db:
            assert db.execute("SELECT state, code, at_risk FROM rows").fetchall() == [
                ("failed", code, 1)]


async def test_failing_updates_stop_the_run_even_while_lookups_succeed() -> None:
    rows = [{"email_address": [f"u{i}@example.com"], "first_name": "New"} for i in range(12)]
    faults = Faults(rate=1.0, kinds=("503",), operations={"UpdateUser"})
    async with FakeClerk(require_identifier=False, faults=faults) as fake, \
            _client(fake) as clerk:
        for i in range(12):
            _old_user(fake, email_address=f"u{i}@example.com")
        with pytest.raises(SystemicError, match="failing") as info:
            await clerk.users.bulk_create(rows, on_exists="update", concurrency=1)
        assert info.value.report is not None and info.value.report.failed == 7
        assert fake.stats.requests.get("CreateUser", 0) == 0  # the pre-check found them
