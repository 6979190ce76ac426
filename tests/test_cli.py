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


async def test_sigkill_mid_import_then_rerun_gives_exactly_n_users(tmp_path: Path) -> None:
    n = 300
    rows, journal = tmp_path / "rows.jsonl", tmp_path / "rows.journal"
    _write_rows(rows, n)
    faults = Faults(latency_ms=15, operations={"CreateUser"})
    async with FakeClerk(faults=faults) as fake:
        args = [PYTHON, "-m", "clerk_async", "import", str(rows), "--journal", str(journal),
                "--concurrency", "4", "--rate", "none", "--base-url", fake.base_url]
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
        assert 0 < skipped <= created_before


@pytest.mark.parametrize("argv", [["--help"], ["import", "--help"]])
def test_help(argv: list[str]) -> None:
    assert _cli(*argv).returncode == 0
