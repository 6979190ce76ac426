"""Throughput of FakeClerk serving GET /users/{id}.

The fake runs in its own process pinned to one core (when the OS allows); this
process drives it with a keep-alive aiohttp client at fixed concurrency and
prints requests per second. Usage:

    python benchmarks/bench_fake_server.py [--seconds 5] [--concurrency 32] [--users 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import aiohttp

KEY = "sk_test_bench_0000"


def _pin(pid: int, core: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > core:
        os.sched_setaffinity(pid, {core})


async def _run(seconds: float, concurrency: int, users: int) -> float:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clerk_async.testing",
            "serve",
            "--port",
            "0",
            "--secret-key",
            KEY,
            "--users",
            str(users),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        _pin(server.pid, 0)
        _pin(0, 1)  # keep the client off the server's core when there is a second one
        assert server.stdout is not None
        base_url = server.stdout.readline().split("base_url: ")[1].strip()
        connector = aiohttp.TCPConnector(limit=concurrency)
        headers = {"Authorization": f"Bearer {KEY}"}
        async with aiohttp.ClientSession(
            base_url + "/", connector=connector, headers=headers
        ) as client:
            async with client.get("users", params={"limit": "500"}) as resp:
                ids = [u["id"] for u in await resp.json()]
            done = 0
            deadline = time.perf_counter() + seconds

            async def worker(offset: int) -> None:
                nonlocal done
                i = offset
                while time.perf_counter() < deadline:
                    async with client.get(f"users/{ids[i % len(ids)]}") as resp:
                        await resp.read()
                        assert resp.status == 200
                    done += 1
                    i += 1

            start = time.perf_counter()
            await asyncio.gather(*(worker(i) for i in range(concurrency)))
            return done / (time.perf_counter() - start)
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    rate = asyncio.run(_run(args.seconds, args.concurrency, args.users))
    print(
        f"FakeClerk GET /users/{{id}}: {rate:,.0f} requests/s "
        f"(concurrency {args.concurrency}, {args.seconds:g} s)"
    )


if __name__ == "__main__":
    main()
