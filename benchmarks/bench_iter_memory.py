"""Peak RSS while ``users.iter`` walks every user of a FakeClerk.

    python benchmarks/bench_iter_memory.py [--users 100000] [--sync]
    python benchmarks/bench_iter_memory.py --base-url URL --secret-key KEY [--json]

Without ``--base-url`` a FakeClerk child process is started and seeded with
``--users`` users. The walk runs in this process, which does nothing else: the
baseline is the peak RSS after the imports, the client and one request (so
the session and the decoders exist), and the result is the growth of the peak
over the walk. The target is < 50 MB for 100k users.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from _common import fake_server, peak_rss_mb, pin

from clerk_async import AsyncClerk


async def _walk_async(base_url: str, key: str) -> tuple[int, float]:
    async with AsyncClerk(secret_key=key, base_url=base_url, rate_limit=None) as clerk:
        await clerk.users.list(limit=1)
        before = peak_rss_mb()
        count = 0
        async for _user in clerk.users.iter():
            count += 1
    return count, before


def _walk_sync(base_url: str, key: str) -> tuple[int, float]:
    from clerk_sync import Clerk

    with Clerk(secret_key=key, base_url=base_url, rate_limit=None) as clerk:
        clerk.users.list(limit=1)
        before = peak_rss_mb()
        count = sum(1 for _user in clerk.users.iter())
    return count, before


def measure(base_url: str, key: str, *, sync: bool = False) -> dict[str, Any]:
    """Walk every user once; peak RSS before and after, in MiB, and the time taken."""
    started = time.perf_counter()
    if sync:
        count, before = _walk_sync(base_url, key)
    else:
        count, before = asyncio.run(_walk_async(base_url, key))
    elapsed = time.perf_counter() - started
    after = peak_rss_mb()
    return {
        "users": count, "before_mb": before, "after_mb": after,
        "growth_mb": after - before, "seconds": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--base-url")
    parser.add_argument("--secret-key")
    parser.add_argument("--sync", action="store_true", help="walk with clerk_sync.Clerk")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.base_url:
        pin(0, 1)
        result = measure(args.base_url, args.secret_key, sync=args.sync)
    else:
        with fake_server(users=args.users) as server:
            pin(0, 1)
            result = measure(server.base_url, server.secret_key, sync=args.sync)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"users={result['users']} in {result['seconds']:.1f}s  peak RSS before="
        f"{result['before_mb']:.1f} MB after={result['after_mb']:.1f} MB "
        f"growth={result['growth_mb']:.1f} MB (target < 50 MB)"
    )


if __name__ == "__main__":
    main()
