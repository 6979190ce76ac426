"""Cold start: a fresh process that imports a client, builds it and reads one user.

Each contender runs in its own fresh interpreter against the same canned
HTTP server (one full user as the body), in alternated rounds so that a
noisy neighbour hurts every contender alike. Inside the child, four phases
are timed with ``perf_counter``:

- import: the imports a program needs to make the call;
- construct: building the client (or ``aiohttp.ClientSession``);
- request: the first request, up to the body's bytes (loop start included);
- decode: turning the first body into objects (``json.loads`` for bare aiohttp).

``total`` is their sum; the table also gives each contender's total minus
bare aiohttp + ``json.loads`` (the goal is at most +30 ms), and the wall time
the parent saw (interpreter start and exit included).

Bytecode caches are on, as in a deployed program: before any timed round the
project's packages are byte-compiled (``compileall``) and every contender runs
once untimed, which writes the ``.pyc`` files of everything it imports. The
children run without ``PYTHON*`` variables, and the benchmark refuses to run
when ``PYTHONDONTWRITEBYTECODE`` is set (each import would compile its source,
adding tens of milliseconds that no deployed program pays).

Run standalone: ``python benchmarks/bench_cold_start.py [--rounds N] [--importtime]``
(``--before DIR`` or ``--before-ref REF`` adds our contenders from another
checkout or commit, e.g. ``--before-ref $(git merge-base HEAD main)``);
``benchmarks/run.py`` calls :func:`measure` and :func:`render`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import KEY, ROOT, canned_server, exported, full_user_page
from _report import table

PHASES = ("import", "construct", "request", "decode")
BASELINE = "bare aiohttp + json.loads"
USER_ID = "user_" + "0" * 27

# Every child prints one JSON line: {phase: milliseconds}. ``T`` marks phase ends.
_PRELUDE = """
import sys, time, json
_t = [time.perf_counter()]
def T():
    _t.append(time.perf_counter())
URL, KEY, UID = sys.argv[1], sys.argv[2], sys.argv[3]
"""
_REPORT = """
print(json.dumps({n: (b - a) * 1e3 for n, a, b in zip(
    ("import", "construct", "request", "decode"), _t, _t[1:])}))
"""

# Ours: imports end at T(); the request phase ends where our decode starts.
_TIME_DECODE = """import clerk_async.resources._base as _base
T()
_decode = _base.decode
def _timed(*args):
    _t.append(time.perf_counter())
    return _decode(*args)
_base.decode = _timed
"""

_OURS_ASYNC = """
import asyncio
from clerk_async import AsyncClerk
{time_decode}
async def main():
    clerk = AsyncClerk(secret_key=KEY, base_url=URL)
    T()
    async with clerk:
        user = await clerk.users.get(UID)
        T()
    assert user.id == UID
asyncio.run(main())
"""

_OURS_SYNC = """
from clerk_sync import Clerk
{time_decode}clerk = Clerk(secret_key=KEY, base_url=URL)
T()
user = clerk.users.get(UID)
T()
clerk.close()
assert user.id == UID
"""

_BARE = """
import asyncio
import aiohttp
from {module} import loads
T()

async def main():
    session = aiohttp.ClientSession(headers={{"Authorization": "Bearer " + KEY}})
    T()
    async with session:
        async with session.get(URL + "/users/" + UID) as response:
            response.raise_for_status()
            body = await response.read()
        T()
        user = loads(body)
        T()
    assert user["id"] == UID
