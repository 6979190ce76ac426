"""The import journal at scale: SQLite (what ships) against the old JSONL set.

    python benchmarks/bench_journal.py [--n 1000000]

Writes an N-row journal both ways, then measures what a resume costs: the
JSONL design loads every done key into a Python set before the first row;
the SQLite journal opens the file and asks about each row as it comes.
Reports, per store: time to write N outcomes (batches of 256, as the importer
commits), file size, resume start-up time, resident memory growth for the
resume (tracemalloc peak of Python objects), and the cost of one per-row
"is it done?" check. Each store is measured in a fresh subprocess so their
memory does not mix. Timings on a shared machine are indicative only; the
memory numbers are the point.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from clerk_async.bulk._journal import Journal  # noqa: E402
from clerk_async.bulk._rows import identity  # noqa: E402


def _identity(i: int) -> str:
    return identity([f"external_id:m-{i}", f"email:m{i}@example.com"])


def jsonl(path: str, n: int) -> dict[str, float]:
    started = time.perf_counter()
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({"key": f"m-{i}", "row": i + 1, "outcome": "created",
                                     "user_id": f"user_{i:027d}"}) + "\n")
    write_s = time.perf_counter() - started
    tracemalloc.start()
    started = time.perf_counter()
    done: set[str] = set()
    with open(path, "rb") as handle:
        for line in handle:
            entry = json.loads(line)
            if entry.get("outcome") == "created":
                done.add(entry["key"])
    load_s = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.perf_counter()
    for i in range(0, n, max(1, n // 100_000)):
        _ = f"m-{i}" in done
    checks = len(range(0, n, max(1, n // 100_000)))
    check_us = (time.perf_counter() - started) / checks * 1e6
    return {"write_s": write_s, "size_mb": os.path.getsize(path) / 1e6, "resume_s": load_s,
            "resume_mb": peak / 1e6, "check_us": check_us}


async def _sqlite(path: str, n: int) -> dict[str, float]:
    journal = Journal(path, batch=256)
    await journal.open()
    started = time.perf_counter()
    for i in range(n):
        journal.record(_identity(i), i + 1, "created", key=f"external_id:m-{i}",
                       user_id=f"user_{i:027d}")
        if i % 256 == 255:
            await journal._commit()
    await journal.close()
    write_s = time.perf_counter() - started
    size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    tracemalloc.start()
    started = time.perf_counter()
    resumed = Journal(path)
    await resumed.open()
    open_s = time.perf_counter() - started
    picks = range(0, n, max(1, n // 100_000))
    started = time.perf_counter()
    for i in picks:
        assert resumed.get(_identity(i), i + 1) is not None
    check_us = (time.perf_counter() - started) / len(picks) * 1e6
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    await resumed.close()
    return {"write_s": write_s, "size_mb": size / 1e6, "resume_s": open_s,
            "resume_mb": peak / 1e6, "check_us": check_us}


def measure(store: str, n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "journal")
        if store == "jsonl":
            return jsonl(path, n)
        return asyncio.run(_sqlite(path, n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--store", choices=("jsonl", "sqlite"), default=None)
    args = parser.parse_args()
    if args.store:
        print(json.dumps(measure(args.store, args.n)))
        return
    print(f"journal of {args.n:,} rows")
    print(f"{'store':<8}{'write s':>10}{'file MB':>10}{'resume s':>10}{'resume MB':>11}"
          f"{'check µs':>10}")
    for store in ("jsonl", "sqlite"):
        out = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--store", store],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out)
        print(f"{store:<8}{r['write_s']:>10.1f}{r['size_mb']:>10.0f}{r['resume_s']:>10.2f}"
              f"{r['resume_mb']:>11.1f}{r['check_us']:>10.1f}")


if __name__ == "__main__":
    main()
