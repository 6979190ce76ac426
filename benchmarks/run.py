"""Side-by-side benchmarks against Clerk's official Python SDK; writes RESULTS.md and results.png.

    python benchmarks/run.py            # full run (several minutes), writes the report
    python benchmarks/run.py --quick    # smoke run (< 1 minute), writes into --out (a temp dir)

Sections (each in one process run, contenders alternated, several rounds,
medians reported):

1. client CPU per request (``time.process_time`` of this process; FakeClerk
   in its own process on another core): ``GET /users/{id}`` and ``POST /users``
   at concurrency 1 and 64;
2. decoding a 500-user page of full user objects from bytes to models;
3. import time, in fresh interpreters, less bare interpreter start-up;
4. the sync facade's overhead over the async call, next to a bare portal call;
5. bulk import pacing at a scaled quota: elapsed / ideal and 429s;
6. peak RSS growth while ``users.iter`` walks every user of a large FakeClerk.

Contenders from ``clerk-backend-api`` (the ``bench`` extra) are skipped with a
note when it is not installed. Targets are reported as pass/miss; the exit
status is 0 unless the benchmark itself fails.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_bulk_import  # noqa: E402
import bench_sync_overhead  # noqa: E402
from _common import (  # noqa: E402
    ROOT,
    Server,
    canned_server,
    fake_server,
    full_user_page,
    median,
    official_sdk,
    pin,
)

# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    rounds: int
    cpu_requests: int  # per contender per round (ours and the floor)
    cpu_requests_official: int  # the official SDK is ~50x slower: fewer requests
    decode_pages: int  # pages decoded per contender per round
    import_runs: int
    sync_calls: int
    bulk_rows: int
    bulk_rate: str
    iter_users: int


FULL = Settings(
    rounds=5, cpu_requests=2000, cpu_requests_official=256, decode_pages=6,
    import_runs=20, sync_calls=2000, bulk_rows=600, bulk_rate="100/2s", iter_users=100_000,
)
QUICK = Settings(
    rounds=2, cpu_requests=200, cpu_requests_official=32, decode_pages=1,
    import_runs=3, sync_calls=300, bulk_rows=150, bulk_rate="50/1s", iter_users=5_000,
)
CONCURRENCIES = (1, 64)


@dataclass
class Target:
    name: str
    measured: str
    goal: str
    ok: bool | None  # None: not measured (contender missing)
    ratio: float | None = None  # measured / limit, for the chart (<= 1 passes)


@dataclass
class Report:
    quick: bool
    notes: list[str] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)  # (title, markdown)
    targets: list[Target] = field(default_factory=list)
    chart: dict[str, dict[str, float]] = field(default_factory=dict)

    def log(self, text: str) -> None:
        print(text, flush=True)


def _fmt(value: float, unit: str = "") -> str:
    if value >= 100:
        text = f"{value:,.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- 1. client CPU


Batch = Callable[[int], None]  # run n requests, blocking


class _Counter:
    """Unique emails for POST /users across contenders, rounds and threads."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._n += 1
            return self._n