asyncio.run(main())
"""

# The official SDK is synchronous and decodes inside the call: request and
# decode are one phase for it (reported under "request").
_OFFICIAL = """
import clerk_backend_api
T()
clerk = clerk_backend_api.Clerk(bearer_auth=KEY, server_url=URL)
T()
user = clerk.users.get(user_id=UID)
T()
T()
assert user.id == UID
"""


def contenders() -> dict[str, str]:
    """Name -> child program (without prelude/report); the official SDK if installed."""
    found = {
        "ours: clerk_async.AsyncClerk": _OURS_ASYNC.format(time_decode=_TIME_DECODE),
        "ours: clerk_sync.Clerk": _OURS_SYNC.format(time_decode=_TIME_DECODE),
        BASELINE: _BARE.format(module="json"),
    }
    if importlib.util.find_spec("orjson") is not None:
        found["bare aiohttp + orjson.loads"] = _BARE.format(module="orjson")
    if importlib.util.find_spec("clerk_backend_api") is not None:
        found["official: clerk-backend-api"] = _OFFICIAL
    return found


@dataclass
class ColdStart:
    """Per contender: phase -> list of ms (one per round), plus parent-side wall ms."""

    rounds: int
    phases: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def median(self, name: str, phase: str = "total") -> float:
        return statistics.median(self._series(name, phase))

    def spread(self, name: str, phase: str = "total") -> tuple[float, float]:
        return iqr(self._series(name, phase))

    def _series(self, name: str, phase: str) -> list[float]:
        if phase == "wall":
            return self.wall[name]
        if phase == "cpu":
            return self.cpu[name]
        if phase == "total":
            by_phase = self.phases[name]
            return [sum(values) for values in zip(*(by_phase[p] for p in PHASES), strict=True)]
        return self.phases[name][phase]

    def over_baseline(self, name: str) -> float:
        """Median of the per-round differences of totals against bare aiohttp + json.loads."""
        ours, base = self._series(name, "total"), self._series(BASELINE, "total")
        return statistics.median(a - b for a, b in zip(ours, base, strict=True))


def iqr(values: list[float]) -> tuple[float, float]:
    """Interquartile range (25th, 75th percentile)."""
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def require_bytecode_caches() -> None:
    """Refuse, loudly, to time cold starts in a shell that disables bytecode caches."""
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        raise SystemExit(
            "PYTHONDONTWRITEBYTECODE is set: cold-start numbers would include compiling "
            "every module. Run with `env -u PYTHONDONTWRITEBYTECODE ...`."
        )


def write_bytecode(*roots: Path) -> None:
    """Byte-compile our packages (and, via the untimed warm-up runs, all they import)."""
    packages = [str(root / name) for root in roots for name in ("clerk_async", "clerk_sync")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages],
                   env=child_env(), check=True, capture_output=True)


def child_env() -> dict[str, str]:
    # No PYTHON* variables (e.g. PYTHONDONTWRITEBYTECODE would compile every run).
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_child(code: str, url: str, cwd: Path = ROOT) -> tuple[dict[str, float], float, float]:
    """Phases (ms) as the child timed them, and the parent's wall and CPU ms of the child."""
    cpu_before, started = _children_cpu(), time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PRELUDE + code + _REPORT, url, KEY, USER_ID],
        capture_output=True, text=True, cwd=cwd, env=child_env(), check=False,
    )
    wall = (time.perf_counter() - started) * 1e3
    cpu = (_children_cpu() - cpu_before) * 1e3
    if proc.returncode != 0:
        raise RuntimeError(f"cold-start child failed:\n{proc.stderr[-2000:]}")
    phases: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return phases, wall, cpu


def user_body() -> bytes:
    """One full user (every nested list filled), as ``GET /users/{id}`` returns it."""
    page = json.loads(full_user_page(1))
    return json.dumps(page[0], separators=(",", ":")).encode()


