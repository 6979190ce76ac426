"""Bulk import speed against the quota: elapsed vs the ideal N / rate, and 429s.

    python benchmarks/bench_bulk_import.py [--n 5000] [--rate 500/1s] [--latency-ms 20] [--official]

FakeClerk runs in its own process and enforces ``--rate`` per instance; the
client paces itself to the same quota (``AsyncClerk(rate_limit=...)``). The
ideal time is N / (requests per second); a ratio near 1.00 with zero 429s is
the goal. ``--official`` also runs the same import the way people do it with
Clerk's official SDK (``asyncio.gather`` of ``users.create_async``) against a
fresh FakeClerk, twice: with its defaults (no retry on 429, so a refused row
fails) and with its documented ``RetryConfig`` at its best for a quota
(backoff, ``status_codes_override=["429", "5XX"]``, Retry-After honoured).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from _common import Server, fake_server, official_best_retry_config, official_sdk, pin

from clerk_async import AsyncClerk
from clerk_async._ratelimit import parse_quota


def _row(prefix: str, i: int) -> dict[str, Any]:
    return {"email_address": [f"{prefix}{i}@example.com"], "external_id": f"{prefix}-{i}"}


def ideal_seconds(n: int, rate: str) -> float:
    quota = parse_quota(rate)
    return n / (quota.requests / quota.period)


async def ours(server: Server, n: int, rate: str) -> dict[str, Any]:
    """``clerk.users.bulk_create`` paced to ``rate``."""
    before = server.stats()
    async with AsyncClerk(
        secret_key=server.secret_key, base_url=server.base_url, rate_limit=rate
    ) as clerk:
        rows = (_row("ours", i) for i in range(n))
        started = time.perf_counter()
        report = await clerk.users.bulk_create(rows)
        elapsed = time.perf_counter() - started
    after = server.stats()
    return {
        "elapsed": elapsed, "created": report.created, "failed": report.failed,
        "rate_limited_responses": after["rate_limited"] - before["rate_limited"],
        "failed_429": 0,
    }


CONTENDERS = ("ours", "official-default", "official-configured")


async def official(server: Server, n: int, *, configured: bool) -> dict[str, Any]:
    """``asyncio.gather`` of the official SDK's ``users.create_async``: its default
    retries, or (``configured``) its documented best ``RetryConfig``."""
    sdk = official_sdk()
    assert sdk is not None, "clerk-backend-api is not installed (pip install -e '.[bench]')"
    before = server.stats()
    options: dict[str, Any] = {}
    if configured:
        options["retry_config"] = official_best_retry_config()
    async with sdk.Clerk(
        bearer_auth=server.secret_key, server_url=server.base_url, **options
    ) as clerk:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(clerk.users.create_async(**_row("off", i)) for i in range(n)),
            return_exceptions=True,
        )
        elapsed = time.perf_counter() - started
    after = server.stats()
    failures = [r for r in results if isinstance(r, BaseException)]
    return {
        "elapsed": elapsed, "created": n - len(failures), "failed": len(failures),
        "rate_limited_responses": after["rate_limited"] - before["rate_limited"],
        "failed_429": sum(getattr(r, "status_code", None) == 429 for r in failures),
    }


def measure(who: str, n: int, rate: str, latency_ms: float) -> dict[str, Any]:
    """One import of ``n`` rows by ``who`` (one of :data:`CONTENDERS`) against a fresh
    FakeClerk."""
    if who not in CONTENDERS:
        raise ValueError(f"who must be one of {CONTENDERS}, not {who!r}")
    with fake_server(rate=rate, latency_ms=latency_ms, core=0) as server:
        pin(0, 1)
        run = (ours(server, n, rate) if who == "ours"
               else official(server, n, configured=who == "official-configured"))
        result = asyncio.run(run)
    result["ideal"] = ideal_seconds(n, rate)
    result["ratio"] = result["elapsed"] / result["ideal"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rate", default="500/1s")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--official", action="store_true", help="also run clerk-backend-api")
    args = parser.parse_args()
    print(f"rows={args.n} quota={args.rate} latency={args.latency_ms:g}ms")
    for who in CONTENDERS if args.official else ("ours",):
        r = measure(who, args.n, args.rate, args.latency_ms)
        print(
            f"{who:<19} created={r['created']} failed={r['failed']} (429: {r['failed_429']}) "
            f"elapsed={r['elapsed']:.2f}s ideal={r['ideal']:.2f}s ratio={r['ratio']:.3f} "
            f"429 responses={r['rate_limited_responses']}"
        )


if __name__ == "__main__":
    main()