def _async_batch(
    loop: asyncio.AbstractEventLoop, call: Callable[[], Awaitable[Any]], concurrency: int
) -> Batch:
    async def worker(count: int) -> None:
        for _ in range(count):
            await call()

    async def run_all(n: int) -> None:
        share = [n // concurrency + (i < n % concurrency) for i in range(concurrency)]
        await asyncio.gather(*(worker(c) for c in share if c))

    def run(n: int) -> None:
        loop.run_until_complete(run_all(n))

    return run


def _sync_batch(
    pool: ThreadPoolExecutor | None, call: Callable[[], Any], concurrency: int
) -> Batch:
    def worker(count: int) -> None:
        for _ in range(count):
            call()

    def run(n: int) -> None:
        if pool is None:
            worker(n)
            return
        share = [n // concurrency + (i < n % concurrency) for i in range(concurrency)]
        list(pool.map(worker, share))

    return run


def _cpu_contenders(
    server: Server, loop: asyncio.AbstractEventLoop, op: str, concurrency: int,
    pools: dict[int, ThreadPoolExecutor], user_ids: list[str], counter: _Counter,
    clients: dict[str, Any],
) -> dict[str, Batch]:
    """name -> batch runner for one (operation, concurrency)."""
    pool = pools.get(concurrency)
    ids = user_ids
    body = {"first_name": "Bench", "last_name": "User"}

    def next_id() -> str:
        return ids[counter() % len(ids)]

    def next_email() -> str:
        return f"cpu{counter()}@example.com"

    contenders: dict[str, Batch] = {}
    ours_async = clients["ours async"]
    ours_sync = clients["ours sync"]
    session = clients["bare aiohttp"]
    if op == "get":
        async def a_ours() -> Any:
            return await ours_async.users.get(next_id())

        def s_ours() -> Any:
            return ours_sync.users.get(next_id())

        async def a_bare() -> Any:
            async with session.get(f"{server.base_url}/users/{next_id()}") as resp:
                return json.loads(await resp.read())
    else:
        async def a_ours() -> Any:
            return await ours_async.users.create(email_address=[next_email()], **body)

        def s_ours() -> Any:
            return ours_sync.users.create(email_address=[next_email()], **body)

        async def a_bare() -> Any:
            payload = json.dumps({"email_address": [next_email()], **body})
            async with session.post(
                f"{server.base_url}/users", data=payload,
                headers={"Content-Type": "application/json"},
            ) as resp:
                return json.loads(await resp.read())

    contenders["bare aiohttp + json.loads"] = _async_batch(loop, a_bare, concurrency)
    contenders["ours (async)"] = _async_batch(loop, a_ours, concurrency)
    contenders["ours (sync facade)"] = _sync_batch(pool, s_ours, concurrency)
    official = clients.get("official")
    if official is not None:
        if op == "get":
            async def a_off() -> Any:
                return await official.users.get_async(user_id=next_id())

            def s_off() -> Any:
                return official.users.get(user_id=next_id())
        else:
            async def a_off() -> Any:
                return await official.users.create_async(email_address=[next_email()], **body)

            def s_off() -> Any:
                return official.users.create(email_address=[next_email()], **body)
        contenders["official (async)"] = _async_batch(loop, a_off, concurrency)
        contenders["official (sync)"] = _sync_batch(pool, s_off, concurrency)
    return contenders


def section_cpu(report: Report, cfg: Settings) -> None:
    import aiohttp

    from clerk_async import AsyncClerk
    from clerk_sync import Clerk

    sdk = official_sdk()
    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    with fake_server(users=200, core=0) as server:
        pin(0, 1)
        loop = asyncio.new_event_loop()
        pools = {c: ThreadPoolExecutor(c) for c in CONCURRENCIES if c > 1}
        counter = _Counter()

        async def make_async() -> tuple[Any, Any]:
            ours = AsyncClerk(secret_key=server.secret_key, base_url=server.base_url,
                              rate_limit=None)
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100),
                headers={"Authorization": f"Bearer {server.secret_key}"},
            )
            return ours, session

        ours_async, session = loop.run_until_complete(make_async())
        clients: dict[str, Any] = {
            "ours async": ours_async,
            "bare aiohttp": session,
            "ours sync": Clerk(secret_key=server.secret_key, base_url=server.base_url,
                               rate_limit=None),
        }
        if sdk is not None:
            clients["official"] = sdk.Clerk(bearer_auth=server.secret_key,
                                            server_url=server.base_url)
        user_ids = [u.id for u in clients["ours sync"].users.list(limit=200)]
        try:
            for op in ("get", "create"):
                for concurrency in CONCURRENCIES:
                    contenders = _cpu_contenders(
                        server, loop, op, concurrency, pools, user_ids, counter, clients
                    )
                    per = {name: [] for name in contenders}
                    for batch in contenders.values():  # warm: connections, hooks, caches
                        batch(min(concurrency * 2, 128))
                    for _ in range(cfg.rounds):
                        for name, batch in contenders.items():
                            n = (cfg.cpu_requests_official if name.startswith("official")
                                 else cfg.cpu_requests)
                            gc.collect()
                            started = time.process_time()
                            batch(n)
                            per[name].append((time.process_time() - started) / n * 1e6)
                    results[(op, concurrency)] = per
                    report.log(f"  cpu {op} c={concurrency}: " + ", ".join(
                        f"{k}={median(v):.0f}us" for k, v in per.items()))
        finally:
            async def close() -> None:
                await ours_async.aclose()
                await session.close()
                if "official" in clients:
                    await clients["official"].sdk_configuration.async_client.aclose()

            loop.run_until_complete(close())
            loop.close()
            clients["ours sync"].close()
            if "official" in clients:
                clients["official"].sdk_configuration.client.close()
            for pool in pools.values():
                pool.shutdown()

    labels = {"get": "GET /users/{id}", "create": "POST /users"}
    names = list(next(iter(results.values())))
    headers = ["request", "concurrency", *names, "ours / bare", "official / ours"]
    rows = []
    for (op, concurrency), per in results.items():
        med = {k: median(v) for k, v in per.items()}
        bare = med["bare aiohttp + json.loads"]
        ours = med["ours (async)"]
        vs_official = f"{med['official (async)'] / ours:.1f}x" if sdk else "n/a"
        rows.append([labels[op], str(concurrency), *(_fmt(med[k], "µs") for k in names),
                     f"{ours / bare:.2f}x", vs_official])
        scenario = f"{labels[op]}, c={concurrency}"
        report.targets.append(Target(
            f"CPU/request ours (async) vs bare aiohttp, {scenario}",
            f"{ours / bare:.2f}x", "<= 1.5x", ours / bare <= 1.5, (ours / bare) / 1.5,
        ))
        report.chart.setdefault("ours (async) / bare aiohttp", {})[scenario] = ours / bare
        if sdk:
            for kind in ("async", "sync"):
                ratio = med[f"ours ({'async' if kind == 'async' else 'sync facade'})"] / med[
                    f"official ({kind})"]
                report.targets.append(Target(
                    f"CPU/request ours ({kind}) vs official ({kind}), {scenario}",
                    f"1/{1 / ratio:.0f}", "<= 1/10", ratio <= 0.1, ratio / 0.1,
                ))
            report.chart.setdefault("official (async) / ours (async)", {})[scenario] = (
                med["official (async)"] / ours)
        else:
            report.targets.append(Target(f"CPU/request ours vs official, {scenario}",
                                         "not measured", "<= 1/10", None))
    text = (
        "Client process CPU time (`time.process_time`, all threads) per request, "
        "median of rounds. FakeClerk runs in its own process pinned to another core. "
        f"{cfg.rounds} rounds; {cfg.cpu_requests} requests per contender per round "
        f"({cfg.cpu_requests_official} for the official SDK). Our clients run with "
        "`rate_limit=None` (no pacing) and default retries; the official SDK with its "
        "defaults. Concurrency 64 is 64 tasks (async) or 64 threads (sync).\n\n"
        + _table(headers, rows)
    )
    report.sections.append(("1. Client CPU per request", text))


