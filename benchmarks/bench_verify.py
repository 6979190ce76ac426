"""Session-token verifications per second per core: ``verify_token`` vs PyJWT alone.

    python benchmarks/bench_verify.py [--calls 2000] [--rounds 7]

Three ways to check the same FakeClerk-minted RS256 token, alternating in
blocks of 100 within each round, timed by this process's CPU time
(``time.process_time``, i.e. per core):

* PyJWT alone: ``jwt.decode(token, key, algorithms=["RS256"])`` with the
  public key object already built (the floor: signature plus claim checks);
* ``verify_token`` with ``jwt_key`` (networkless; the key parsed once);
* ``verify_token`` through the JWKS, with the key set already cached (the
  FakeClerk serving it runs in this process and is asked once).

Both of ours also build the ``SessionClaims`` and run the ``azp`` check. The
goal is within 1.3x of PyJWT alone. On a shared machine single rounds are
noisy: read the spread, and rerun with more ``--rounds`` when it is wide.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

WAYS = ("pyjwt decode", "verify_token (jwt_key)", "verify_token (JWKS cached)")
ORIGIN = "https://app.example.com"


async def _measure(calls: int, rounds: int, block: int) -> dict[str, list[float]]:
    import jwt

    from clerk_async import AsyncClerk
    from clerk_async.testing import FakeClerk

    async with FakeClerk(seed=5) as fake:
        token = fake.session_token("user_bench", authorized_party=ORIGIN, expires_in=3600)
        key = fake.tokens.private_key.public_key()
        offline = AsyncClerk(jwt_key=fake.tokens.public_pem)
        online = AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None)
        parties = [ORIGIN]
        await offline.verify_token(token, authorized_parties=parties)
        await online.verify_token(token, authorized_parties=parties)  # fetches the JWKS once

        async def pyjwt(n: int) -> None:
            for _ in range(n):
                jwt.decode(token, key, algorithms=["RS256"])

        def ours(client: AsyncClerk) -> Callable[[int], Awaitable[None]]:
            async def run(n: int) -> None:
                for _ in range(n):
                    await client.verify_token(token, authorized_parties=parties)

            return run

        runners: dict[str, Callable[[int], Awaitable[Any]]] = {
            WAYS[0]: pyjwt, WAYS[1]: ours(offline), WAYS[2]: ours(online),
        }
        per: dict[str, list[float]] = {way: [] for way in WAYS}
        for _ in range(rounds):
            blocks: dict[str, list[float]] = {way: [] for way in WAYS}
            for _ in range(max(1, calls // block)):
                for way, run in runners.items():
                    started = time.process_time()
                    await run(block)
                    blocks[way].append((time.process_time() - started) / block * 1e6)
            for way in WAYS:
                per[way].append(statistics.median(blocks[way]))
        assert fake.stats.requests["GetJWKS"] == 1
        await offline.aclose()
        await online.aclose()
    return per


def measure(calls: int, rounds: int, block: int = 100) -> dict[str, list[float]]:
    """Per-verification CPU microseconds of each way, one median per round."""
    return asyncio.run(_measure(calls, rounds, block))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="per way per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    per = measure(args.calls, args.rounds)
    floor = statistics.median(per[WAYS[0]])
    for way in WAYS:
        us = statistics.median(per[way])
        ratios = [v / f for v, f in zip(per[way], per[WAYS[0]], strict=True)]
        print(f"{way:28s} {us:7.1f} µs  {1e6 / us:8,.0f} /s per core  "
              f"{us / floor:.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
