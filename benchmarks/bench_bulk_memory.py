"""Peak memory of the import engine over a 1M-row JSONL file (dry run, no HTTP).

    python benchmarks/bench_bulk_memory.py [--n 1000000]

The rows are generated to a temporary file, then read with ``read_rows`` and
fed through ``bulk_create(dry_run=True)``: parsing, checking, keys, the
bounded queue and the workers all run; only the request is skipped. Reports
the growth of peak RSS (``ru_maxrss``) over the run; the target is < 100 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time

from _common import peak_rss_mb

from clerk_async import AsyncClerk
from clerk_async.bulk import read_rows


def generate(path: str, n: int) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({
                "external_id": f"m-{i}", "email_address": [f"m{i}@example.com"],
                "first_name": "Mem", "last_name": str(i),
                "public_metadata": {"plan": "pro", "n": i},
            }) + "\n")


async def run(path: str, n: int) -> None:
    async with AsyncClerk(secret_key="sk_test_dry_run", rate_limit=None) as clerk:
        before = peak_rss_mb()
        started = time.perf_counter()
        report = await clerk.users.bulk_create(read_rows(path), dry_run=True)
        elapsed = time.perf_counter() - started
        after = peak_rss_mb()
    size = os.path.getsize(path) / 1024**2
    print(f"rows={n} file={size:.0f} MB validated={report.validated} failed={report.failed}")
    print(f"elapsed={elapsed:.1f}s ({n / elapsed:,.0f} rows/s)")
    print(f"peak RSS before={before:.1f} MB after={after:.1f} MB growth={after - before:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rows.jsonl")
        generate(path, args.n)
        asyncio.run(run(path, args.n))


if __name__ == "__main__":
    main()