# --------------------------------------------------------------------------- 2. decoding


def section_decode(report: Report, cfg: Settings) -> None:
    from clerk_async.models import User
    from clerk_async.resources._base import decode

    page = full_user_page(500)
    contenders: dict[str, Callable[[], Any]] = {
        "json.loads (floor)": lambda: json.loads(page),
        "ours: loads + structure(list[User])": lambda: decode(page, list[User], "GET", "/users"),
    }
    try:
        import orjson

        contenders["orjson.loads (our parser)"] = lambda: orjson.loads(page)
    except ImportError:
        report.notes.append("orjson is not installed: our decode uses json.loads")
    sdk = official_sdk()
    if sdk is not None:
        from typing import List  # noqa: UP035 - the official SDK's own spelling

        from clerk_backend_api import models as off_models
        from clerk_backend_api.utils import unmarshal_json
        from pydantic import TypeAdapter

        off_type = List[off_models.User]  # noqa: UP006
        adapter = TypeAdapter(off_type)
        contenders["official: utils.unmarshal_json"] = lambda: unmarshal_json(
            page.decode("utf-8"), off_type)
        contenders["pydantic TypeAdapter.validate_json"] = lambda: adapter.validate_json(page)
    per: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values():
        fn()
    for _ in range(cfg.rounds + 2):
        for name, fn in contenders.items():
            gc.collect()
            started = time.perf_counter()
            for _ in range(cfg.decode_pages):
                fn()
            per[name].append((time.perf_counter() - started) / cfg.decode_pages * 1e3)
    med = {k: median(v) for k, v in per.items()}
    floor = med["json.loads (floor)"]
    ours = med["ours: loads + structure(list[User])"]
    official = med.get("official: utils.unmarshal_json")
    rows = [[name, _fmt(value, "ms"), f"{value / floor:.2f}x",
             f"{value / ours:.2f}x"] for name, value in med.items()]
    text = (
        f"A page of 500 full users ({len(page) / 1e6:.1f} MB: two emails with identification "
        "links, two phones, a wallet, two passkeys, two OAuth accounts, a SAML and an "
        "enterprise account, an organization membership, SCIM, metadata) from bytes to "
        f"models. Median of {cfg.rounds + 2} rounds of {cfg.decode_pages} pages.\n\n"
        + _table(["decoder", "per page", "vs json.loads", "vs ours"], rows)
    )
    report.sections.append(("2. Decoding a 500-user page", text))
    report.chart.setdefault("decode / json.loads", {})["ours"] = ours / floor
    if official is not None:
        report.chart["decode / json.loads"]["official"] = official / floor
        report.targets.append(Target(
            "Decode a 500-user page: ours vs official decode path",
            f"{ours / official:.2f}x ({ours / floor:.2f}x json.loads)", "<= 1x",
            ours <= official, ours / official,
        ))
    else:
        report.targets.append(Target("Decode a 500-user page: ours vs official",
                                     f"{ours / floor:.2f}x json.loads", "<= 1x", None))


