"""The bulk importer's invariant, checked on random inputs, faults and kills.

After any run, under any faults, kill or rerun, every row is in exactly one
outcome class, each outcome is true of Clerk's final state, and the journal
never marks a row done that Clerk does not reflect.

Each example draws rows (new, pre-existing, duplicated within the file,
invalid, identifier-less; emails sometimes typed with spaces around and in
upper case), a proxy moving Clerk's ``Date`` header (or dropping it), an
``on_exists`` mode, a seeded FakeClerk fault
schedule (5xx before and after the change is applied, dropped connections,
429s) and up to two kill points (a cancelled import task, optionally with the
journal's unsaved records thrown away as SIGKILL would). It then runs the
import until one run completes, checking the journal against FakeClerk's
store after every run, and the full invariant after the last one.

CI runs a fixed set of examples (``derandomize=True``) in a few seconds; set
``CLERK_PROPERTY_EXAMPLES=500`` for a longer search.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clerk_async import AsyncClerk, RetryPolicy
from clerk_async.bulk import SystemicError, read_journal
from clerk_async.bulk import _bulk_import as importer_module
from clerk_async.bulk._journal import Journal
from clerk_async.testing import FakeClerk, Faults

EXAMPLES = int(os.environ.get("CLERK_PROPERTY_EXAMPLES", "25"))
#: Each example takes well under a second; this only turns a deadlock into a failure.
HANG_SECONDS = 60.0
KINDS = ("500", "503", "drop_after", "500_after", "429")


@dataclass
class Scenario:
    rows: list[dict[str, Any]]
    kinds: list[str]  # what each row is, for the checks
    groups: list[int]  # identity group per row (-1: none)
    pre: dict[int, dict[str, Any]]  # group -> the pre-existing user's create body
    on_exists: str
    fault_rate: float
    fault_kinds: tuple[str, ...]
    seed: int
    kills: list[int] = field(default_factory=list)  # requests served before each kill
    hard: list[bool] = field(default_factory=list)
    date_skew: float | None = 0.0  # seconds a proxy moves Date by; None: it drops Date


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    count = draw(st.integers(min_value=3, max_value=14))
    rows: list[dict[str, Any]] = []
    kinds: list[str] = []
    groups: list[int] = []
    pre: dict[int, dict[str, Any]] = {}
    bodies: dict[int, dict[str, Any]] = {}  # group -> identifiers
    for i in range(count):
        kind = draw(st.sampled_from(["new", "new", "pre", "dup", "invalid", "anon"]))
        if kind == "dup" and not bodies:
            kind = "new"
        tag = f"r{i}"
        if kind in ("new", "pre"):
            group = len(bodies)
            ident: dict[str, Any] = {"email_address": [f"g{group}@example.com"]}
            if draw(st.booleans()):
                ident["external_id"] = f"ext-{group}"
            if draw(st.booleans()):
                ident["username"] = f"user{group}x"
            bodies[group] = ident
            if kind == "pre":
                pre[group] = {**ident, "first_name": "Before"}
            row = {**ident, "first_name": tag}
        elif kind == "dup":
            group = draw(st.sampled_from(sorted(bodies)))
            row = {**bodies[group], "first_name": tag}
        elif kind == "invalid":
            group = -1
            row = {"email_address": [f"bad{i}@example.com"], "first_name": tag,
                   "favourite_colour": "blue"}
        else:
            group = -1
            row = {"first_name": tag}
        if kind in ("new", "pre", "dup") and draw(st.booleans()):
            # The same identifiers as typed by a person: spaces around, other case.
            row["email_address"] = [f"  {e.upper()} " for e in row["email_address"]]
        if kind != "invalid" and draw(st.booleans()):
            row["public_metadata"] = {"row": i}
        rows.append(row)
        kinds.append(kind)
        groups.append(group)
    kills = draw(st.lists(st.integers(min_value=1, max_value=3 * count), max_size=2))
    return Scenario(
        rows=rows, kinds=kinds, groups=groups, pre=pre,
        on_exists=draw(st.sampled_from(["skip", "update", "error"])),
        fault_rate=draw(st.sampled_from([0.0, 0.15, 0.3])),
        fault_kinds=tuple(draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5,
                                        unique=True))),
        seed=draw(st.integers(min_value=0, max_value=10_000)),
        kills=kills,
        hard=[draw(st.booleans()) for _ in kills],
        date_skew=draw(st.sampled_from([0.0, 2.0, -30.0, 86_400.0, None])),
    )


def _date_proxy(skew: float | None) -> Any:
    """A proxy in front of Clerk that moves its Date header, or drops it."""

    @web.middleware
    async def proxy(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if skew is None:
            response.headers.popall("Date", None)
        elif skew:
            response.headers["Date"] = formatdate(time.time() + skew, usegmt=True)
        return response

    return proxy


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


class _Opened(Journal):
    """The journal of the run, so a simulated SIGKILL can throw its unsaved records away."""

    last: Journal | None = None

    async def open(self) -> None:
        _Opened.last = self
        await super().open()


def _lose_unsaved(journal: Journal) -> None:
    # What SIGKILL costs: every record not yet committed. (Intents are committed
    # before their create is sent, so none of those is lost.)
    journal._ops.clear()
    journal._new.clear()
    journal._claims_new.clear()
    journal.record = lambda *args, **kwargs: None  # type: ignore[method-assign]


async def _run_until(fake: FakeClerk, run: asyncio.Task[Any], requests: int) -> bool:
    """Let ``run`` go until the fake has served ``requests`` more; True if it was killed."""
    target = sum(fake.stats.requests.values()) + requests
    while not run.done():
        if sum(fake.stats.requests.values()) >= target:
            return True
        await asyncio.sleep(0.001)
    return False


def _carries(user: Any, row: dict[str, Any]) -> bool:
    emails = {e.email_address.lower() for e in user.emails}
    if not {e.strip().lower() for e in row.get("email_address", [])} <= emails:
        return False
    if "external_id" in row and user.external_id != row["external_id"]:
        return False
    return "username" not in row or (user.username or "").lower() == row["username"].lower()


def _journal_rows(path: Path) -> dict[int, dict[str, Any]]:
    if not path.exists():
        return {}
    entries = list(read_journal(path))
    numbers = Counter(e["row"] for e in entries)
    assert all(c == 1 for c in numbers.values()), f"a row is in two classes: {numbers}"
    return {e["row"]: e for e in entries}


def _check_journal(s: Scenario, fake: FakeClerk, path: Path, pre_ids: set[str]) -> None:
    """What must hold after every run, even a killed one."""
    users = fake.store.users
    created: Counter[str] = Counter()
    for number, entry in _journal_rows(path).items():
        row = s.rows[number - 1]
        if entry["state"] in ("created", "existed", "updated"):
            user = users.get(entry["user_id"])
            assert user is not None, f"row {number} done as {entry}, user missing in Clerk"
            assert _carries(user, row), f"row {number}: {entry['user_id']} is someone else"
            assert s.kinds[number - 1] not in ("invalid",)
        if entry["state"] == "created":
            assert entry["user_id"] not in pre_ids, f"row {number}: pre-existing user 'created'"
            created[entry["user_id"]] += 1
    assert all(c == 1 for c in created.values()), f"one user created by two rows: {created}"
    tags = Counter(u.first_name for u in users.values())
    for i, kind in enumerate(s.kinds):
        if kind == "anon":
            assert tags[f"r{i}"] <= 1, f"identifier-less row {i + 1} created twice"


def _check_final(s: Scenario, fake: FakeClerk, path: Path, pre_ids: set[str],
                 report: Any) -> None:
    """The full invariant, after a run that went to the end."""
    entries = _journal_rows(path)
    assert sorted(entries) == list(range(1, len(s.rows) + 1)), "a row has no outcome"
    assert (report.created + report.existed + report.updated + report.failed
            + report.skipped_from_journal) == len(s.rows)
    users = fake.store.users
    by_group: dict[int, list[int]] = {}
    for i, group in enumerate(s.groups):
        if group >= 0:
            by_group.setdefault(group, []).append(i)
    for i, kind in enumerate(s.kinds):
        entry = entries[i + 1]
        state, code = entry["state"], entry["code"]
        if kind == "invalid":
            assert (state, code) == ("failed", "invalid_row")
        elif kind == "anon":
            holders = [u for u in users.values() if u.first_name == f"r{i}"]
            if state == "created":
                assert [u.id for u in holders] == [entry["user_id"]]
            else:
                assert (state, code) == ("failed", "ambiguous_create"), entry
                assert len(holders) <= 1
        elif state == "failed":
            # Only the on_exists="error" refusal is left once faults are gone.
            assert (s.on_exists, code) == ("error", "form_identifier_exists"), entry
            assert any(_carries(u, s.rows[i]) for u in users.values())
        else:
            expected = {"skip": "existed", "update": "updated", "error": None}[s.on_exists]
            assert state in ("created", expected), (entry, s.on_exists)
    for group, members in by_group.items():
        holders = [u for u in users.values() if _carries(u, s.rows[members[0]])]
        assert len(holders) == 1, f"group {group} has {len(holders)} users"
        user = holders[0]
        states = [entries[i + 1]["state"] for i in members]
        if group in s.pre:
            assert user.id in pre_ids and "created" not in states, (group, states)
        else:
            # This import made the user: exactly one of its rows says so.
            assert states.count("created") == 1, (group, states)
        done = [s.rows[i]["first_name"] for i in members
                if entries[i + 1]["state"] in ("created", "updated")]
        if s.on_exists == "update" or group not in s.pre:
            if done:
                assert user.first_name in done, (user.first_name, done)
        else:
            assert user.first_name == "Before"


async def _scenario(s: Scenario, directory: Path) -> None:
    journal = directory / "import.journal"
    faults = Faults(rate=s.fault_rate, kinds=s.fault_kinds, seed=s.seed) if s.fault_rate \
        else None
    # Identifier-less rows are part of the draw, so the fake accepts them.
    fake = FakeClerk(faults=faults, seed=s.seed, require_identifier=False)
    fake.app.middlewares.insert(0, _date_proxy(s.date_skew))
    async with fake:
        # Users that were there before: a minute old, as a real instance's would be.
        earlier = fake.store.now_ms() - 60_000
        pre_ids = {fake.store.add_user(created_at=earlier, **body).id
                   for body in s.pre.values()}
        async with AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url,
                              rate_limit=None, sleep=_no_sleep,
                              retry=RetryPolicy(max_attempts=3, base_delay=0.0)) as clerk:
            report = None
            attempts = 0
            while report is None:
                attempts += 1
                if attempts > len(s.kills) + 3:
                    fake.faults = None  # let a run finish whatever the schedule
                run = asyncio.ensure_future(clerk.users.bulk_create(
                    s.rows, journal=journal, on_exists=s.on_exists,  # type: ignore[arg-type]
                    concurrency=4))
                kill_at = s.kills[attempts - 1] if attempts <= len(s.kills) else None
                if kill_at is not None and await _run_until(fake, run, kill_at):
                    if s.hard[attempts - 1] and _Opened.last is not None:
                        _lose_unsaved(_Opened.last)
                    run.cancel()
                try:
                    report = await run
                except asyncio.CancelledError:
                    pass
                except SystemicError:
                    pass  # stopped on purpose; the journal must still be right
                _check_journal(s, fake, journal, pre_ids)
            # Rows that failed on a transient fault are what a rerun is for; once
            # the faults are gone, every row must end in its one true class.
            fake.faults = None
            report = await clerk.users.bulk_create(
                s.rows, journal=journal, on_exists=s.on_exists,  # type: ignore[arg-type]
                concurrency=4)
            _check_journal(s, fake, journal, pre_ids)
            _check_final(s, fake, journal, pre_ids, report)


@pytest.fixture(autouse=True)
def _capture_journal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(importer_module, "Journal", _Opened)
    yield


# The suite's 60 s per-test limit suits the CI set; a long run gets room to finish.
@pytest.mark.timeout(60 + EXAMPLES // 5)
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenarios())
def test_invariant_holds_under_faults_kills_and_reruns(s: Scenario) -> None:
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(_guarded(s, Path(directory)))


async def _guarded(s: Scenario, directory: Path) -> None:
    # A hang is a defect too: turn it into a failure that names the example.
    try:
        await asyncio.wait_for(_scenario(s, directory), timeout=HANG_SECONDS)
    except asyncio.TimeoutError:
        print(f"HANG: {s!r}", file=sys.stderr, flush=True)
        raise AssertionError(f"the import hung on {s!r}") from None
