"""Per-call overhead of the ``clerk_sync`` facade over the same async call.

    python benchmarks/bench_sync_overhead.py [--calls 2000] [--rounds 7]

Runs FakeClerk in a separate process (so the server does not compete for
this process's GIL) and times ``users.get`` three ways, in interleaved rounds:

* async: ``await AsyncClerk.users.get`` in an ``asyncio.run`` loop;
* sync: ``Clerk.users.get`` from the main thread (one portal call each);
* bare portal: ``portal.call`` of a no-op coroutine on the sync client's own
  portal, the floor any portal-based facade pays;
* bare hand-off: the facade's own mechanism (one ``call_soon_threadsafe`` in,
  one future out; see ``clerk_sync._portal._Loop.run``) with a no-op, for
  reference.

The facade's cost is ``sync - async``; the target is at most 1.2x the bare
portal floor, i.e. ``(sync - async) / bare_portal <= 1.2``. Medians of the
rounds are reported. Shared or busy machines make single rounds noisy: look
at the spread, and rerun with more ``--rounds`` if it is wide.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clerk_async import AsyncClerk  # noqa: E402
from clerk_sync import Clerk  # noqa: E402

KEY = "sk_test_bench_sync_overhead_0000000000"


@contextmanager
def fake_server() -> Iterator[str]:
    """A FakeClerk in a child process with one user; yields its base URL."""
    command = [
        sys.executable, "-m", "clerk_async.testing", "serve",
        "--port", "0", "--secret-key", KEY, "--users", "1",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("FakeClerk base_url:"):
                yield line.split(":", 1)[1].strip()
                break
        else:
            raise RuntimeError("FakeClerk did not start")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def per_call_us(fn: Callable[[], None], calls: int) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) / calls * 1e6


async def _noop() -> None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    calls: int = options.calls

    with fake_server() as base_url:
        clerk = Clerk(secret_key=KEY, base_url=base_url, rate_limit=None, retry=None)
        user_id = clerk.users.list(limit=1)[0].id
        loop = clerk._runner._loop
        assert loop is not None
        portal = loop.portal

        async def async_calls(client: AsyncClerk) -> None:
            for _ in range(calls):
                await client.users.get(user_id)

        async def async_round() -> float:
            async with AsyncClerk(
                secret_key=KEY, base_url=base_url, rate_limit=None, retry=None
            ) as client:
                await client.users.get(user_id)  # session and connection warm
                started = time.perf_counter()
                await async_calls(client)
                return (time.perf_counter() - started) / calls * 1e6

        def sync_calls() -> None:
            for _ in range(calls):
                clerk.users.get(user_id)

        def bare_calls() -> None:
            for _ in range(calls):
                portal.call(_noop)

        def handoff_calls() -> None:
            assert loop is not None
            for _ in range(calls):
                loop.run(_noop)

        results: dict[str, list[float]] = {
            "async": [], "sync": [], "bare portal": [], "bare hand-off": []
        }
        for _ in range(options.rounds):
            results["async"].append(asyncio.run(async_round()))
            results["sync"].append(per_call_us(sync_calls, calls))
            results["bare portal"].append(per_call_us(bare_calls, calls))
            results["bare hand-off"].append(per_call_us(handoff_calls, calls))
        clerk.close()

    median = {name: statistics.median(values) for name, values in results.items()}
    print(f"users.get against FakeClerk (other process), {calls} calls x {options.rounds} rounds")
    for name, value in median.items():
        spread = f"{min(results[name]):.1f}..{max(results[name]):.1f}"
        print(f"  {name:<14} {value:8.1f} us/call   (rounds {spread})")
    overhead = median["sync"] - median["async"]
    ratio = overhead / median["bare portal"]
    print(f"  facade overhead (sync - async): {overhead:.1f} us/call")
    print(f"  (sync - async) / bare_portal = {ratio:.2f}   (target <= 1.20)")


if __name__ == "__main__":
    main()
