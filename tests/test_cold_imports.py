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

import clerk_async.bulk as bulk

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
