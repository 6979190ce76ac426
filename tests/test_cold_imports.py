"""What a cold start loads: the bulk engine stays out until a bulk method runs.

``clerk.users`` carries ``bulk_create``/``export``; importing their engine
(SQLite, csv, the importer) with the client cost ~10 ms of every cold start
(benchmarks/bench_cold_start.py), paid by CLIs and serverless functions that
never import anything. The same holds, at a smaller scale, for the billing
models (~1.5 ms), the Redis quota backend and the OAuth token page: loaded by
the calls that need them, not by ``import clerk_sync``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import attrs
import pytest

import clerk_async.bulk as bulk
from clerk_async import ErrorDetail, OperationStats, Quota, RateLimits, RetryPolicy
from clerk_async.testing import FakeClerk

ENGINE = ["clerk_async.bulk._bulk_import", "clerk_async.bulk._journal", "sqlite3", "csv"]
ON_DEMAND = ["clerk_async.models.billing", "clerk_async.models._index",
             "clerk_async._redis_quota", "clerk_async.resources._oauth_page"]

PROBE = """
import json, sys
import clerk_sync
from clerk_async import AsyncClerk
AsyncClerk(secret_key="sk_test_probe").users.bulk_create
clerk_sync.Clerk(secret_key="sk_test_probe").users.bulk_create
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("clerk_async", "sqlite3", "csv")))))
"""


def test_a_client_and_its_users_do_not_load_the_bulk_engine() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True,
                         text=True).stdout
    loaded = set(json.loads(out))
    assert "clerk_async.resources.users" in loaded  # the probe did reach the resources
    assert not loaded & set(ENGINE), sorted(loaded & set(ENGINE))
    assert not loaded & set(ON_DEMAND), sorted(loaded & set(ON_DEMAND))


def test_every_lazy_name_of_both_packages_and_the_models_resolves() -> None:
    import clerk_async
    import clerk_async.models as models
    import clerk_sync

    for package in (clerk_async, models, clerk_sync):
        for name in package.__all__:
            assert getattr(package, name) is not None, (package.__name__, name)
        assert set(package.__all__) <= set(dir(package))
    assert clerk_sync.RetryPolicy is clerk_async.RetryPolicy
    assert clerk_sync.__version__ == clerk_async.__version__
    assert models.SCHEMA_MODELS["User"] is models.User


def test_every_lazy_bulk_name_resolves() -> None:
    for name in bulk.__all__:
        assert getattr(bulk, name) is not None, name
    assert sorted(bulk.__all__) == sorted(bulk._LAZY)


# Runs a first call with each client, then names every class of ours that attrs
# built (an attrs class keeps its fields as a tuple in its own namespace; the
# plain records keep a lazy descriptor there until someone asks for them).
COLD_PATH = """
import asyncio, inspect, json, sys
from clerk_sync import Clerk
from clerk_async import AsyncClerk

url, key, uid = sys.argv[1:4]
with Clerk(secret_key=key, base_url=url) as clerk:
    assert clerk.users.get(uid).id == uid

async def main():
    async with AsyncClerk(secret_key=key, base_url=url) as client:
        assert (await client.users.get(uid)).id == uid

