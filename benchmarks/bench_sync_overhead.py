"""Per-call overhead of the ``clerk_sync`` facade over the same async call.

    python benchmarks/bench_sync_overhead.py [--calls 2000] [--rounds 7]

Runs FakeClerk in a separate process (so the server does not compete for
this process's GIL) and times ``users.get`` four ways, alternating in blocks
of 100 calls within each round, by wall time and by this process's CPU time
(all threads). ``benchmarks/run.py`` calls :func:`measure` against a
canned-response server instead, whose speed does not drift:

* async: ``await AsyncClerk.users.get`` in an event loop on this thread;
* sync: ``Clerk.users.get`` from the main thread (one portal call each);
* bare portal: ``portal.call`` of a no-op coroutine on the sync client's own
  portal, the floor any portal-based facade pays;
* bare hand-off: the facade's own mechanism (one ``call_soon_threadsafe`` in,
  one future out; see ``clerk_sync._portal._Loop.run``) with a no-op, for
  reference.

The facade's cost is ``sync - async``; the target is at most 1.2x the bare
portal floor, i.e. ``(sync - async) / bare_portal <= 1.2``. Medians of the
rounds are reported; CPU time is the steadier of the two on a busy machine.
Shared or busy machines make single rounds noisy: look at the spread, and
rerun with more ``--rounds`` if it is wide.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

from _common import fake_server, pin

from clerk_async import AsyncClerk
from clerk_sync import Clerk


async def _noop() -> None:
    return None


def measure(
    base_url: str, key: str, calls: int, rounds: int, block: int = 100,
    user_id: str | None = None,
) -> dict[str, list[float]]:
    """Per-call microseconds of each way, one value per round.

    Within a round the ways alternate in blocks of ``block`` calls (the
    server's speed drifts over seconds, more than the facade costs), and a
    round's value for a way is the median over its blocks.
    """
    clerk = Clerk(secret_key=key, base_url=base_url, rate_limit=None, retry=None)
    if user_id is None:
        user_id = clerk.users.list(limit=1)[0].id
    else:
        clerk.users.get(user_id)  # starts the portal
    loop = clerk._runner._loop
    assert loop is not None
    portal = loop.portal
    aio = asyncio.new_event_loop()
    client = AsyncClerk(secret_key=key, base_url=base_url, rate_limit=None, retry=None)

    async def async_block(n: int) -> None:
        for _ in range(n):
            await client.users.get(user_id)

    def async_calls(n: int) -> None:
        aio.run_until_complete(async_block(n))

    def sync_calls(n: int) -> None:
        for _ in range(n):
            clerk.users.get(user_id)

    def bare_calls(n: int) -> None:
        for _ in range(n):
            portal.call(_noop)

    def handoff_calls(n: int) -> None:
        assert loop is not None
        for _ in range(n):
            loop.run(_noop)

    ways: dict[str, Callable[[int], None]] = {
        "async": async_calls, "sync": sync_calls,
        "bare portal": bare_calls, "bare hand-off": handoff_calls,
    }
    results: dict[str, list[float]] = {name: [] for name in ways}
    results.update({f"{name} (CPU)": [] for name in ways})
    try:
        for fn in ways.values():  # warm: connections, hooks
            fn(10)
        blocks = max(calls // block, 1)
        for _ in range(rounds):
            per: dict[str, list[float]] = {name: [] for name in results}
            for _ in range(blocks):
                for name, fn in ways.items():
                    cpu = time.process_time()
                    started = time.perf_counter()
                    fn(block)
                    per[name].append((time.perf_counter() - started) / block * 1e6)
                    per[f"{name} (CPU)"].append((time.process_time() - cpu) / block * 1e6)
            for name, values in per.items():
                results[name].append(statistics.median(values))
    finally:
        clerk.close()
        aio.run_until_complete(client.aclose())
        aio.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    calls: int = options.calls

    with fake_server(users=1) as server:
        pin(0, 1)  # keep this process off the server's core when there is a second one
        results = measure(server.base_url, server.secret_key, calls, options.rounds)

    median = {name: statistics.median(values) for name, values in results.items()}
    print(f"users.get against FakeClerk (other process), {calls} calls x {options.rounds} rounds")
    for name, value in median.items():
        spread = f"{min(results[name]):.1f}..{max(results[name]):.1f}"
        print(f"  {name:<14} {value:8.1f} us/call   (rounds {spread})")
    for suffix in ("", " (CPU)"):
        overhead = median["sync" + suffix] - median["async" + suffix]
        ratio = overhead / median["bare portal" + suffix]
        print(f"  facade overhead{suffix} (sync - async): {overhead:.1f} us/call, "
              f"/ bare portal = {ratio:.2f}   (target <= 1.20)")


if __name__ == "__main__":
    main()
