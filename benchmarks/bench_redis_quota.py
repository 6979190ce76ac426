"""What sharing the quota through Redis costs, and how well it paces many processes.

    python benchmarks/bench_redis_quota.py [--acquires 5000] [--processes 4]
        [--creates 50] [--rate 40/1s]

Starts a throwaway ``redis-server`` on a free loopback port (it must be
installed: ``apt-get install redis-server``), then measures:

* acquire latency: one ``RedisQuota.acquire`` after another, with a quota
  so high that no call ever waits, so each is exactly one EVALSHA round trip
  plus the client's own work. Next to it, a bare ``PING`` through the same
  redis-py client (the floor) and ``LocalLimiter.acquire`` (what in-process
  pacing costs). Target: median under 0.5 ms.
* pacing: ``--processes`` child processes, each an ``AsyncClerk`` with
  ``RedisQuota``, create ``--creates`` users at once against one FakeClerk
  whose quota is ``--rate``, the same quota the clients share. Reported: the
  time from the first request to the last answer against the ideal
  (requests / rate), and the 429s (target: none, ratio under 1.10).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from redis_server import RedisServer, find_redis_server  # noqa: E402

from clerk_async import LocalLimiter, Quota  # noqa: E402
from clerk_async._ratelimit import instance_key_id, parse_quota  # noqa: E402
from clerk_async._redis_quota import RedisQuota  # noqa: E402
from clerk_async.testing import FakeClerk  # noqa: E402

KEY = "sk_test_bench_redis_quota_000000000000"

WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from clerk_async import AsyncClerk, RateLimits
    from clerk_async._redis_quota import RedisQuota

    async def main(base_url, key, redis_url, quota, count, tag):
        backend = RedisQuota(redis_url)
        async with AsyncClerk(secret_key=key, base_url=base_url,
                              rate_limit=RateLimits(instance=quota, backend=backend)) as clerk:
            await clerk.users.count()  # connect to Redis and the server first
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            started = time.monotonic()
            await asyncio.gather(
                *(clerk.users.create(external_id=f"{tag}-{i}") for i in range(count))
            )
            finished = time.monotonic()
            stats = clerk.stats["CreateUser"]
        print(json.dumps({"started": started, "finished": finished,
                          "rate_limited": stats.rate_limited,
                          "quota_wait": stats.quota_wait}), flush=True)

    asyncio.run(main(*sys.argv[1:5], int(sys.argv[5]), sys.argv[6]))
    """
)


def _summary(label: str, micros: list[float]) -> dict[str, float]:
    ordered = sorted(micros)
    stats = {
        "median_us": statistics.median(ordered),
        "p90_us": ordered[int(len(ordered) * 0.90)],
        "p99_us": ordered[int(len(ordered) * 0.99)],
    }
    print(
        f"  {label:<24} median {stats['median_us']:7.1f} us   p90 {stats['p90_us']:7.1f} us"
        f"   p99 {stats['p99_us']:7.1f} us"
    )
    return stats


async def acquire_latency(redis_url: str, count: int) -> dict[str, dict[str, float]]:
    """Per-call microseconds of a never-waiting acquire, with a PING floor and the local one."""
    quota = RedisQuota(redis_url)
    # A million a second: the schedule is never the reason to wait.
    quota.configure(Quota(1_000_000, 1.0), {}, instance_key_id(KEY))
    local = LocalLimiter(Quota(1_000_000, 1.0))
    await quota.acquire("GetUser")  # connect and load the script
    client = quota._states[asyncio.get_running_loop()].client
    results: dict[str, list[float]] = {"redis acquire": [], "redis PING (floor)": [],
                                       "local acquire": []}
    clock = time.perf_counter
    # Interleaved in blocks, so a slow patch of the machine hits all three alike.
    for _ in range(max(1, count // 100)):
        for _ in range(100):
            t0 = clock()
            await quota.acquire("GetUser")
            results["redis acquire"].append((clock() - t0) * 1e6)
        for _ in range(100):
            t0 = clock()
            await client.ping()
            results["redis PING (floor)"].append((clock() - t0) * 1e6)
        for _ in range(100):
            t0 = clock()
            await local.acquire("GetUser")
            results["local acquire"].append((clock() - t0) * 1e6)
    assert quota.using_redis, "Redis went away during the benchmark"
    await quota.aclose()
    print(f"acquire latency ({count} calls each, loopback Redis):")
    return {label: _summary(label, values) for label, values in results.items()}


async def pacing(redis_url: str, processes: int, creates: int, rate: str) -> dict[str, float]:
    """Elapsed time of ``processes`` x ``creates`` paced creates against the ideal."""
    quota = parse_quota(rate)
    async with FakeClerk(secret_key=KEY, rate_limit=quota, require_identifier=False) as fake:
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", WORKER, fake.base_url, KEY, redis_url, rate,
                str(creates), f"p{n}",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )
            for n in range(processes)
        ]
        for worker in workers:
            assert worker.stdout is not None
            await worker.stdout.readline()
        outputs = await asyncio.gather(*(w.communicate(b"go\n") for w in workers))
        rejected = fake.stats.rate_limited
    results = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    elapsed = max(r["finished"] for r in results) - min(r["started"] for r in results)
    total = processes * creates
    ideal = total / quota.requests * quota.period
    ratio = elapsed / ideal
    print(
        f"pacing: {processes} processes x {creates} creates at {rate}: {elapsed:.3f} s "
        f"(ideal {ideal:.3f} s, ratio {ratio:.3f}), 429s seen by the server: {rejected}"
    )
    return {"elapsed_s": elapsed, "ideal_s": ideal, "ratio": ratio, "rate_limited": rejected}


async def main_async(args: argparse.Namespace) -> None:
    binary = find_redis_server()
    if binary is None:
        raise SystemExit("redis-server not found; install it (apt-get install redis-server)")
    server = RedisServer(binary)
    server.start()
    try:
        latency = await acquire_latency(server.url, args.acquires)
        paced = await pacing(server.url, args.processes, args.creates, args.rate)
    finally:
        server.close()
    median_ms = latency["redis acquire"]["median_us"] / 1000
    print(
        f"targets: acquire median {median_ms:.3f} ms (< 0.5 ms: "
        f"{'met' if median_ms < 0.5 else 'MISSED'}); pacing ratio {paced['ratio']:.3f} "
        f"(< 1.10 with no 429: "
        f"{'met' if paced['ratio'] < 1.10 and not paced['rate_limited'] else 'MISSED'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--acquires", type=int, default=5000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--creates", type=int, default=50)
    parser.add_argument("--rate", default="40/1s")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
