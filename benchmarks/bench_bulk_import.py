"""Bulk import speed against the quota: elapsed vs the ideal N / rate, and 429s.

    python benchmarks/bench_bulk_import.py [--n 5000] [--rate 500/1s] [--latency-ms 20] [--official]
    python benchmarks/bench_bulk_import.py --evidence [--n 2000] [--rate 500/1s]

``--evidence`` measures what ownership by evidence costs (issue 22): half the
rows belong to users that exist before the import, and the fake injects 0 %,
5 % and 20 % faults (5xx before and after the change, dropped connections)
on every operation. It reports the requests sent per row (pre-check, creates,
retries, lookups) and elapsed against the ideal, where the ideal is the
requests sent divided by the quota's rate (the pacing is judged, the request
count is reported separately).

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


#: Faults that a real Clerk or its network produce; 429s are the pacing's business.
EVIDENCE_FAULTS = "500,503,drop_after,500_after"


async def _evidence_import(server: Server, n: int, rate: str) -> dict[str, Any]:
    # Even rows: a user seeded before the import (user{i}@example.com); odd rows: new.
    rows = [{"email_address": [f"user{i}@example.com"]} if i % 2 == 0
            else _row("new", i) for i in range(n)]
    before = server.stats()
    async with AsyncClerk(
        secret_key=server.secret_key, base_url=server.base_url, rate_limit=rate
    ) as clerk:
        started = time.perf_counter()
        report = await clerk.users.bulk_create(rows, keep_outcomes=False)
        elapsed = time.perf_counter() - started
    after = server.stats()
    sent = sum(after["requests"].values()) - sum(before["requests"].values())
    return {
        "elapsed": elapsed, "requests": sent, "created": report.created,
        "existed": report.existed, "failed": report.failed, "ambiguous": report.ambiguous,
        "rate_limited_responses": after["rate_limited"] - before["rate_limited"],
        "faults": after["faults"] - before["faults"],
    }


def measure_evidence(n: int, rate: str, latency_ms: float, fault_rate: float) -> dict[str, Any]:
    """One import of ``n`` rows, half of them pre-existing, under ``fault_rate`` faults."""
    with fake_server(users=n, rate=rate, latency_ms=latency_ms, core=0,
                     fault_rate=fault_rate, fault_kinds=EVIDENCE_FAULTS) as server:
        pin(0, 1)
        result = asyncio.run(_evidence_import(server, n, rate))
    result["requests_per_row"] = result["requests"] / n
    result["ideal"] = ideal_seconds(result["requests"], rate)
    result["ratio"] = result["elapsed"] / result["ideal"]
    return result


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
    parser.add_argument("--evidence", action="store_true",
                        help="requests per row and elapsed/ideal at 0/5/20 %% faults, "
                        "half the users pre-existing")
    args = parser.parse_args()
    print(f"rows={args.n} quota={args.rate} latency={args.latency_ms:g}ms")
    if args.evidence:
        for rate in (0.0, 0.05, 0.20):
            r = measure_evidence(args.n, args.rate, args.latency_ms, rate)
            print(
                f"faults={rate:>4.0%} requests/row={r['requests_per_row']:.3f} "
                f"created={r['created']} existed={r['existed']} failed={r['failed']} "
                f"ambiguous={r['ambiguous']} elapsed={r['elapsed']:.2f}s "
                f"ideal={r['ideal']:.2f}s ratio={r['ratio']:.3f} "
                f"429 responses={r['rate_limited_responses']}"
            )
        return
    for who in CONTENDERS if args.official else ("ours",):
        r = measure(who, args.n, args.rate, args.latency_ms)
        print(
            f"{who:<19} created={r['created']} failed={r['failed']} (429: {r['failed_429']}) "
            f"elapsed={r['elapsed']:.2f}s ideal={r['ideal']:.2f}s ratio={r['ratio']:.3f} "
            f"429 responses={r['rate_limited_responses']}"
        )


if __name__ == "__main__":
    main()
