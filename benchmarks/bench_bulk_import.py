"""Bulk import speed against the quota: elapsed vs the ideal N / rate, and 429s.

    python benchmarks/bench_bulk_import.py [--n 5000] [--rate 500/1s] [--latency-ms 20]

FakeClerk enforces ``--rate`` per instance; the client paces itself to the
same quota (``AsyncClerk(rate_limit=RateLimits(instance=...))``). The ideal
time is N / (requests per second); a ratio near 1.00 with zero 429s is the
goal.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from clerk_async import AsyncClerk, RetryPolicy
from clerk_async._ratelimit import RateLimits, parse_quota
from clerk_async.testing import FakeClerk, Faults


async def run(n: int, rate: str, latency_ms: float) -> None:
    quota = parse_quota(rate)
    faults = Faults(latency_ms=latency_ms) if latency_ms else None
    async with (
        FakeClerk(rate_limit=rate, faults=faults) as fake,
        AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url,
                   rate_limit=RateLimits(instance=quota),
                   retry=RetryPolicy(base_delay=0.05)) as clerk,
    ):
        rows = ({"email_address": [f"b{i}@example.com"], "external_id": f"b-{i}"}
                for i in range(n))
        started = time.perf_counter()
        report = await clerk.users.bulk_create(rows)
        elapsed = time.perf_counter() - started
    ideal = n / (quota.requests / quota.period)
    print(f"rows={n} quota={quota} latency={latency_ms:g}ms")
    print(f"created={report.created} existed={report.existed} failed={report.failed} "
          f"users_in_fake={fake.stats.users}")
    print(f"elapsed={elapsed:.2f}s ideal={ideal:.2f}s ratio={elapsed / ideal:.3f} "
          f"429s={fake.stats.rate_limited} creates_sent={fake.stats.requests['CreateUser']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rate", default="500/1s")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(run(args.n, args.rate, args.latency_ms))


if __name__ == "__main__":
    main()
