"""Throughput of FakeClerk serving GET /users/{id}.

The fake runs in its own process pinned to one core (when the OS allows); this
process drives it with a keep-alive aiohttp client at fixed concurrency and
prints requests per second. Usage:

    python benchmarks/bench_fake_server.py [--seconds 5] [--concurrency 32] [--users 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
from _common import fake_server, pin


async def _drive(base_url: str, key: str, seconds: float, concurrency: int) -> float:
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
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


def _run(seconds: float, concurrency: int, users: int) -> float:
    with fake_server(users=users, core=0) as server:
        pin(0, 1)  # keep the client off the server's core when there is a second one
        return asyncio.run(_drive(server.base_url, server.secret_key, seconds, concurrency))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    rate = _run(args.seconds, args.concurrency, args.users)
    print(
        f"FakeClerk GET /users/{{id}}: {rate:,.0f} requests/s "
        f"(concurrency {args.concurrency}, {args.seconds:g} s)"
    )


if __name__ == "__main__":
    main()