# --------------------------------------------------------------------------- 3. import time


def section_import(report: Report, cfg: Settings) -> None:
    snippets = {
        "bare interpreter": "pass",
        "import aiohttp": "import aiohttp",
        "import clerk_async": "import clerk_async",
        "import clerk_sync": "import clerk_sync",
        "clerk_async to a usable client": (
            "import clerk_async; clerk_async.AsyncClerk(secret_key='sk_test_x').users"),
        "clerk_sync to a usable client": (
            "import clerk_sync; clerk_sync.Clerk(secret_key='sk_test_x').users"),
    }
    if importlib.util.find_spec("clerk_backend_api") is not None:
        snippets["official to a usable client"] = (
            "import clerk_backend_api; clerk_backend_api.Clerk(bearer_auth='sk_test_x').users")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
        return time.perf_counter() - started

    for code in snippets.values():  # compile .pyc files first
        run(code)
    per: dict[str, list[float]] = {name: [] for name in snippets}
    for _ in range(cfg.import_runs):
        for name, code in snippets.items():
            per[name].append(run(code) * 1e3)
    med = {k: median(v) for k, v in per.items()}
    bare = med.pop("bare interpreter")
    added = {k: v - bare for k, v in med.items()}
    rows = [[name, _fmt(value, "ms"), _fmt(med[name], "ms")] for name, value in added.items()]
    text = (
        f"Fresh interpreters (`python -c ...`), median of {cfg.import_runs} runs each, "
        f"alternated; bare interpreter start-up ({bare:.1f} ms) subtracted. "
        "`import clerk_async` loads the client, models and resources (and aiohttp) "
        "lazily, on first use of those names; *to a usable client* includes all of it.\n\n"
        + _table(["what", "added time", "total wall"], rows)
    )
    report.sections.append(("3. Import time", text))
    over = added["import clerk_async"] - added["import aiohttp"]
    usable = added["clerk_async to a usable client"] - added["import aiohttp"]
    report.targets.append(Target(
        "`import clerk_async` over `import aiohttp`",
        f"{over:+.1f} ms (to a usable client: {usable:+.1f} ms)", "<= +30 ms", over <= 30,
        max(over, 0.0) / 30,
    ))
    official = added.get("official to a usable client")
    if official is not None:
        ours = added["clerk_async to a usable client"]
        report.chart.setdefault("official / ours", {})["import to usable client"] = official / ours