def measure(rounds: int = 15, before: Path | None = None) -> ColdStart:
    """Alternated rounds of every contender in fresh processes (after one warm-up each,
    which also writes the .pyc files).

    ``before``: another checkout of this project (e.g. ``main``); its two SDK
    contenders run too, importing from there (the child's working directory
    comes first on ``sys.path``), for a side-by-side before/after.
    """
    require_bytecode_caches()
    programs = {name: (code, ROOT) for name, code in contenders().items()}
    if before is not None:
        for name, code in contenders().items():
            if name.startswith("ours"):
                programs[name.replace("ours", "before")] = (code, before)
    write_bytecode(ROOT, *([before] if before is not None else []))
    result = ColdStart(rounds=rounds)
    with canned_server(user_body(), core=None) as url:
        for code, cwd in programs.values():  # untimed: writes every .pyc the child imports
            _run_child(code, url, cwd)
        for n in range(rounds):
            # Rotate the order each round: no contender always runs first.
            names = list(programs)
            names = names[n % len(names):] + names[: n % len(names)]
            for name in names:
                phases, wall, cpu = _run_child(*programs[name][:1], url, programs[name][1])
                per = result.phases.setdefault(name, {p: [] for p in PHASES})
                for p in PHASES:
                    per[p].append(phases.get(p, 0.0))
                result.wall.setdefault(name, []).append(wall)
                result.cpu.setdefault(name, []).append(cpu)
    return result


def render(result: ColdStart) -> str:
    """A markdown table: median phases, total with its IQR, and the gap to bare aiohttp."""
    header = ["contender", *PHASES, "total (IQR)", "vs bare", "process wall", "process CPU"]
    rows = []
    for name in result.phases:
        lo, hi = result.spread(name)
        cells = [name, *(f"{result.median(name, p):.1f}" for p in PHASES)]
        cells.append(f"{result.median(name):.1f} ({lo:.1f} to {hi:.1f})")
        cells.append("-" if name == BASELINE else f"{result.over_baseline(name):+.1f}")
        cells.append(f"{result.median(name, 'wall'):.1f}")
        cells.append(f"{result.median(name, 'cpu'):.1f}")
        rows.append(cells)
    return (
        f"Milliseconds, median of {result.rounds} alternated rounds, each a fresh "
        "process; *vs bare* is the median per-round difference of totals against "
        f"{BASELINE}. *Process* columns are the parent's view of the whole child "
        "(interpreter start and exit included; CPU is user + system). Bytecode caches "
        "on: written (compileall and one untimed run per contender) before timing.\n\n"
        + table(header, rows)
    )


def import_breakdown(runs: int = 5, top: int = 12) -> str:
    """``python -X importtime`` for our async cold path: the slowest modules (cumulative
    microseconds, median of ``runs``), to see where import time goes."""
    code = (
        "from clerk_async import AsyncClerk; import clerk_async.resources.users; "
        "from clerk_async._convert import structure"
    )
    samples: dict[str, list[int]] = {}
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            capture_output=True, text=True, cwd=ROOT, env=child_env(), check=True,
        )
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            parts = line.split(":", 1)[1].split("|")  # self us | cumulative us | name
            samples.setdefault(parts[2].strip(), []).append(int(parts[1]))
    med = {name: statistics.median(v) for name, v in samples.items() if len(v) == runs}
    ranked = sorted(med.items(), key=lambda item: -item[1])[:top]
    lines = ["| module | cumulative ms |", "|---|---|"]
    lines += [f"| `{name}` | {us / 1000:.1f} |" for name, us in ranked]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--importtime", action="store_true",
                        help="also print the -X importtime breakdown of our cold path")
    parser.add_argument("--json", action="store_true", help="print raw samples as JSON")
    parser.add_argument("--before", type=Path, default=None,
                        help="another checkout (e.g. of main) to measure side by side")
    parser.add_argument("--before-ref", default=None,
                        help="a commit (e.g. `git merge-base HEAD main`) to export and compare")
    args = parser.parse_args(argv)
    with exported(args.before_ref) as at_ref:
        result = measure(args.rounds, at_ref or args.before)
    if args.json:
        print(json.dumps({"phases": result.phases, "wall": result.wall}))
    else:
        print(render(result))
    if args.importtime:
        print()
        print(import_breakdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
