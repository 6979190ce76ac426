"""Mutation testing of the modules users rely on for safety, one module at a time.

    .venv/bin/pip install -e '.[dev,mutation]'
    .venv/bin/python scripts/mutation.py retry            # one module
    .venv/bin/python scripts/mutation.py --all            # every module, in turn
    .venv/bin/python scripts/mutation.py --report retry   # scores from the last run only

Not part of CI (minutes per module). mutmut 3 (configured in pyproject.toml,
``[tool.mutmut]``) copies the project into ``mutants/``, records which tests
reach each function, then runs every mutant against only those tests. Each
module runs in its own work directory, ``.mutation/<module>/`` (links to the
project and a pyproject.toml whose test selection is that module's own), so a
module can use only its fast unit tests and one module's run never resets
another's results. A
mutant that no test kills is either a missing test or *equivalent* (no
observable behaviour changes); the equivalent ones are listed below with the
reason, and the score counts them out. Results and the exact commands are
recorded in docs/mutation.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import subprocess
import sys
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC_DIR = ROOT.parent / "shared" / "clerk-openapi"

# The test files each module's mutants run against. The modules without their own
# list use pyproject's whole selection (their recorded runs used it); a module
# whose functions the end-to-end suites reach names its fast unit tests instead, or
# every mutant of it would run FakeClerk end to end.
# (pytest arguments: the two FakeClerk runs in test_ratelimit.py take 5 s, and a
# mutant that hangs them waits 15 times that before it counts as a timeout.)
_RATELIMIT_TESTS = (
    "tests/test_ratelimit.py", "tests/test_limiters.py",
    "--deselect=tests/test_ratelimit.py::test_paced_creates_see_no_429_against_the_same_quota",
    "--deselect=tests/test_ratelimit.py::test_half_the_believed_quota_loses_and_duplicates_nothing",
)
_TRANSPORT_TESTS = ("tests/test_transport_loop.py", "tests/test_retry_policy.py",
                    "tests/test_transport_errors.py", "tests/test_transport.py",
                    "tests/test_hostile.py")
# The journal's own tests (and the resume blind spot): with the whole-import suites, a
# mutant that stalls a commit waits 15 times their length before it counts.
_JOURNAL_TESTS = ("tests/test_bulk_journal.py", "tests/test_bulk_resume.py")
_BULK_TESTS = ("tests/test_bulk_journal.py", "tests/test_bulk_resume.py",
               "tests/test_bulk_trust.py", "tests/test_bulk_rows.py", "tests/test_bulk_import.py",
               "tests/test_bulk_importer_create.py",
               "tests/test_bulk_importer_outcomes.py")

# name -> (source file, mutant-name globs for `mutmut run`: the whole module, or the
# functions that hold the rules in question, test files or None for pyproject's)
_STORE = "clerk_async.testing._store.xǁStoreǁ"
MODULES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...] | None]] = {
    "retry": ("clerk_async/_retry.py", ("clerk_async._retry.*",), None),
    "ratelimit": ("clerk_async/_ratelimit.py", ("clerk_async._ratelimit.*",), _RATELIMIT_TESTS),
    # The transport, split so each part can finish on a shared machine: the retry
    # loop and the single attempt's send, and what a failed or oversized attempt
    # becomes (URL/header checks and options are out of scope).
    "transport-loop": ("clerk_async/_transport.py", (
        "clerk_async._transport.xǁTransportǁrequest__mutmut_*",
        "clerk_async._transport.xǁHttpSenderǁsend__mutmut_*",
    ), _TRANSPORT_TESTS),
    "transport-attempt": ("clerk_async/_transport.py", (
        "clerk_async._transport.x__connection_error__mutmut_*",
        "clerk_async._transport.x__read_capped__mutmut_*",
    ), None),
    "auth": ("clerk_async/_auth.py", ("clerk_async._auth.*",), None),
    "errors": ("clerk_async/_errors.py", ("clerk_async._errors.*",), None),
    "bulk-journal": ("clerk_async/bulk/_journal.py", ("clerk_async.bulk._journal.*",),
                     _JOURNAL_TESTS),
    "bulk-import": ("clerk_async/bulk/_bulk_import.py", ("clerk_async.bulk._bulk_import.*",),
                    _BULK_TESTS),
    "fake-quota": ("clerk_async/testing/_quota.py", ("clerk_async.testing._quota.*",), None),
    # FakeClerk's uniqueness rules: which identifiers are taken, by whom, and when they
    # are freed (create_user/update_user only call these; the rest of them maps fields).
    "fake-uniqueness": ("clerk_async/testing/_store.py", tuple(
        f"{_STORE}{fn}__mutmut_*" for fn in (
            "find", "delete_user", "_index", "_unindex", "_taken", "_check_email",
            "_check_phone", "_check_wallet", "_check_username", "_check_external_id")), None),
}

# Surviving mutants that change no observable behaviour: mutant name -> why. Names
# are mutmut's (they shift when the function changes: re-check them after an edit).
_POP_NO_DEFAULT = ("dict.pop without its None default: every identifier of a stored user "
                   "is in its index (only _index adds them), so the default is never used")
_ERR = "clerk_async._errors.x_error_for_response__mutmut_"
_LIMITER = "clerk_async._ratelimit.xǁLocalLimiterǁ"
_JOURNAL = "clerk_async.bulk._journal."
_BULK = "clerk_async.bulk._bulk_import."
_IMPORTER = f"{_BULK}xǁ_Importerǁ"
_SQL_CASE = "the SQL text in other letter case: SQLite's keywords and names ignore case"
_SQLITE_URI = ("without uri=True: Python's SQLite here opens 'file:' names as URIs anyway "
               "(checked: the mode=ro connection refuses writes); uri=True keeps that true "
               "on builds that do not")
EQUIVALENT: dict[str, str] = {
    **{f"{_STORE}_unindex__mutmut_{n}": _POP_NO_DEFAULT for n in (3, 6, 9, 13, 16)},
    f"{_ERR}6": "bytes.decode's default encoding is UTF-8 already",
    f"{_ERR}9": "codec names are case-insensitive: 'UTF-8' is the same codec",
    f"{_ERR}14": "loads(b'') raises ValueError, caught into the same payload None",
    f"{_ERR}16": "'' and None are both not a dict: _parse_details gives the same answer",
    f"{_LIMITER}block__mutmut_15": (
        "`until >= previous` instead of `>`: when equal it writes the same block end again"),
    **{f"{_LIMITER}__init____mutmut_{n}": (
        "the initial _factor_then is never read: Aimd.factor answers 1.0 until _lowered_at "
        "is set, and block() sets _factor_then first") for n in (18, 19)},
    "clerk_async._transport.xǁHttpSenderǁsend__mutmut_11": (
        "allow_redirects=None instead of False: aiohttp only follows a redirect when the "
        "flag is true, so None refuses it the same way"),
    "clerk_async._transport.xǁTransportǁrequest__mutmut_108": (
        "getattr(exc, '_permanent', None) instead of False: both defaults are falsy"),
    "clerk_async._transport.xǁTransportǁrequest__mutmut_200": (
        "Attempt.retryable(None, ...): retryable never reads its policy argument"),
    **{f"{_JOURNAL}{fn}__mutmut_{n}": _SQL_CASE for fn, ns in (
        ("x__holder_pid", (13,)), ("xǁJournalǁ_finish", (5, 9, 10)),
        ("xǁJournalǁget", (16, 17)), ("xǁJournalǁclaimed_by_other", (26, 27)),
        ("xǁJournalǁ_write", (5, 12, 15)), ("x_read_journal", (11, 12)),
        ("xǁJournalǁ_open", (34, 35, 38, 39, 46, 51))) for n in ns},
    f"{_JOURNAL}xǁJournalǁ_open__mutmut_58": (
        "the reader without isolation_level=None: it only runs SELECTs, and Python's "
        "sqlite3 opens its implicit transactions only before writes"),
    f"{_JOURNAL}xǁJournalǁ__init____mutmut_18": "_closing None instead of False: both falsy",
    **{f"{_JOURNAL}{fn}__mutmut_{n}": _SQLITE_URI for fn, ns in (
        ("x__holder_pid", (3, 6, 8)), ("x_read_journal", (3, 5, 7))) for n in ns},
    **{f"{_JOURNAL}x__holder_pid__mutmut_{n}": (
        "another busy timeout for the read-only look at the pid: a WAL reader never waits "
        "for the writer, so no timeout is reached") for n in (7, 9)},
    f"{_JOURNAL}xǁJournalǁ_release__mutmut_5": (
        "the released descriptor's slot set to '' instead of None: only _release reads "
        "it, and it runs once per open (close() skips it once the writer is gone)"),
    "clerk_async._transport.x__connection_error__mutmut_6": (
        "detail None instead of '' for an exception that cannot render: both are falsy, "
        "so the message and the cause come out the same"),
    # The bulk importer (_bulk_import.py): _Importer's create, rows, __init__, exists,
    # update, succeed, fine, found; _RowFailed; _carries_all, _lower, _raw_key, bulk_create.
    **{f"{_BULK}xǁ_RowFailedǁ__init____mutmut_{n}": (
        "another Exception message: handle() catches every _RowFailed and reports only "
        "its .error, so its own message is never read") for n in (2, 3)},
    **{f"{_BULK}xǁ_Importerǁ__init____mutmut_{n}": (
        "precheck's first value is never read: probe() sets it before any row reaches "
        "settle (handle awaits ready() first), and a failed probe stops the run")
       for n in (22, 23)},
    f"{_BULK}xǁ_Importerǁcreate__mutmut_3": (
        "last's first value is never read: the loop only ends after six `continue`s, "
        "each of which sets it"),
    f"{_BULK}xǁ_Importerǁcreate__mutmut_45": (
        "errors is never empty on this branch: exc.code is errors[0].code, and the "
        "branch needs it to be form_identifier_exists"),
    **{f"{_BULK}xǁ_Importerǁcreate__mutmut_{n}": (
        "another kind for trouble() on a 4xx other than 422/429: it stops the run on "
        "401/403 whatever the kind, and counts only 5xx and connection failures")
       for n in (94, 97, 98)},
    **{f"{_BULK}xǁ_Importerǁexists__mutmut_{n}": (
        "another name for the update kind: only the update guard uses it, so any name "
        "other than 'create' or 'lookup' counts its failures the same way")
       for n in (14, 23, 24)},
    # _Importer's settle, emit, guarded, owns, fail, quiet_lookup, probe, lookup,
    # trouble, backoff, handle.
    **{f"{_IMPORTER}probe__mutmut_{n}": (
        "the probe's 5xx counted under another kind than 'lookup': the probe is the run's "
        "first request (rows wait for it) and ends in fine('lookup') or a raise, so no "
        "other request adds to or reads that count") for n in (6, 9, 10)},
    **{f"{_IMPORTER}settle__mutmut_{n}": (
        "cleared None instead of False: it is only tested for truth (found's gate; owns "
        "returns it into found's `and`)") for n in (28, 44)},
    f"{_IMPORTER}settle__mutmut_29": (
        "cleared's first value True: it is only read for rows not looked up first, which "
        "have no identifier (found is never reached) or a known clock (since >= 0: found's "
        "gate is open and owns judges by the stamp)"),
    f"{_IMPORTER}settle__mutmut_74": (
        "-2 instead of -1 for an intent without a clock: its readers only ask whether it "
        "is >= 0 (owns) or take its min with another (settle, the journal); read_journal "
        "does not show it"),
}


WORK = ROOT / ".mutation"
# What a module's work directory links to (the rest of the project is not needed).
_LINKED = ("clerk_async", "clerk_sync", "examples", "scripts", "tests", "README.md")
_SELECTION_RE = re.compile(r"^pytest_add_cli_args_test_selection = \[.*?\]$", re.M | re.S)


def _tests(name: str) -> tuple[str, ...]:
    tests = MODULES[name][2]
    if tests is None:  # pyproject's own list (tomllib is not in Python 3.10)
        found = _SELECTION_RE.search((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        return tuple(re.findall(r'"([^"]+)"', found.group(0))) if found else ()
    return tests


def _workdir(name: str) -> Path:
    """``.mutation/<name>/``: the project linked in, pyproject with this module's tests."""
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    for entry in _LINKED:
        link = work / entry
        if not link.is_symlink():
            link.symlink_to(ROOT / entry, target_is_directory=(ROOT / entry).is_dir())
    selection = "pytest_add_cli_args_test_selection = [\n" + "".join(
        f'    "{test}",\n' for test in _tests(name)) + "]"
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text, found = _SELECTION_RE.subn(lambda _: selection, text)
    if found != 1:
        raise SystemExit("pyproject.toml: [tool.mutmut] pytest_add_cli_args_test_selection "
                         "not found")
    target = work / "pyproject.toml"
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")  # rewritten only when it changes
    return work