# --------------------------------------------------------------------------- 4. sync facade


def section_sync(report: Report, cfg: Settings) -> None:
    from clerk_async.testing._model import render_user
    from clerk_async.testing._store import Store

    store = Store(seed=2)
    user = store.add_user(email_address="ada@example.com", first_name="Ada")
    body = json.dumps(render_user(user, store.now_ms())).encode()
    with canned_server(body, core=0) as base_url:
        pin(0, 1)
        per = bench_sync_overhead.measure(base_url, "sk_test_canned", cfg.sync_calls,
                                          cfg.rounds + 2, user_id=user.id)
    med = {k: median(v) for k, v in per.items()}
    rows = []
    ratios = {}
    for suffix, label in (("", "wall"), (" (CPU)", "CPU")):
        overhead = med["sync" + suffix] - med["async" + suffix]
        ratios[label] = (overhead, overhead / med["bare portal" + suffix])
        rows.append([label, *(_fmt(med[w + suffix], "µs") for w in
                              ("async", "sync", "bare portal", "bare hand-off")),
                     _fmt(overhead, "µs"), f"{ratios[label][1]:.2f}x"])
    text = (
        f"`users.get` per call against a canned-response HTTP server in another process "
        f"(FakeClerk's own time and jitter would drown the difference); {cfg.sync_calls} "
        f"calls x {cfg.rounds + 2} rounds, the four paths alternating in blocks of 100. "
        "*bare portal* is anyio `portal.call` of a no-op coroutine, the floor of any "
        "portal-based facade; *bare hand-off* is the facade's own mechanism with a no-op. "
        "The target is judged on client CPU time (both threads): on a shared 2-core "
        "machine wall-time differences of this size are mostly scheduling noise.\n\n"
        + _table(["measure", "async", "sync", "bare portal", "bare hand-off",
                  "overhead (sync - async)", "overhead / bare portal"], rows)
    )
    report.sections.append(("4. Sync facade overhead", text))
    overhead, ratio = ratios["CPU"]
    report.targets.append(Target(
        "Sync facade overhead vs bare portal.call (CPU)",
        f"{ratio:.2f}x ({overhead:.0f} µs; wall {ratios['wall'][1]:.2f}x)", "<= 1.2x",
        ratio <= 1.2, ratio / 1.2))


# --------------------------------------------------------------------------- 5. bulk pacing


def section_bulk(report: Report, cfg: Settings) -> None:
    n, rate, latency = cfg.bulk_rows, cfg.bulk_rate, 20.0
    who = ["ours"] + (["official"] if official_sdk() is not None else [])
    results = {w: bench_bulk_import.measure(w, n, rate, latency) for w in who}
    rows = []
    for w, r in results.items():
        name = ("ours: users.bulk_create" if w == "ours"
                else "official: asyncio.gather(users.create_async)")
        rows.append([name, str(r["created"]), str(r["failed"]), str(r["failed_429"]),
                     str(r["rate_limited_responses"]), f"{r['elapsed']:.2f} s",
                     f"{r['ratio']:.3f}"])
    ours = results["ours"]
    text = (
        f"{n} CreateUser rows against a FakeClerk quota of {rate} (sliding window, Clerk's "
        f"100 per 10 s scaled), 20 ms server latency; ideal = N / rate = "
        f"{ours['ideal']:.1f} s. Each contender gets a fresh FakeClerk. The official SDK "
        "does not retry 429 by default, so every 429 is a failed row.\n\n"
        + _table(["contender", "created", "failed", "failed with 429", "429 responses",
                  "elapsed", "elapsed / ideal"], rows)
    )
    report.sections.append(("5. Bulk import pacing", text))
    ok = ours["ratio"] <= 1.05 and ours["rate_limited_responses"] == 0 and ours["failed"] == 0
    report.targets.append(Target(
        "Bulk import: elapsed / ideal, 429s",
        f"{ours['ratio']:.3f}, {ours['rate_limited_responses']} 429s", "<= 1.05, 0 429s", ok,
        ours["ratio"] / 1.05,
    ))
    if "official" in results:
        off = results["official"]
        report.targets.append(Target(
            "Bulk import: official SDK's 429 failures (counted)",
            f"{off['failed_429']} of {n} rows", "counted", True))


