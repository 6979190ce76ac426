"""Issue 22 on the command line: paths that must never be clobbered, a journal
that cannot be written, undo and the instance dry run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from clerk_async.bulk._journal import Journal
from clerk_async.cli import main
from clerk_async.testing import FakeClerk


def _rows(path: Path, n: int) -> None:
    path.write_text("".join(json.dumps({"email_address": [f"p{i}@example.com"]}) + "\n"
                            for i in range(n)))


@pytest.mark.parametrize("target", ["input", "journal", "fifo", "directory"])
def test_failures_path_that_would_clobber_something_exits_2_before_any_request(
        tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows, journal = tmp_path / "rows.jsonl", tmp_path / "run.journal"
    _rows(rows, 2)
    failures = {"input": rows, "journal": journal, "fifo": tmp_path / "f.fifo",
                "directory": tmp_path}[target]
    if target == "fifo":
        os.mkfifo(failures)
    if target == "journal":
        journal.write_bytes(b"")
    before = rows.read_bytes()
    code = main(["import", str(rows), "--journal", str(journal), "--failures", str(failures),
                 "--fake", "--fake-rate", "none"])
    err = capsys.readouterr().err
    assert code == 2 and "--failures" in err and len(err.strip().splitlines()) == 1
    assert rows.read_bytes() == before


def test_a_fifo_as_journal_exits_2_without_hanging(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    rows, fifo = tmp_path / "rows.jsonl", tmp_path / "j.fifo"
    _rows(rows, 1)
    os.mkfifo(fifo)
    assert main(["import", str(rows), "--journal", str(fifo), "--fake"]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_disk_full_under_the_journal_exits_3_with_one_line_and_the_summary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    rows, journal = tmp_path / "rows.jsonl", tmp_path / "run.journal"
    _rows(rows, 30)
    real = Journal._write
    calls = [0]

    def filling(self: Journal, ops: list[Any]) -> None:
        calls[0] += 1
        if calls[0] > 3:  # the disk fills up after a few commits
            raise sqlite3.OperationalError("database or disk is full")
        real(self, ops)

    monkeypatch.setattr(Journal, "_write", filling)
    code = main(["import", str(rows), "--journal", str(journal), "--fake",
                 "--fake-rate", "none", "--concurrency", "2"])
    out, err = capsys.readouterr()
    assert code == 3, err
    assert "disk is full" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if "clerk-users:" in line]) == 1
    assert "total rows" in out  # the summary of what was done
    monkeypatch.setattr(Journal, "_write", real)
    # consistent: whole commits only (closing(): sqlite3's own `with` leaves it open)
    with contextlib.closing(sqlite3.connect(journal)) as db:
        states = {s for (s,) in db.execute("SELECT state FROM rows")}
    assert states <= {"intent", "created"}


def test_check_instance_needs_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    rows = tmp_path / "rows.jsonl"
    _rows(rows, 1)
    assert main(["import", str(rows), "--check-instance", "--fake"]) == 2
    assert "--check-instance needs --dry-run" in capsys.readouterr().err


def test_undo_refuses_a_missing_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    assert main(["undo", "--journal", str(tmp_path / "none.journal"), "--fake"]) == 2
    assert "no such journal" in capsys.readouterr().err


async def _run(fake: FakeClerk, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CLERK_SECRET_KEY", "CLERK_API_URL")}
    env["CLERK_SECRET_KEY"] = fake.secret_key
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clerk_async", *args, "--base-url", fake.base_url,
        "--rate", "none", env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await child.communicate()
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


async def test_check_instance_then_import_then_undo_from_the_shell(tmp_path: Path) -> None:
    rows, journal = tmp_path / "rows.jsonl", tmp_path / "run.journal"
    _rows(rows, 4)
    async with FakeClerk() as fake:
        kept = fake.store.add_user(email_address="p0@example.com")
        code, out, _ = await _run(fake, "import", str(rows), "--dry-run", "--check-instance",
                                  "--json")
        assert code == 0
        report = json.loads(out)["report"]
        assert (report["would_create"], report["exist_already"]) == (3, 1)
        assert len(fake.store.users) == 1 and "CreateUser" not in fake.stats.requests

        code, _, err = await _run(fake, "import", str(rows), "--journal", str(journal))
        assert code == 0, err
        assert len(fake.store.users) == 4

        code, out, _ = await _run(fake, "undo", "--journal", str(journal), "--dry-run")
        assert code == 0 and "3 users would be deleted" in out
        assert len(fake.store.users) == 4
        code, out, _ = await _run(fake, "undo", "--journal", str(journal), "--json")
        assert code == 0 and json.loads(out)["deleted"] == 3
        assert list(fake.store.users) == [kept.id]
