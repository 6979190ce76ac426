"""CPU to fetch and decode a page of users: ours against bare aiohttp.

A canned HTTP server (its own process, pinned away from the client when the
machine has two cores) answers every GET with the same page of full users.
Each contender runs in a fresh child process: a few warm-up fetches, then
``pages`` timed fetches; the child reports its own CPU time per page
(``time.process_time``, so time spent waiting for the server or for a
neighbour's process is not counted). Contenders alternate round by round and
the table gives medians with the interquartile range.

- ours: ``AsyncClerk.users.list(limit=N)`` (fetch, parse, decode to models),
  with orjson and with it blocked (``json.loads``);
- bare aiohttp: ``session.get`` + ``json.loads`` (the floor) or ``orjson.loads``.

The cyclic garbage collector is on for every contender: the SDK never touches
it (it used to pause it around parse and decode; see tests/test_decode_gc.py).

With ``--before DIR`` (another checkout) or ``--before-ref REF`` (a commit of
this repository, exported to a temporary directory with ``git archive``, e.g.
the merge base of a branch to compare the decoders it replaced) our two
contenders also run from there, for a before/after on the same machine and rounds.

Run standalone: ``python benchmarks/bench_page_decode.py [--users 500] [--rounds 7]``;
``benchmarks/run.py`` calls :func:`measure` and :func:`render`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import KEY, ROOT, canned_server, exported, full_user_page
from _report import table
from bench_cold_start import child_env, iqr

FLOOR = "bare aiohttp + json.loads"

_CHILD = """
import asyncio, json, os, sys, time
URL, KEY, PAGES, USERS, MODE = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
    os.sched_setaffinity(0, {1})  # the server is on core 0
# MODE: "<who>-<parser>"
PARSER = MODE.split("-")[1]
if PARSER == "json":
    sys.modules["orjson"] = None  # as if orjson were not installed

async def ours():
    from clerk_async import AsyncClerk, _json
    # The parser must be the one the mode names.
    assert (_json._orjson is None) == (PARSER == "json"), MODE
    async with AsyncClerk(secret_key=KEY, base_url=URL, rate_limit=None) as clerk:
        async def fetch():
            return await clerk.users.list(limit=int(USERS))
        return await timed(fetch)

async def bare():
    import aiohttp
    if PARSER == "json":
        loads = json.loads
    else:
        import orjson
        loads = orjson.loads
    headers = {"Authorization": "Bearer " + KEY}
    async with aiohttp.ClientSession(headers=headers) as session:
        async def fetch():
            async with session.get(URL + "/users", params={"limit": USERS}) as response:
                response.raise_for_status()
                return loads(await response.read())
        return await timed(fetch)

async def timed(fetch):
    for _ in range(3):
        assert len(await fetch()) == int(USERS)
    started = time.process_time()
    for _ in range(PAGES):
        await fetch()
    return (time.process_time() - started) / PAGES * 1e3

print(asyncio.run(ours() if MODE.startswith("ours") else bare()))
"""


def contenders() -> dict[str, str]:
    """Display name -> child mode."""
    found = {"ours, orjson": "ours-orjson", "ours, json": "ours-json", FLOOR: "bare-json"}
    if importlib.util.find_spec("orjson") is not None:
        found["bare aiohttp + orjson.loads"] = "bare-orjson"
    else:
        del found["ours, orjson"]
    return found


@dataclass
class PageDecode:
    users: int
    rounds: int
    pages: int
    body_bytes: int
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(self.cpu_ms[name])

    def ratio(self, name: str, against: str = FLOOR) -> float:
        """Median of the per-round ratios (contenders of one round share its noise)."""
        pairs = zip(self.cpu_ms[name], self.cpu_ms[against], strict=True)
        return statistics.median(a / b for a, b in pairs)

    def spread(self, name: str) -> tuple[float, float]:
        return iqr(self.cpu_ms[name])


def _child(url: str, pages: int, users: int, mode: str, cwd: Path) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, url, KEY, str(pages), str(users), mode],
        capture_output=True, text=True, cwd=cwd, env=child_env(), check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"page-decode child ({mode}) failed:\n{proc.stderr[-2000:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def measure(users: int = 500, rounds: int = 7, pages: int = 10,
            before: Path | None = None) -> PageDecode:
    programs = {name: (mode, ROOT) for name, mode in contenders().items()}
    if before is not None:
        for name, mode in contenders().items():
            if name.startswith("ours"):
                programs[name.replace("ours", "before")] = (mode, before)
    body = full_user_page(users)
    result = PageDecode(users=users, rounds=rounds, pages=pages, body_bytes=len(body))
    with canned_server(body, core=0) as url:
        for n in range(rounds):
            names = list(programs)
            names = names[n % len(names):] + names[: n % len(names)]
            for name in names:
                mode, cwd = programs[name]
                result.cpu_ms.setdefault(name, []).append(_child(url, pages, users, mode, cwd))
    return result


def render(result: PageDecode) -> str:
    has_orjson = "bare aiohttp + orjson.loads" in result.cpu_ms
    header = ["contender", "CPU per page, ms (IQR)", f"vs {FLOOR}"]
    if has_orjson:
        header.append("vs bare aiohttp + orjson.loads")
    rows = []
    for name in result.cpu_ms:
        lo, hi = result.spread(name)
        cells = [name, f"{result.median(name):.2f} ({lo:.2f} to {hi:.2f})",
                 f"{result.ratio(name):.2f}x"]
        if has_orjson:
            cells.append(f"{result.ratio(name, 'bare aiohttp + orjson.loads'):.2f}x")
        rows.append(cells)
    return (
        f"Fetch + decode of a page of {result.users} full users "
        f"({result.body_bytes / 1e6:.2f} MB) from a canned local server; the client "
        f"process's CPU time per page, median of {result.rounds} alternated rounds of "
        f"{result.pages} pages, each round a fresh process per contender. Ratios are "
        "medians of per-round ratios. The garbage collector is on for every contender "
        "(the SDK leaves it alone).\n\n"
        + table(header, rows)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--before", type=Path, default=None,
                        help="another checkout (e.g. of main) to measure side by side")
    parser.add_argument("--before-ref", default=None,
                        help="a commit (e.g. `git merge-base HEAD main`) to export and compare")
    parser.add_argument("--json", action="store_true", help="print raw samples as JSON")
    args = parser.parse_args(argv)
    with exported(args.before_ref) as at_ref:
        result = measure(args.users, args.rounds, args.pages, at_ref or args.before)
    print(json.dumps(result.cpu_ms) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