def _statuses(name: str) -> dict[str, str]:
    from mutmut.stats import status_by_exit_code

    source, globs, _ = MODULES[name]
    meta = WORK / name / "mutants" / f"{source}.meta"
    if not meta.is_file():
        return {}
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    return {name: ("not checked" if code is None else status_by_exit_code[code])
            for name, code in codes.items() if any(fnmatch(name, g) for g in globs)}


DOC = ROOT / "docs" / "mutation.md"
DOC_START, DOC_END = "<!-- mutation:start -->", "<!-- mutation:end -->"


LEDGER = ROOT / "docs" / "mutation-results.json"


def _ledger() -> dict[str, dict[str, object]]:
    if not LEDGER.is_file():
        return {}
    data: dict[str, dict[str, object]] = json.loads(LEDGER.read_text(encoding="utf-8"))
    return data


def _record(name: str, killed: int, counted: int, equivalent: list[str],
            survivors: list[str]) -> None:
    """Keep a complete run's result: mutmut forgets every module's results when the
    test selection changes, the record of what was measured should not."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    ledger = _ledger()
    ledger[name] = {
        "killed": killed, "counted": counted, "equivalent": sorted(equivalent),
        "survivors": survivors, "commit": commit,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    LEDGER.write_text(json.dumps(ledger, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _survivor_notes(survivors: list[str]) -> list[str]:
    """One line per function: its surviving mutants' numbers (a long list stays readable)."""
    by_function: dict[str, list[int]] = {}
    for mutant in survivors:
        function, _, number = mutant.rpartition("__mutmut_")
        by_function.setdefault(function, []).append(int(number))
    return [f"- `{function}` mutants {', '.join(map(str, sorted(numbers)))}: "
            "**survive**, no test yet" for function, numbers in by_function.items()]


