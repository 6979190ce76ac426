"""``clerk-users`` as people and scripts see it: the progress display in a real
80-column terminal (tmux), --json/--quiet, stdin/stdout, refusing to replace a
file, input formats, the failures file round trip, and truthful messages."""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import _env  # the environment less any Clerk key or URL

from clerk_async.testing import FakeClerk

PYTHON = sys.executable


def _cli(*args: str, key: str | None = None, stdin: bytes | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([PYTHON, "-m", "clerk_async", *args], input=stdin,
                          capture_output=True, env=_env(key), timeout=60, cwd=cwd)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(),
                                       done.stderr.decode())


async def _acli(*args: str, key: str) -> tuple[int, str, str]:
    child = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "clerk_async", *args, env=_env(key),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await child.communicate()
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


def _rows(path: Path, n: int, prefix: str = "r") -> None:
    path.write_text("".join(json.dumps({"email_address": [f"{prefix}{i}@example.com"]}) + "\n"
                            for i in range(n)))


# ---------------------------------------------------------------- the progress display


def _tmux(socket: Path, *args: str, env: dict[str, str] | None = None) -> str:
    # A server of our own (-S): never a session in the developer's tmux.
    return subprocess.run(["tmux", "-S", str(socket), *args], capture_output=True,
                          text=True, check=False, env=env).stdout


@pytest.mark.skipif(shutil.which("tmux") is None,
                    reason="tmux is not installed (.ci/run installs it)")