# --------------------------------------------------------------------------- 6. memory


def section_memory(report: Report, cfg: Settings) -> None:
    rows = []
    growth: dict[str, float] = {}
    with fake_server(users=cfg.iter_users, core=0) as server:
        for flavour in ("async", "sync"):
            command = [sys.executable, str(HERE / "bench_iter_memory.py"), "--json",
                       "--base-url", server.base_url, "--secret-key", server.secret_key]
            if flavour == "sync":
                command.append("--sync")
            out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
            r = json.loads(out.stdout)
            growth[flavour] = r["growth_mb"]
            rows.append([f"ours ({flavour}): users.iter()", f"{r['users']:,}",
                         f"{r['before_mb']:.1f} MB", f"{r['after_mb']:.1f} MB",
                         f"{r['growth_mb']:.1f} MB", f"{r['seconds']:.1f} s"])
    text = (
        f"A fresh process walks all {cfg.iter_users:,} users of a FakeClerk (other process) "
        "with `users.iter()` (pages of 500). Baseline: peak RSS after imports, the client "
        "and one request.\n\n"
        + _table(["walk", "users", "peak RSS before", "after", "growth", "time"], rows)
    )
    report.sections.append(("6. Memory while iterating", text))
    worst = max(growth.values())
    report.targets.append(Target(f"`iter` over {cfg.iter_users:,} users: peak RSS growth",
                                 f"{worst:.1f} MB", "< 50 MB", worst < 50, worst / 50))


# --------------------------------------------------------------------------- output


def _versions() -> list[tuple[str, str]]:
    out = [("python", platform.python_version())]
    for dist in ("clerk-users", "aiohttp", "attrs", "cattrs", "orjson", "anyio",
                 "clerk-backend-api", "httpx", "pydantic", "pydantic-core"):
        try:
            out.append((dist, importlib.metadata.version(dist)))
        except importlib.metadata.PackageNotFoundError:
            out.append((dist, "not installed"))
    return out


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores"