def write_doc() -> None:
    """The scores table in docs/mutation.md, from the last complete run of each module."""
    rows = ["| module | what | killed | score | equivalent | survivors | run |",
            "|---|---|---|---|---|---|---|"]
    notes: list[str] = []
    ledger = _ledger()
    for name, (source, *_) in MODULES.items():
        entry = ledger.get(name)
        if entry is None:
            statuses = _statuses(name)
            done = sum(s != "not checked" for s in statuses.values())
            killed = sum(s in ("killed", "timeout") for s in statuses.values())
            if not done:
                rows.append(f"| {name} | `{source}` | not run | | | | |")
                continue
            equivalent_so_far = sum(m in EQUIVALENT for m, s in statuses.items()
                                    if s != "not checked")
            survived = sum(s not in ("killed", "timeout", "not checked")
                           for m, s in statuses.items() if m not in EQUIVALENT)
            rows.append(f"| {name} | `{source}` | **incomplete**: {killed} killed of the "
                        f"{done} run (of {len(statuses)} mutants) | | {equivalent_so_far} | "
                        f"{survived} so far | unfinished |")
            continue
        killed, counted = int(entry["killed"]), int(entry["counted"])  # type: ignore[call-overload]
        equivalent: list[str] = entry["equivalent"]  # type: ignore[assignment]
        survivors: list[str] = entry["survivors"]  # type: ignore[assignment]
        rows.append(f"| {name} | `{source}` | {killed}/{counted} | "
                    f"{100.0 * killed / counted:.1f} % | {len(equivalent)} | "
                    f"{len(survivors)} | {entry['date']}, {entry['commit']} |")
        notes += [f"- `{m}`: {EQUIVALENT.get(m, '(no longer listed)')}" for m in equivalent]
        notes += _survivor_notes(survivors)
    block = "\n".join(rows + (["", *notes] if notes else []))
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(DOC_START)
    _, tail = rest.split(DOC_END)
    DOC.write_text(f"{head}{DOC_START}\n{block}\n{DOC_END}{tail}", encoding="utf-8")
    print(f"wrote {DOC}")


