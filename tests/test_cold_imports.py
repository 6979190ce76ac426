"""What a cold start loads: the bulk engine stays out until a bulk method runs.

``clerk.users`` carries ``bulk_create``/``export``; importing their engine
(SQLite, csv, the importer) with the client cost ~10 ms of every cold start
(benchmarks/bench_cold_start.py), paid by CLIs and serverless functions that
never import anything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import clerk_async.bulk as bulk

ENGINE = ["clerk_async.bulk._bulk_import", "clerk_async.bulk._journal", "sqlite3", "csv"]

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


def test_every_lazy_bulk_name_resolves() -> None:
    for name in bulk.__all__:
        assert getattr(bulk, name) is not None, name
    assert sorted(bulk.__all__) == sorted(bulk._LAZY)