asyncio.run(main())
built = sorted(
    f"{name}.{cls.__qualname__}"
    for name, module in list(sys.modules.items())
    if name.startswith(("clerk_async", "clerk_sync"))
    for cls in vars(module).values()
    if inspect.isclass(cls) and cls.__module__ == name
    and isinstance(vars(cls).get("__attrs_attrs__"), tuple)
)
print(json.dumps(built))
"""


#: The model modules a users.get needs: the user and what it nests. Request bodies,
#: small responses and organization pages are built by the calls that use them.
COLD_MODEL_MODULES = ("users", "verification", "organizations")


def test_a_first_call_builds_only_the_models_it_needs(fake_clerk_sync: FakeClerk) -> None:
    """attrs writes each class's methods at import (~0.3 ms a class): a first call builds
    the model classes of the user and what it nests, no billing model, no record."""
    user = fake_clerk_sync.store.add_user(email_address="cold@example.com")
    argv = [fake_clerk_sync.base_url, fake_clerk_sync.secret_key, user.id]
    out = subprocess.run([sys.executable, "-c", COLD_PATH, *argv], check=True,
                         capture_output=True, text=True).stdout
    built = json.loads(out)
    assert "clerk_async.models.users.User" in built
    allowed = tuple(f"clerk_async.models.{m}." for m in COLD_MODEL_MODULES)
    assert [name for name in built if not name.startswith(allowed)] == []


RECORDS = [
    (RetryPolicy(max_attempts=2, deadline=9.0), {"base_delay": 0.25}),
    (Quota(100, 10.0, burst=5), {"burst": 2}),
    (RateLimits(instance="20/1s"), {"instance": None}),
    (ErrorDetail(code="not_found", message="Not found", meta={"id": "u"}), {"code": "gone"}),
    (OperationStats(requests=3, retries=1), {"quota_wait": 0.5}),
]


@pytest.mark.parametrize(("record", "change"), RECORDS, ids=lambda v: type(v).__name__)
def test_plain_records_still_work_as_attrs_classes(
    record: object, change: dict[str, object]
) -> None:
    import copy
    import pickle

    cls = type(record)
    names = [a.name for a in attrs.fields(cls)]
    assert attrs.has(cls) and names == [n for n in cls.__annotations__ if not n.startswith("__")]
    changed = attrs.evolve(record, **change)
    assert type(changed) is cls and changed != record
    assert attrs.asdict(changed) == {**attrs.asdict(record), **change}
    assert attrs.evolve(record) == record and record != object()
    assert repr(record) == f"{cls.__name__}(" + ", ".join(
        f"{n}={getattr(record, n)!r}" for n in names) + ")"
    assert pickle.loads(pickle.dumps(record)) == record == copy.deepcopy(record)
    if cls is OperationStats:  # mutable counters, unhashable like any attrs.define class
        record.requests += 1  # type: ignore[attr-defined]
        with pytest.raises(TypeError):
            hash(record)
    else:
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            record.code = "x"  # type: ignore[attr-defined]


def test_records_validate_on_evolve_as_on_construction() -> None:
    with pytest.raises(ValueError, match="max_attempts must be >= 1, got 0"):
        attrs.evolve(RetryPolicy(), max_attempts=0)
    with pytest.raises(ValueError, match="deadline must be >= 0"):
        RetryPolicy(deadline=-1.0)
    with pytest.raises(ValueError, match=r"quota burst must be in 1\.\.10, got 11"):
        attrs.evolve(Quota(10, 1.0), burst=11)
    assert hash(Quota(10, 1.0)) == hash(Quota(10, 1.0)) != hash(Quota(10, 2.0))
    assert RateLimits().operations == {} and RateLimits().operations is not RateLimits().operations


def test_records_match_positionally_where_attrs_allowed_it() -> None:
    # attrs gives __match_args__ to the fields that are not keyword-only.
    match Quota(10, 1.0, 2):
        case Quota(requests, period, burst):
            assert (requests, period, burst) == (10, 1.0, 2)
    match OperationStats(3, 1):
        case OperationStats(requests, retries, limited, waited):
            assert (requests, retries, limited, waited) == (3, 1, 0, 0.0)
    assert RetryPolicy.__match_args__ == () == ErrorDetail.__match_args__


def test_python_x_importtime_shows_the_modules_lazy_names_load() -> None:
    """A user profiling their start-up sees our model modules, not their cost hidden in others."""
    probe = "from clerk_async import AsyncClerk, User; import clerk_async.models as m; m.TOTP"
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", probe], check=True,
                         capture_output=True, text=True).stderr
    timed = {line.rsplit("|", 1)[-1].strip() for line in err.splitlines()}
    assert {"clerk_async._client", "clerk_async.models.users",
            "clerk_async.models.common"} <= timed, sorted(t for t in timed if "clerk" in t)


def test_importing_the_package_for_its_errors_and_settings_loads_neither_attrs_nor_email() -> None:
    # A CLI's --help or a module that only catches ClerkError pays ~25 ms less.
    probe = ("import sys; from clerk_async import ClerkError, RateLimitError, RetryPolicy; "
             "RetryPolicy(max_attempts=2); "
             "print(sorted(m for m in ('attr', 'attrs', 'email.utils') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "[]"


# Token verification's dependencies load with the first verification, not before:
# a client configured for it, and its first users call, import neither PyJWT nor
# cryptography (nor the claims class).
NO_JWT_PROBE = """
import asyncio, json, sys
import clerk_async, clerk_sync
from clerk_async import AsyncClerk, TokenVerificationError

url, key, uid, pem = sys.argv[1:5]

async def main():
    async with AsyncClerk(secret_key=key, base_url=url, jwt_key=pem) as client:
        assert (await client.users.get(uid)).id == uid

asyncio.run(main())
with clerk_sync.Clerk(secret_key=key, base_url=url, jwt_key=pem) as clerk:
    assert clerk.users.get(uid).id == uid
print(json.dumps(sorted(m for m in sys.modules
                        if m.split(".")[0] in ("jwt", "cryptography")
                        or m == "clerk_async._session_claims")))
"""


def test_a_first_users_call_does_not_load_jwt(fake_clerk_sync: FakeClerk) -> None:
    user = fake_clerk_sync.store.add_user(email_address="nojwt@example.com")
    argv = [fake_clerk_sync.base_url, fake_clerk_sync.secret_key, user.id,
            fake_clerk_sync.tokens.public_pem]
    out = subprocess.run([sys.executable, "-c", NO_JWT_PROBE, *argv], check=True,
                         capture_output=True, text=True).stdout
    assert json.loads(out) == []