async def test_progress_in_an_80_column_terminal_is_one_line_and_says_rate_limited(
        tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    _rows(rows, 60)
    socket = tmp_path / "tmux.sock"
    # The fake allows 20 creates per 2 s and the CLI does not pace (--rate none):
    # it is answered 429 and has to back off, several times.
    async with FakeClerk(rate_limit="20/2s") as fake:
        command = " ".join(shlex.quote(part) for part in (
            PYTHON, "-m", "clerk_async", "import", str(rows), "--base-url", fake.base_url,
            "--rate", "none", "--concurrency", "8")) + "; echo EXIT=$?; sleep 60"
        _tmux(socket, "new-session", "-d", "-s", "cli", "-x", "80", "-y", "40", command,
              env=_env(fake.secret_key))
        try:
            states, pane = set(), ""
            for _ in range(1200):
                await asyncio.sleep(0.05)
                pane = _tmux(socket, "capture-pane", "-p", "-t", "cli")
                states.update(line.split()[0] for line in pane.splitlines()
                              if "/60" in line and line.strip())
                if "EXIT=" in pane:
                    break
            width = _tmux(socket, "display-message", "-p", "-t", "cli",
                          "#{window_width}").strip()
        finally:
            _tmux(socket, "kill-server")
    assert width == "80"
    assert "EXIT=0" in pane, pane
    lines = pane.splitlines()
    # One progress line, redrawn in place: no line per redraw, no wrapped remains.
    progress = [line for line in lines if "/60" in line]
    assert len(progress) == 1 and "60/60" in progress[0], pane
    assert all(len(line) <= 80 for line in lines)
    assert "rate" in states, states  # "rate limited" was on screen during a back-off
    summary = pane[pane.index("Import of"):]
    received = int(summary.split("429s received")[1].split()[0])
    retries = int(summary.split("retries")[1].split(",")[0])
    assert received > 0 and retries >= received


def test_progress_into_a_pipe_has_no_control_codes(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    _rows(rows, 30)
    done = _cli("import", str(rows), "--fake", "--fake-rate", "none")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stderr + done.stdout and "\r" not in done.stderr + done.stdout
    assert "finished  30/30 rows" in done.stderr


def test_quota_wait_is_wall_clock_not_summed_over_tasks(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    _rows(rows, 30)
    done = _cli("import", str(rows), "--fake", "--fake-rate", "20/1s", "--concurrency", "8",
                "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    stats = result["requests"]
    # The time during which any request waited is part of the run (the sum over
    # requests waiting side by side is not).
    assert 0 < stats["quota_wait_wall"] <= result["elapsed_s"]
    assert "held back by the quota" in done.stderr


# ---------------------------------------------------------------- --json, --quiet, messages


def test_json_summary_on_stdout_text_on_stderr_and_quiet(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    _rows(rows, 3)
    with rows.open("a") as handle:
        handle.write('{"email_address": ["x@example.com"], "age": 3}\n')
    done = _cli("import", str(rows), "--fake", "--fake-rate", "none", "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)  # nothing else on stdout
    assert result["exit_status"] == 1 and result["instance"]["kind"] == "fake"
    assert result["report"]["created"] == 3 and result["report"]["failed"] == 1
    assert result["failures_file"] == f"{rows}.failures.jsonl"
    assert "Import of" in done.stderr and "Writing to the embedded FakeClerk" in done.stderr
    quiet = _cli("import", str(rows), "--fake", "--fake-rate", "none", "--quiet")
    assert quiet.returncode == 1 and quiet.stdout == "" and quiet.stderr == ""


@pytest.mark.parametrize("argv", [["--help"], ["import", "--help"], ["export", "--help"]])
def test_help_lists_the_exit_codes(argv: list[str]) -> None:
    done = _cli(*argv)
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for line in ("0 every row done", "1 some rows failed", "2 usage or path error",
                 "3 the run stopped on a systemic failure"):
        assert line in text, done.stdout


@pytest.mark.parametrize("key, kind", [("sk_test_" + "k" * 30, "a development instance"),
                                       ("sk_live_" + "k" * 30, "a PRODUCTION instance")])
async def test_the_instance_is_named_before_writing_and_the_key_is_not(
        key: str, kind: str) -> None:
    async with FakeClerk(secret_key=key) as fake:
        code, out, err = await _acli(
            "import", str(Path(__file__).parent.parent / "examples" / "users.csv"),
            "--base-url", fake.base_url, "--rate", "none", "--json", key=key)
        assert code == 0, err
        first = err.splitlines()[0]
        assert first.startswith(f"Writing to {kind} at {fake.base_url}"), err
        assert key not in out + err and key[8:] not in out + err
        assert json.loads(out)["instance"]["key_fingerprint"] in first


def test_fake_rate_without_fake_is_a_usage_error(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    _rows(rows, 1)
    done = _cli("import", str(rows), "--fake-rate", "10/1s", key="sk_test_x")
    assert done.returncode == 2 and "--fake-rate" in done.stderr and "--fake" in done.stderr


async def test_a_refused_key_says_so_and_not_to_rerun(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    _rows(rows, 3)
    async with FakeClerk() as fake:
        code, _, err = await _acli("import", str(rows), "--base-url", fake.base_url,
                                   "--journal", str(tmp_path / "j"), key="sk_test_wrongkey12345")
    assert code == 3
    assert "refused the secret key" in err and "CLERK_SECRET_KEY" in err
    assert "rerun" not in err and "resume" not in err


def test_interrupt_message_without_a_journal_does_not_mention_one() -> None:
    from clerk_async import cli

    args = cli._parser().parse_args(["import", "rows.jsonl"])
    assert "same --journal" not in cli._interrupted(args)
    assert "pass --journal" in cli._interrupted(args)
    with_journal = cli._parser().parse_args(["import", "rows.jsonl", "--journal", "j"])
    assert "same --journal" in cli._interrupted(with_journal)


def test_ctrl_c_without_a_journal_exits_130_with_the_true_message(tmp_path: Path) -> None:
    import signal

    rows = tmp_path / "rows.jsonl"
    _rows(rows, 500)
    child = subprocess.Popen(
        [PYTHON, "-m", "clerk_async", "import", str(rows), "--fake", "--fake-rate", "10/10s"],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline().startswith(b"Writing to")  # it is running
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert b"same --journal" not in err and b"pass --journal" in err


# ---------------------------------------------------------------- files, stdin, stdout


def test_export_refuses_to_replace_a_file_without_force(tmp_path: Path) -> None:
    target = tmp_path / "users.jsonl"
    target.write_text("precious\n")
    refused = _cli("export", str(target), "--fake")
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert target.read_text() == "precious\n"
    replaced = _cli("export", str(target), "--fake", "--force")
    assert replaced.returncode == 0, replaced.stderr
    assert len(target.read_text().splitlines()) == 25
    assert [p.name for p in tmp_path.iterdir()] == ["users.jsonl"]  # no temp file left


def test_export_dash_writes_stdout_and_import_dash_reads_stdin(tmp_path: Path) -> None:
    exported = _cli("export", "-", "--fake", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert not (tmp_path / "-").exists()
    users = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(users) == 25 and all(u["object"] == "user" for u in users)
    refused = _cli("import", "-", "--fake", stdin=exported.stdout.encode(), cwd=tmp_path)
    assert refused.returncode == 2 and "--format" in refused.stderr
    for wrong in (["-", "--from", "clerk"], ["x.jsonl", "--from", "clerk", "--format", "json"]):
        mixed = _cli("import", *wrong, "--fake", stdin=b"", cwd=tmp_path)
        assert mixed.returncode == 2 and "--from clerk" in mixed.stderr, mixed.stderr
    done = _cli("import", "-", "--format", "jsonl", "--fake", "--fake-rate", "none", "--json",
                stdin=exported.stdout.encode(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["report"]["created"] == 25


async def test_a_failed_export_leaves_no_partial_file(tmp_path: Path) -> None:
    from clerk_async import AsyncClerk, ServerError
    from clerk_async.testing import Faults

    target = tmp_path / "users.jsonl"
    target.write_text("old\n")
    async with FakeClerk() as fake:
        for i in range(30):
            fake.store.add_user(email_address=f"u{i}@example.com")
        fake.faults = Faults(rate=1.0, kinds=("503",), operations={"GetUserList"})
        async with AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url,
                              retry=None, rate_limit=None) as clerk:
            with pytest.raises(ServerError):
                await clerk.users.export(target)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["users.jsonl"]


def test_pretty_printed_json_array_is_read_as_an_array(tmp_path: Path) -> None:
    rows = tmp_path / "users.json"
    rows.write_text(json.dumps([{"email_address": [f"p{i}@example.com"], "first_name": "P"}
                                for i in range(4)], indent=2))
    done = _cli("import", str(rows), "--fake", "--fake-rate", "none", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["report"]
    assert (report["created"], report["failed"]) == (4, 0)


def test_csv_with_another_extension_is_sniffed_and_junk_is_refused_naming_format(
        tmp_path: Path) -> None:
    rows = tmp_path / "users.txt"
    rows.write_text("email_address,first_name\na@example.com,Ann\nb@example.com,Bob\n")
    done = _cli("import", str(rows), "--fake", "--fake-rate", "none", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["report"]["created"] == 2
    junk = tmp_path / "notes.txt"
    junk.write_text("hello there\nthis is no import file\n")
    refused = _cli("import", str(junk), "--fake")
    assert refused.returncode == 2 and "--format" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    forced = _cli("import", str(rows), "--fake", "--fake-rate", "none", "--format", "csv")
    assert forced.returncode == 0, forced.stderr


def test_failures_file_holds_the_rows_and_imports_again_once_fixed(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        json.dumps({"email_address": ["ok@example.com"]}) + "\n"
        + json.dumps({"email_address": ["fix1@example.com"], "age": 3}) + "\n"
        + "{not json\n"
        + json.dumps({"email_address": ["fix2@example.com"], "first_name": 5}) + "\n")
    first = _cli("import", str(rows), "--fake", "--fake-rate", "none", "--json")
    assert first.returncode == 1
    failures = Path(json.loads(first.stdout)["failures_file"])
    records = [json.loads(line) for line in failures.read_text().splitlines()]
    assert [(r["row"], r["code"]) for r in records] == [
        (2, "invalid_row"), (3, "invalid_row"), (4, "invalid_row")]
    assert records[0]["data"] == {"email_address": ["fix1@example.com"], "age": 3}
    assert records[1]["data"] is None  # the line could not be read
    # The user fixes the two rows they can and drops the unreadable one.
    records[0]["data"].pop("age")
    records[2]["data"]["first_name"] = "Five"
    failures.write_text("".join(json.dumps(r) + "\n" for r in (records[0], records[2])))
    again = _cli("import", str(failures), "--fake", "--fake-rate", "none", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["report"]["created"] == 2


def test_a_csv_row_with_a_bad_cell_comes_back_with_that_cell_to_fix(tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("email_address,banned\nok@example.com,false\nfix@example.com,maybe\n")
    first = _cli("import", str(rows), "--fake", "--fake-rate", "none", "--json")
    assert first.returncode == 1
    failures = Path(json.loads(first.stdout)["failures_file"])
    [record] = [json.loads(line) for line in failures.read_text().splitlines()]
    assert (record["row"], record["field"], record["key"]) == (3, "banned",
                                                               "email:fix@example.com")
    assert record["data"] == {"email_address": ["fix@example.com"], "banned": "maybe"}
    record["data"]["banned"] = True
    failures.write_text(json.dumps(record) + "\n")
    again = _cli("import", str(failures), "--fake", "--fake-rate", "none", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["report"]["created"] == 1


# ---------------------------------------------------------------- dates out of range


def _user(user_id: str, email: str, created_at: object) -> dict[str, object]:
    return {"object": "user", "id": user_id, "primary_email_address_id": "e1",
            "email_addresses": [{"id": "e1", "email_address": email,
                                 "verification": {"status": "verified"}}],
            "created_at": created_at}


@pytest.mark.parametrize("mode", [[], ["--dry-run"], ["--from", "clerk"],
                                  ["--from", "clerk", "--dry-run"]])
def test_out_of_range_dates_fail_their_row_not_the_import(tmp_path: Path,
                                                          mode: list[str]) -> None:
    rows = tmp_path / "export.jsonl"
    stamps = [253402300800000, 2**63 - 1, -5, "NaN"]  # year 10000, int64 max, < 1970, NaN
    users = [_user(f"user_{i}", f"d{i}@example.com", s) for i, s in enumerate(stamps)]
    users.append(_user("user_ok", "ok@example.com", 1700000000000))
    rows.write_text("".join(json.dumps(u) + "\n" for u in users))
    done = _cli("import", str(rows), "--fake", "--fake-rate", "none", "--json", *mode)
    assert "Traceback" not in done.stderr
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)["report"]
    assert report["failed"] == 4 and report["created"] + report["validated"] == 1
    records = [json.loads(line) for line in
               Path(f"{rows}.failures.jsonl").read_text().splitlines()]
    assert {r["field"] for r in records} == {"created_at"}
    assert "not a date between 1970 and 9999" in records[0]["message"]


def test_a_failure_keeps_its_row_out_of_its_repr() -> None:
    from clerk_async.bulk import BulkFailure

    failure = BulkFailure(row=1, key="row:1", code="invalid_row", message="m",
                          data={"password_digest": "$2b$10$secretdigest"})
    assert "secretdigest" not in repr(failure)
    assert failure.to_dict()["data"] == {"password_digest": "$2b$10$secretdigest"}