def report(name: str) -> tuple[int, int, list[str]]:
    """(killed, counted, survivors) for a module, from the last run's results."""
    statuses = _statuses(name)
    killed = sum(s in ("killed", "timeout") for s in statuses.values())
    survivors = sorted(m for m, s in statuses.items()
                       if s not in ("killed", "timeout") and m not in EQUIVALENT)
    # Only a mutant that survives can be equivalent; one a test kills is listed by
    # mistake (or a later test observes it) and counts as killed.
    stale = sorted(m for m, s in statuses.items()
                   if m in EQUIVALENT and s in ("killed", "timeout"))
    equivalent = sum(m in EQUIVALENT and m not in stale for m in statuses)
    counted = len(statuses) - equivalent
    score = 100.0 * killed / counted if counted else 0.0
    if statuses and "not checked" not in statuses.values():
        _record(name, killed, counted,
                [m for m in statuses if m in EQUIVALENT and m not in stale], survivors)
    counts = Counter(statuses.values())
    print(f"{name}: {killed}/{counted} killed ({score:.1f} %), {equivalent} equivalent; "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for mutant in survivors:
        print(f"  {statuses[mutant]}: {mutant}   (mutmut show '{mutant}')")
    for mutant in stale:
        print(f"  listed as equivalent but {statuses[mutant]}: {mutant} (drop it from EQUIVALENT)")
    return killed, counted, survivors + stale


def run(name: str, children: int) -> int:
    _, globs, _ = MODULES[name]
    work = _workdir(name)
    env = dict(os.environ)
    if SPEC_DIR.is_dir():
        env.setdefault("CLERK_OPENAPI_DIR", str(SPEC_DIR))  # mutants/ sits one level deeper
    command = [sys.executable, "-m", "mutmut", "run", *globs, "--max-children", str(children)]
    print(f"$ cd {work.relative_to(ROOT)} && " + shlex.join(command[2:]), flush=True)
    return subprocess.call(command, cwd=work, env=env, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help=f"one or more of: {', '.join(MODULES)}")
    parser.add_argument("--all", action="store_true", help="every module, one after another")
    parser.add_argument("--report", action="store_true", help="scores of the last run only")
    parser.add_argument("--write-doc", action="store_true",
                        help="write the scores table of docs/mutation.md from the last runs")
    parser.add_argument("--children", type=int, default=1,
                        help="parallel mutants (default 1: the machine is shared)")
    args = parser.parse_args(argv)
    if args.write_doc:
        write_doc()
        return 0
    names = list(MODULES) if args.all else args.modules
    if not names:
        parser.error("name a module or pass --all")
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    failed = False
    for name in names:
        if not (ROOT / MODULES[name][0]).is_file():
            print(f"{name}: {MODULES[name][0]} does not exist here, skipped")
            continue
        if not args.report and run(name, args.children) != 0:
            print(f"{name}: mutmut failed (run `mutmut run` as printed above to see why)")
            failed = True
            continue
        _, counted, survivors = report(name)
        failed |= bool(survivors) or counted == 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