def write_markdown(report: Report, path: Path, png_name: str, elapsed: float) -> None:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks: clerk-users vs Clerk's official Python SDK",
        "",
        "Generated by `python benchmarks/run.py`"
        + (" --quick (smoke run: few rounds, small sizes)" if report.quick else "")
        + f" in {elapsed:.0f} s. Reproduce: `pip install -e '.[bench]' && "
        "python benchmarks/run.py`.",
        "",
        f"- Date: {now}",
        f"- Machine: {_machine()}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in _versions()),
        "",
        "## Targets",
        "",
        _table(["target", "measured", "goal", "result"], [
            [t.name, t.measured, t.goal,
             "n/a" if t.ok is None else ("pass" if t.ok else "**miss**")]
            for t in report.targets
        ]),
        "",
        f"![ratios]({png_name})",
        "",
    ]
    for note in report.notes:
        lines += [f"> Note: {note}", ""]
    for title, body in report.sections:
        lines += [f"## {title}", "", body, ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_chart(report: Report, path: Path) -> bool:
    try:
        import matplotlib
    except ImportError:
        report.notes.append("matplotlib is not installed: no chart")
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [t for t in report.targets if t.ratio is not None]
    speedups = report.chart.get("official (async) / ours (async)", {})
    extra = report.chart.get("official / ours", {})
    panels = 2 if (speedups or extra) else 1
    fig, axes = plt.subplots(panels, 1, figsize=(10, 3 + 0.45 * len(measured) + 2 * (panels - 1)),
                             squeeze=False)
    ax = axes[0][0]
    names = [t.name.replace("`", "") for t in measured][::-1]
    values = [t.ratio for t in measured][::-1]
    colors = ["tab:green" if v is not None and v <= 1 else "tab:red" for v in values]
    ax.barh(names, values, color=colors)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xlabel("measured / target limit (<= 1 passes)")
    ax.set_title("Targets")
    ax.tick_params(axis="y", labelsize=8)
    if panels == 2:
        ax2 = axes[1][0]
        items = {**{f"CPU/request {k}": v for k, v in speedups.items()}, **extra}
        dec = report.chart.get("decode / json.loads", {})
        if "official" in dec and dec.get("ours"):
            items["decode 500-user page"] = dec["official"] / dec["ours"]
        ax2.barh(list(items)[::-1], list(items.values())[::-1], color="tab:blue")
        ax2.set_xscale("log")
        ax2.axvline(1.0, color="black", linewidth=1)
        ax2.set_xlabel("official SDK / ours (x times faster, log scale)")
        ax2.set_title("Speed-up over clerk-backend-api")
        ax2.tick_params(axis="y", labelsize=8)
        for y, v in enumerate(list(items.values())[::-1]):
            ax2.text(v, y, f" {v:.1f}x", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


SECTIONS: dict[str, Callable[[Report, Settings], None]] = {
    "cpu": section_cpu,
    "decode": section_decode,
    "import": section_import,
    "sync": section_sync,
    "bulk": section_bulk,
    "memory": section_memory,
}


def _run_section(name: str, quick: bool) -> Report:
    """Run one section in a fresh interpreter (no heap, imports, threads or RSS
    left over from another section) and read its results back."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "section.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--section", name,
                   "--result", str(result)] + (["--quick"] if quick else [])
        subprocess.run(command, check=True, cwd=ROOT)
        data = json.loads(result.read_text(encoding="utf-8"))
    part = Report(quick=quick, notes=data["notes"], chart=data["chart"])
    part.sections = [(title, body) for title, body in data["sections"]]
    part.targets = [Target(**t) for t in data["targets"]]
    return part


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, under a minute")
    parser.add_argument("--out", type=Path, default=None,
                        help="where RESULTS.md / results.png go (default: benchmarks/, "
                             "or a temporary directory with --quick)")
    parser.add_argument("--only", action="append", choices=list(SECTIONS),
                        help="run only this section (repeatable)")
    parser.add_argument("--section", choices=list(SECTIONS), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    if args.section:  # worker: one section, results as JSON
        part = Report(quick=args.quick)
        SECTIONS[args.section](part, cfg)
        args.result.write_text(json.dumps({
            "notes": part.notes, "sections": part.sections, "chart": part.chart,
            "targets": [asdict(t) for t in part.targets],
        }), encoding="utf-8")
        return 0
    out: Path = args.out or (Path(tempfile.mkdtemp(prefix="clerk-bench-")) if args.quick
                             else HERE)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(quick=args.quick)
    if importlib.util.find_spec("clerk_backend_api") is None:
        report.notes.append(
            "clerk-backend-api is not installed: the official SDK's contenders were skipped "
            "(pip install -e '.[bench]')")
        print("note: " + report.notes[-1], flush=True)
    started = time.perf_counter()
    for name in SECTIONS:
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        part = _run_section(name, args.quick)
        report.notes += part.notes
        report.sections += part.sections
        report.targets += part.targets
        for key, values in part.chart.items():
            report.chart.setdefault(key, {}).update(values)
        print(f"   {time.perf_counter() - t0:.1f} s", flush=True)
    elapsed = time.perf_counter() - started
    have_chart = write_chart(report, out / "results.png")
    write_markdown(report, out / "RESULTS.md", "results.png" if have_chart else "", elapsed)
    print("\nTargets:")
    for t in report.targets:
        status = "n/a " if t.ok is None else ("pass" if t.ok else "MISS")
        print(f"  [{status}] {t.name}: {t.measured} (goal {t.goal})")
    print(f"\nwrote {out / 'RESULTS.md'} and {out / 'results.png'} in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
