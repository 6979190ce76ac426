"""``clerk-users`` end to end in subprocesses, including a SIGKILL mid-import."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clerk_async.testing import FakeClerk, Faults

PYTHON = sys.executable


def _env(key: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CLERK_SECRET_KEY", "CLERK_API_URL")}
    if key is not None:
        env["CLERK_SECRET_KEY"] = key
    return env


def _cli(*args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "clerk_async", *args], capture_output=True, text=True,
                          env=_env(key), timeout=60)


def _write_rows(path: Path, n: int, bad: int = 0) -> None:
    with path.open("w") as handle:
        for i in range(n):
            row = {"email_address": [f"c{i}@example.com"], "first_name": "Cli"}
            if i % 2:
                row["external_id"] = f"cli-{i}"
            handle.write(json.dumps(row) + "\n")
        for i in range(bad):
            handle.write(json.dumps({"email_address": [f"bad{i}@example.com"], "age": 3}) + "\n")


def test_import_with_fake_exit_codes_summary_and_failures(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    _write_rows(good, 12)
    done = _cli("import", str(good), "--fake", "--fake-rate", "none")
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout and " 12" in done.stdout
    assert "12/12" in done.stderr  # the progress line
    assert not (tmp_path / "good.jsonl.failures.jsonl").exists()

    mixed = tmp_path / "mixed.jsonl"
    _write_rows(mixed, 5, bad=2)
    failed = _cli("import", str(mixed), "--fake", "--fake-rate", "none")
    assert failed.returncode == 1
    lines = (tmp_path / "mixed.jsonl.failures.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["row"], r["field"]) for r in records] == [(6, "age"), (7, "age")]
    assert "failed" in failed.stdout


def test_csv_import_and_export_with_fake(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    done = _cli("import", str(examples / "users.csv"), "--fake", "--fake-rate", "1000/1s",
                "--failures", str(tmp_path / "f.jsonl"))
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "export.jsonl"
    exported = _cli("export", str(out), "--fake")
    assert exported.returncode == 0, exported.stderr
    assert len(out.read_text().splitlines()) == 25


def test_usage_errors_exit_2_and_never_echo_the_key(tmp_path: Path) -> None:
    rows = tmp_path / "r.jsonl"
    _write_rows(rows, 1)
    missing = _cli("import", str(rows))
    assert missing.returncode == 2 and "CLERK_SECRET_KEY" in missing.stderr
    assert _cli("import", str(rows), "--on-exists", "merge").returncode == 2
    assert _cli("import", str(tmp_path / "nope.jsonl"), "--fake").returncode == 2


async def test_wrong_key_stops_the_run_without_echoing_it(tmp_path: Path) -> None:
    rows = tmp_path / "r.jsonl"
    _write_rows(rows, 20)
    secret = "sk_test_DONOTPRINTME0123456789"
    async with FakeClerk() as fake:
        child = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "clerk_async", "import", str(rows), "--base-url", fake.base_url,
            env=_env(secret), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await child.communicate()
    assert child.returncode == 3
    assert "authentication_invalid" in err.decode()
    assert len(err.decode().strip().splitlines()) == 1  # one clear line
    assert secret not in out.decode() + err.decode()
    assert fake.stats.requests["CreateUser"] == 0  # stopped before any row was sent


@pytest.mark.parametrize("on_exists", ["skip", "error"])
async def test_sigkill_mid_import_then_rerun_gives_exactly_n_users(
        tmp_path: Path, on_exists: str) -> None:
    # Under "error" the rows the killed run created must come out as created
    # (their intents say so), not as "identifier exists" failures.
    n = 300
    rows, journal = tmp_path / "rows.jsonl", tmp_path / "rows.journal"
    _write_rows(rows, n)
    faults = Faults(latency_ms=15, operations={"CreateUser"})
    async with FakeClerk(faults=faults) as fake:
        args = [PYTHON, "-m", "clerk_async", "import", str(rows), "--journal", str(journal),
                "--concurrency", "4", "--rate", "none", "--base-url", fake.base_url,
                "--on-exists", on_exists]
        child = await asyncio.create_subprocess_exec(
            *args, env=_env(fake.secret_key), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(1000):
            await asyncio.sleep(0.02)
            if len(fake.store.users) > 5:
                break
        assert child.returncode is None, "the import finished before it could be killed"
        child.send_signal(signal.SIGKILL)
        await child.wait()
        created_before = len(fake.store.users)
        assert 0 < created_before < n

        rerun = await asyncio.create_subprocess_exec(
            *args, env=_env(fake.secret_key), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await rerun.communicate()
        assert rerun.returncode == 0, out.decode() + err.decode()
        assert len(fake.store.users) == n
        emails = sorted(u.emails[0].email_address for u in fake.store.users.values())
        assert emails == sorted(f"c{i}@example.com" for i in range(n))
        summary = out.decode()
        skipped = int(summary.split("skipped (journal)")[1].split()[0])
        created = int(summary.split("created")[1].split()[0])
        assert 0 < skipped <= created_before
        failed = int(summary.split("\n  failed")[1].split()[0])
        assert skipped + created == n and failed == 0


@pytest.mark.parametrize("argv", [["--help"], ["import", "--help"]])
def test_help(argv: list[str]) -> None:
    assert _cli(*argv).returncode == 0


async def test_second_import_on_a_journal_in_use_exits_2_naming_it_and_the_holder(
        tmp_path: Path) -> None:
    rows, journal = tmp_path / "r.jsonl", tmp_path / "r.journal"
    _write_rows(rows, 3)
    holder = await asyncio.create_subprocess_exec(
        PYTHON, "-c",
        "import asyncio, sys\n"
        "from clerk_async.bulk._journal import Journal\n"
        "async def main():\n"
        f"    j = Journal({str(journal)!r})\n"
        "    await j.open()\n"
        "    print('ready', flush=True)\n"
        "    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)\n"
        "    await j.close()\n"
        "asyncio.run(main())\n",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert holder.stdout is not None and holder.stdin is not None
    assert (await holder.stdout.readline()).strip() == b"ready"
    try:
        async with FakeClerk() as fake:
            child = await asyncio.create_subprocess_exec(
                PYTHON, "-m", "clerk_async", "import", str(rows), "--journal", str(journal),
                "--base-url", fake.base_url, env=_env(fake.secret_key),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _, err = await child.communicate()
            assert sum(fake.stats.requests.values()) == 0
    finally:
        holder.stdin.write(b"done\n")
        await holder.stdin.drain()
        await holder.wait()
    message = err.decode().strip()
    assert child.returncode == 2, message
    assert len(message.splitlines()) == 1
    assert str(journal) in message and f"process {holder.pid}" in message


def test_export_then_import_round_trip(tmp_path: Path) -> None:
    exported = tmp_path / "export.jsonl"
    assert _cli("export", str(exported), "--fake").returncode == 0
    done = _cli("import", str(exported), "--fake", "--fake-rate", "none")
    assert done.returncode == 0, done.stdout + done.stderr
    assert int(done.stdout.split("created")[1].split()[0]) == 25


async def test_5xx_circuit_exits_3_with_one_line_and_a_consistent_journal(
        tmp_path: Path) -> None:
    rows, journal = tmp_path / "r.jsonl", tmp_path / "r.journal"
    _write_rows(rows, 100)
    faults = Faults(rate=1.0, kinds=("503",), operations={"CreateUser"})
    async with FakeClerk(faults=faults) as fake:
        args = [PYTHON, "-m", "clerk_async", "import", str(rows), "--journal", str(journal),
                "--rate", "none", "--base-url", fake.base_url]
        child = await asyncio.create_subprocess_exec(
            *args, env=_env(fake.secret_key), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        _, err = await child.communicate()
        assert child.returncode == 3
        assert len(err.decode().strip().splitlines()) == 1, err.decode()
        assert "failing (5xx)" in err.decode() and "rerun" in err.decode()
        assert fake.stats.requests["CreateUser"] < 40
        fake.faults = None
        rerun = await asyncio.create_subprocess_exec(
            *args, env=_env(fake.secret_key), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        await rerun.communicate()
        assert rerun.returncode == 0 and len(fake.store.users) == 100


def test_unreachable_clerk_exits_3(tmp_path: Path) -> None:
    rows = tmp_path / "r.jsonl"
    _write_rows(rows, 50)
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = _cli("import", str(rows), "--base-url", f"http://127.0.0.1:{port}/v1",
                key="sk_test_unreachable")
    assert done.returncode == 3, done.stderr
    assert "not reachable" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_bad_encoding_csv(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("email_address,first_name\nz@example.com,Zoë\ny@example.com,Chloé\n"
                      .encode("cp1252"))
    refused = _cli("import", str(latin), "--fake")
    assert refused.returncode == 2 and "--encoding" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    done = _cli("import", str(latin), "--fake", "--fake-rate", "none", "--encoding", "cp1252")
    assert done.returncode == 0, done.stderr
    stray = tmp_path / "stray.csv"
    stray.write_bytes(b"email_address,first_name\na@example.com,Ann\nb@example.com,Caf\xe9\n"
                      b"c@example.com,Cy\n")
    one_bad = _cli("import", str(stray), "--fake", "--fake-rate", "none")
    assert one_bad.returncode == 1  # the rest imported, one row failed
    failures = [json.loads(line) for line in
                (tmp_path / "stray.csv.failures.jsonl").read_text().splitlines()]
    assert [(f["row"], f["code"]) for f in failures] == [(3, "invalid_row")]


def _path_problem(tmp_path: Path, case: str) -> list[str]:
    rows = tmp_path / "r.jsonl"
    _write_rows(rows, 2)
    legacy = tmp_path / "old.journal"
    legacy.write_text('{"key": "a", "row": 1, "outcome": "created"}\n')
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\x00\x01\x02 not text")
    return {
        "journal is a directory": ["import", str(rows), "--journal", str(tmp_path)],
        "journal directory missing": ["import", str(rows), "--journal",
                                      str(tmp_path / "no" / "j.journal")],
        "journal of another format": ["import", str(rows), "--journal", str(legacy)],
        "failures is a directory": ["import", str(rows), "--failures", str(tmp_path)],
        "failures directory missing": ["import", str(rows), "--failures",
                                       str(tmp_path / "no" / "f.jsonl")],
        "input missing": ["import", str(tmp_path / "nope.jsonl")],
        "input is binary": ["import", str(binary)],
        "input is a directory": ["import", str(tmp_path)],
        "export target is a directory": ["export", str(tmp_path)],
        "export directory missing": ["export", str(tmp_path / "no" / "x.jsonl")],
    }[case]


@pytest.mark.parametrize("case", [
    "journal is a directory", "journal directory missing", "journal of another format",
    "failures is a directory", "failures directory missing", "input missing",
    "input is binary", "input is a directory", "export target is a directory",
    "export directory missing",
])
async def test_path_errors_exit_2_in_one_line_before_any_request(
        tmp_path: Path, case: str) -> None:
    argv = _path_problem(tmp_path, case)
    async with FakeClerk() as fake:
        child = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "clerk_async", *argv, "--base-url", fake.base_url,
            env=_env(fake.secret_key), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await child.communicate()
        assert sum(fake.stats.requests.values()) == 0
    lines = err.decode().strip().splitlines()
    assert child.returncode == 2, err.decode()
    assert len(lines) == 1 and lines[0].startswith("clerk-users: error:"), lines
    assert "Traceback" not in err.decode() and out == b""
