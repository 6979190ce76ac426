"""``clerk-users``: import users from JSONL/JSON/CSV and export them, from a shell.

    export CLERK_SECRET_KEY=sk_test_...
    clerk-users import users.jsonl --journal users.journal
    clerk-users export all-users.jsonl
    clerk-users import examples/users.jsonl --fake     # no Clerk account needed
    clerk-users import users.jsonl --dry-run --check-instance  # reads only
    clerk-users undo --journal users.journal           # delete what that import created

The secret key is read from ``CLERK_SECRET_KEY`` only: a flag would leave it
in shell history and process listings. The exit statuses are listed in
:data:`EXIT_CODES` (and in ``--help``).

``--fake`` serves an in-process FakeClerk with a development instance's quota
(100 requests / 10 s, so ~300 demo users take about 30 s); ``--fake-rate``
changes it, e.g. ``--fake-rate 1000/1s`` or ``none``.

Output: the summary (and the line naming the instance about to be written
to) on stdout, progress and errors on stderr; with ``--json`` stdout holds
only one JSON object and all the text for people goes to stderr; ``--quiet``
keeps only errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from ._auth import instance_key_id, key_kind
from ._client import AsyncClerk
from ._convert import dumps
from ._errors import AuthenticationError, ClerkError, PermissionDeniedError
from ._version import __version__
from .bulk import (
    FORMATS,
    BulkProgress,
    BulkReport,
    InputFileError,
    JournalError,
    JournalWriteError,
    OutputPathError,
    SystemicError,
    check_export_target,
    check_input,
    check_journal_path,
    check_output_path,
    count_rows,
    detect_format,
    read_rows,
)

__all__ = ["EXIT_CODES", "main"]

ENV_KEY = "CLERK_SECRET_KEY"
DEFAULT_FAKE_RATE = "100/10s"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SYSTEMIC = 0, 1, 2, 3
#: What each exit status means (also printed by ``--help``).
EXIT_CODES = f"""\
exit status:
  {EXIT_OK}  every row done (or the export written)
  {EXIT_FAILED}  some rows failed (they are in the failures file)
  {EXIT_USAGE}  usage or path error, or the journal is in use by another import
     (all checked before the first request)
  {EXIT_SYSTEMIC}  the run stopped on a systemic failure (key refused, Clerk unreachable
     or failing); the journal is consistent
  130  interrupted (Ctrl-C)
"""

IMPORT_EXAMPLES = f"""\
examples:
  clerk-users import examples/users.csv --dry-run      # check the rows, no key needed
  export {ENV_KEY}=sk_test_...
  clerk-users import users.jsonl --journal users.journal --on-exists update
  clerk-users import users.jsonl.failures.jsonl        # the failed rows, once fixed
  some-command | clerk-users import - --format jsonl --json > summary.json
  clerk-users import examples/users.jsonl --fake       # no Clerk account needed

{EXIT_CODES}"""


class UsageError(Exception):
    """Bad invocation: reported in one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clerk-users",
        description="Import and export Clerk users. The secret key is read from "
        f"${ENV_KEY}.", epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--base-url", default=None, metavar="URL",
                         help="API base URL (default: $CLERK_API_URL or Clerk's API)")
        sub.add_argument("--rate", default="auto", metavar="QUOTA",
                         help="client-side pacing: auto (from the key kind), e.g. 1000/10s, "
                         "or none")
        sub.add_argument("--fake", action="store_true",
                         help="run against an embedded FakeClerk (no account or key needed)")
        sub.add_argument("--fake-rate", default=None, metavar="QUOTA",
                         help=f"with --fake: the fake's quota, e.g. {DEFAULT_FAKE_RATE} "
                         "(default) or none")
        sub.add_argument("-q", "--quiet", action="store_true",
                         help="print nothing but errors (the exit status tells the outcome)")
        sub.add_argument("--json", action="store_true",
                         help="print a JSON summary on stdout; text for people goes to stderr")

    imp = commands.add_parser(
        "import", help="create a user per row of a JSON Lines, JSON or CSV file",
        description="Create a Clerk user per row of FILE, paced under the quota, each row "
        "at most once (rerun with the same --journal to resume).",
        epilog=IMPORT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("file",
                     help="rows to import: .jsonl (one JSON object per line), .json (an "
                     "array of objects), .csv (a header of create-parameter names), a "
                     "failures file, or - for stdin (with --format)")
    imp.add_argument("--format", choices=FORMATS, default=None,
                     help="how FILE is written (default: from its extension, else from "
                     "its first bytes)")
    imp.add_argument("--journal", type=Path, default=None, metavar="PATH",
                     help="append-only record of finished rows; rerun with it to resume")
    imp.add_argument("--concurrency", type=int, default=None, metavar="N",
                     help="requests in flight (default: from the quota)")
    imp.add_argument("--on-exists", choices=("skip", "update", "error"), default="skip",
                     help="when a row's identifier is taken (default: skip)")
    imp.add_argument("--failures", type=Path, default=None, metavar="PATH",
                     help="where to write failed rows, each with its row number and "
                     "error, to fix and import again (default: FILE.failures.jsonl; "
                     "stdin.failures.jsonl for -)")
    imp.add_argument("--dry-run", action="store_true",
                     help=f"check every row, send nothing (no ${ENV_KEY} needed)")
    imp.add_argument("--check-instance", action="store_true",
                     help="with --dry-run: look every row up in the instance (reads only) and "
                     "report how many would be created, exist already or clash")
    imp.add_argument("--encoding", default=None,
                     help="text encoding of a CSV file (default: utf-8), e.g. cp1252")
    common(imp)
    from .migrate._cli import add_arguments as add_migration_arguments

    add_migration_arguments(imp)

    undo = commands.add_parser(
        "undo", help="delete exactly the users that imports with this journal created",
        description="Delete the users the journal's import runs created (never ones that "
        "existed or were updated). Resumable: rerun after an interruption.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    undo.add_argument("--journal", type=Path, required=True, metavar="PATH",
                      help="the --journal of the import(s) to undo")
    undo.add_argument("--dry-run", action="store_true",
                      help="list the users that would be deleted, delete nothing")
    common(undo)

    exp = commands.add_parser(
        "export", help="write every user as JSONL",
        description="Write every user of the instance as one JSON object per line.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    exp.add_argument("file", help="where to write the users, or - for stdout")
    exp.add_argument("-f", "--force", action="store_true",
                     help="replace FILE if it exists (without it an existing FILE is refused)")
    common(exp)
    return parser


# --------------------------------------------------------------------------- output


@attrs.define
class _Out:
    """Where text for people and the JSON summary go, per --quiet and --json."""

    quiet: bool = False
    json: bool = False

    @property
    def text(self) -> IO[str] | None:
        """The stream for people's text (summaries), or None under --quiet."""
        if self.quiet:
            return None
        return sys.stderr if self.json else sys.stdout

    def say(self, message: str) -> None:
        stream = self.text
        if stream is not None:
            print(message, file=stream, flush=True)

    def result(self, document: dict[str, Any]) -> None:
        if self.json:
            sys.stdout.buffer.write(dumps(document) + b"\n")
            sys.stdout.flush()


def _report_fields(report: BulkReport) -> dict[str, Any]:
    """Every count of the report, generically (new report fields come along)."""
    fields = attrs.asdict(report, filter=lambda a, _: a.name not in ("failures", "outcomes"))
    fields.update(done=report.done, ok=report.ok)
    return fields


def _summary(name: str, report: BulkReport, elapsed: float, stats: dict[str, Any],
             failures: Path | None) -> str:
    sent = report.done - report.skipped_from_journal
    rows = [
        ("created", report.created),
        ("existed", report.existed),
        ("updated", report.updated),
        ("failed", report.failed),
        ("skipped (journal)", report.skipped_from_journal),
    ]
    if report.validated:
        rows.append(("validated (dry run)", report.validated))
    if report.unprotected:
        rows.append(("without identifier", report.unprotected))
    if report.ambiguous:
        rows.append(("ambiguous (see notes)", report.ambiguous))
    for label, value in (("would create", report.would_create),
                         ("exist already", report.exist_already), ("clash", report.clashes)):
        if value:
            rows.append((label, value))
    rows.append(("total rows", report.done))
    lines = [f"Import of {name}", "-" * 32]
    lines += [f"  {label:<20}{value:>10}" for label, value in rows]
    lines.append("-" * 32)
    lines += _not_carried(report)
    rate = sent / elapsed if elapsed > 0 else 0.0
    lines.append(f"  elapsed {elapsed:.1f} s, {rate:.1f} users/s")
    if stats.get("requests"):
        lines.append(f"  requests {stats['requests']}, retries {stats['retries']}, "
                     f"429s received {stats['rate_limited']}")
        lines.append(f"  held back by the quota {stats['quota_wait_wall']:.1f} s of the "
                     f"{elapsed:.1f} s")
    if failures is not None:
        lines.append(f"  failed rows written to {failures} (fix them, then import that file)")
    return "\n".join(lines)


_NOTICES_SHOWN = 10


def _not_carried(report: BulkReport) -> list[str]:
    """What the run did not carry, by heading: nothing is lost without a line saying so."""
    table = {kind: dict(reasons) for kind, reasons in report.not_carried.items()}
    if report.not_transferable:  # Clerk never exports these
        table.setdefault("not transferable", {}).update(report.not_transferable)
    if not any(table.values()) and not report.notices:
        return []
    lines = ["  not carried (users):"]
    for kind, reasons in table.items():
        if reasons:
            lines.append(f"    {kind}")
            lines += [f"      {count:>7}  {reason}" for reason, count in reasons.items()]
    lines += [f"  ! {notice}" for notice in report.notices[:_NOTICES_SHOWN]]
    if len(report.notices) > _NOTICES_SHOWN:  # all of them are on the report (--json)
        lines.append(f"  ! ... and {len(report.notices) - _NOTICES_SHOWN} more")
    return lines


# --------------------------------------------------------------------------- commands


def _rate_limits(value: str) -> Any:
    from ._ratelimit import RateLimits, parse_quota

    if value == "auto":
        return "auto"
    if value.lower() in ("none", "0", ""):
        return None
    try:
        return RateLimits(instance=parse_quota(value, "--rate"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _instance(args: argparse.Namespace) -> dict[str, Any]:
    """Which Clerk instance the run talks to, from facts that do not reveal the key."""
    if args.fake:
        return {"kind": "fake", "base_url": None, "key_fingerprint": None}
    key = os.environ.get(ENV_KEY) or None
    prefix = key_kind(key)
    kind = {"sk_live_": "production", "sk_test_": "development"}.get(prefix or "", "unknown")
    base = args.base_url or os.environ.get("CLERK_API_URL") or "https://api.clerk.com/v1"
    # Clerk's secret keys do not name their instance; a one-way fingerprint of the
    # key tells two instances apart and gives nothing of it away.
    return {"kind": kind, "base_url": base, "key_fingerprint": instance_key_id(key)[:8]}


def _announce(out: _Out, instance: dict[str, Any]) -> None:
    if instance["kind"] == "fake":
        out.say("Writing to the embedded FakeClerk (--fake)")
        return
    kind = instance["kind"]
    label = "a PRODUCTION" if kind == "production" else f"a {kind}"
    out.say(f"Writing to {label} instance at {instance['base_url']} "
            f"(key fingerprint {instance['key_fingerprint']})")


@contextlib.asynccontextmanager
async def _client(args: argparse.Namespace) -> AsyncIterator[AsyncClerk]:
    """An AsyncClerk for the command: to the embedded fake, or to Clerk with the env key."""
    if not args.fake:
        key = os.environ.get(ENV_KEY)
        # A dry run sends nothing, so needs no key; unless it reads the instance.
        dry_run = (args.command == "import" and args.dry_run
                   and not getattr(args, "check_instance", False))
        if not key and not dry_run:
            raise UsageError(f"set the {ENV_KEY} environment variable to your Clerk secret key")
        async with AsyncClerk(secret_key=key or None, base_url=args.base_url,
                              rate_limit=None if dry_run else _rate_limits(args.rate)) as clerk:
            yield clerk
        return
    from ._ratelimit import RateLimits
    from .testing import FakeClerk

    quota = _fake_quota(args)
    async with FakeClerk(rate_limit=str(quota) if quota else None) as fake:
        if args.command == "export":
            for i in range(25):  # something to export
                fake.store.add_user(email_address=f"demo{i}@example.com", first_name="Demo",
                                    last_name=str(i))
        async with AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url,
                              rate_limit=RateLimits(instance=quota)) as clerk:
            yield clerk


def _fake_quota(args: argparse.Namespace) -> Any:
    from ._ratelimit import parse_quota

    value = args.fake_rate if args.fake_rate is not None else DEFAULT_FAKE_RATE
    if value.lower() in ("none", "0", ""):
        return None
    try:
        return parse_quota(value, "--fake-rate")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _check_common(args: argparse.Namespace) -> None:
    """Flags that only make sense together, before anything is read or sent."""
    if args.fake_rate is not None and not args.fake:
        raise UsageError("--fake-rate sets the embedded fake's quota; it needs --fake "
                         "(for Clerk itself, see --rate)")
    if args.fake and args.base_url:
        raise UsageError("--fake and --base-url cannot be combined")
    if args.fake:
        _fake_quota(args)
    elif args.rate != "auto":
        _rate_limits(args.rate)


def _check_import_paths(args: argparse.Namespace) -> Path:
    """Every path problem, before the first request; returns the failures path."""
    file = Path(args.file)
    if not file.is_file():
        raise UsageError(f"no such file: {file}")
    if not os.access(file, os.R_OK):
        raise UsageError(f"{file} is not readable")
    try:
        if args.source is None:
            args.format = detect_format(file, args.format)
            check_input(file, args.encoding, args.format)
        else:  # another system's export: its reader knows the layout
            check_input(file, args.encoding, "csv" if file.suffix.lower() == ".csv" else "json")
        if args.journal is not None:
            check_journal_path(str(args.journal))
    except (InputFileError, JournalError) as exc:
        raise UsageError(str(exc)) from None
    failures: Path = args.failures or Path(args.name + ".failures.jsonl")
    _check_failures_path(failures, file, args.journal)
    return failures


def _check_failures_path(failures: Path, file: Path, journal: Path | None) -> None:
    """--failures must be a plain file that is neither the input nor the journal."""
    for other, what in ((file, "the input file"), (journal, "the --journal")):
        if other is not None and _same_file(failures, other):
            raise UsageError(f"--failures {failures} is {what}; it would be overwritten")
    if failures.exists() and not failures.is_file():
        raise UsageError(f"--failures {failures} is not a regular file (a directory, FIFO "
                         "or device); give a file name")
    try:
        check_output_path(failures, "--failures")
    except OutputPathError as exc:
        raise UsageError(str(exc)) from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return (a.exists() and b.exists() and os.path.samefile(a, b)) or \
            os.path.abspath(a) == os.path.abspath(b)
    except OSError:
        return False


@contextlib.contextmanager
def _input_file(args: argparse.Namespace) -> Iterator[None]:
    """Make ``args.file`` a path: stdin (``-``) is copied to a temporary file first,
    since the rows are counted (for the progress total) before they are read."""
    args.name = args.file if args.file != "-" else "stdin"
    if args.file != "-":
        yield
        return
    if args.source is not None:
        raise UsageError(f"--from {args.source} reads the export from a file, not stdin (-)")
    if args.format is None:
        raise UsageError("reading rows from stdin (-) needs --format "
                         f"{'|'.join(FORMATS)}")
    with tempfile.TemporaryDirectory(prefix="clerk-users-") as folder:
        copy = Path(folder) / ("stdin.csv" if args.format == "csv" else "stdin.json")
        with copy.open("wb") as handle:
            shutil.copyfileobj(sys.stdin.buffer, handle)
        args.file = str(copy)
        yield


async def _import(args: argparse.Namespace, out: _Out) -> int:
    _check_common(args)
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.check_instance and not args.dry_run:
        raise UsageError("--check-instance needs --dry-run (it only reads)")
    if args.format is not None and args.source is not None:
        raise UsageError(f"--format is for files of create rows; --from {args.source} reads "
                         "that system's own export layout")
    with _input_file(args):
        return await _run_import(args, out)


async def _run_import(args: argparse.Namespace, out: _Out) -> int:
    failures = _check_import_paths(args)
    rows, total = await asyncio.to_thread(_rows_of, args, out)
    instance = _instance(args)
    started = time.monotonic()
    async with _client(args) as clerk:
        if not args.dry_run:
            _announce(out, instance)
        display = None
        if not args.quiet:
            from ._progress import ImportDisplay

            display = ImportDisplay(sys.stderr, total, clerk.stats)
        report = None
        stopped: SystemicError | None = None
        try:
            report = await clerk.users.bulk_create(
                rows, concurrency=args.concurrency,
                journal=args.journal, on_exists=args.on_exists,
                progress=_with_total(display, total), dry_run=args.dry_run,
                check_instance=args.check_instance,
                # Files can hold millions of rows: the journal, not memory, keeps the ids.
                keep_outcomes=False,
            )
        except JournalError as exc:  # e.g. in use by another import
            raise UsageError(str(exc)) from None
        except SystemicError as exc:
            if exc.report is None:
                raise
            # Stopped: the summary of what was done is printed all the same.
            stopped, report = exc, exc.report
        finally:
            if display is not None:
                display.close(finished=report is not None and stopped is None)
    elapsed = time.monotonic() - started
    stats = clerk.stats.to_dict()
    written: Path | None = None
    problem = None
    if report.failures:
        try:
            await asyncio.to_thread(_write_failures, failures, report)
            written = failures
        except OSError as exc:
            problem = f"clerk-users: could not write failed rows to {failures}: {exc.strerror}"
    notes = _write_notes(Path(args.name + ".notes.jsonl"), report) if report.notes else None
    code = EXIT_OK if report.ok else EXIT_FAILED
    if stopped is not None:
        code = EXIT_SYSTEMIC
    out.say(_summary(args.name, report, elapsed, stats, written))
    if problem:
        print(problem, file=sys.stderr)
    out.result({
        "command": "import", "file": args.name, "exit_status": code,
        "dry_run": args.dry_run, "instance": instance, "elapsed_s": round(elapsed, 3),
        "report": _report_fields(report), "requests": stats,
        "failures_file": str(written) if written else None,
        "notes_file": str(notes) if notes else None,
        "stopped": _stopped(stopped, args) if stopped is not None else None,
    })
    if stopped is not None:
        raise stopped  # main prints the one line and exits 3
    return code


def _write_notes(path: Path, report: BulkReport) -> Path | None:
    """Rows settled with a caveat (``ambiguous_owner``), one JSON object a line."""
    try:
        with open(path, "wb") as handle:
            for note in report.notes:
                handle.write(dumps(note.to_dict()) + b"\n")
    except OSError as exc:
        print(f"clerk-users: could not write notes to {path}: {exc.strerror}", file=sys.stderr)
        return None
    return path


async def _undo(args: argparse.Namespace, out: _Out) -> int:
    _check_common(args)
    try:
        check_journal_path(str(args.journal))
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    if not args.journal.is_file():
        raise UsageError(f"no such journal: {args.journal}")
    async with _client(args) as clerk:
        try:
            report = await clerk.users.bulk_undo(args.journal, dry_run=args.dry_run)
        except JournalError as exc:
            raise UsageError(str(exc)) from None
    code = EXIT_OK if report.ok else EXIT_FAILED
    if args.dry_run:
        for item in report.listed:
            out.say(f"{item.user_id}\trow {item.row}\t{item.key}")
        out.say(f"{len(report.listed)} users would be deleted")
    else:
        out.say(f"Deleted {report.deleted} users ({report.already_gone} were gone already), "
                f"{report.failed} failed")
        for failure in report.failures:
            print(f"  row {failure.row} {failure.key}: {failure.code}: {failure.message}",
                  file=sys.stderr)
    out.result({
        "command": "undo", "journal": str(args.journal), "exit_status": code,
        "dry_run": args.dry_run, "deleted": report.deleted,
        "already_gone": report.already_gone, "failed": report.failed,
        "users": [attrs.asdict(item) for item in report.listed],
    })
    return code


def _rows_of(args: argparse.Namespace, out: _Out) -> tuple[Any, int]:
    """The rows to import and their count: CreateUser rows, or another system's export."""
    if args.source is None:
        return (read_rows(args.file, encoding=args.encoding, file_format=args.format),
                count_rows(args.file, encoding=args.encoding, file_format=args.format))
    from .migrate import MigrationError
    from .migrate._cli import open_source, preview

    try:
        reader = open_source(args)  # reads the export once: refusals come before any request
    except MigrationError as exc:
        raise UsageError(str(exc)) from None
    if args.dry_run:
        out.say(preview(reader))
    # Skipped records are never sent: the progress total counts the rows that are.
    return reader, reader.count - sum(reader.skipped.values())


def _with_total(display: Any, total: int) -> Any:
    if display is None:
        return None

    def show(progress: BulkProgress) -> None:
        # The engine reads rows lazily and cannot know the count; we counted first.
        display(attrs.evolve(progress, total=total))
    return show


def _write_failures(path: Path, report: BulkReport) -> None:
    from .bulk._paths import write_beside

    with write_beside(path) as handle:
        for failure in report.failures:
            handle.write(dumps(failure.to_dict()) + b"\n")


async def _export(args: argparse.Namespace, out: _Out) -> int:
    _check_common(args)
    to_stdout = args.file == "-"
    if to_stdout and args.json:
        raise UsageError("export - writes the users to stdout; --json cannot share it")
    if not to_stdout:
        try:
            check_export_target(args.file)
        except OutputPathError as exc:
            raise UsageError(str(exc)) from None
        if os.path.exists(args.file) and not args.force:
            raise UsageError(f"{args.file} exists; pass --force to replace it")
    started = time.monotonic()
    async with _client(args) as clerk:
        count = await clerk.users.export(sys.stdout.buffer if to_stdout else args.file)
    where = "stdout" if to_stdout else args.file
    message = f"Exported {count} users to {where}"
    if to_stdout:
        if not args.quiet:
            print(message, file=sys.stderr)
    else:
        out.say(message)
    out.result({"command": "export", "file": where, "exit_status": EXIT_OK, "users": count,
                "instance": _instance(args), "elapsed_s": round(time.monotonic() - started, 3),
                "requests": clerk.stats.to_dict()})
    return EXIT_OK


def _stopped(exc: SystemicError, args: argparse.Namespace) -> str:
    """What is true after a systemic stop, and what to do about it."""
    if isinstance(exc.__cause__, JournalWriteError):
        return f"{exc}; free space or fix the disk, then rerun the same command to resume"
    if isinstance(exc.__cause__, AuthenticationError | PermissionDeniedError):
        return f"{exc}; check {ENV_KEY} (no row was sent after the refusal)"
    if getattr(args, "journal", None) is not None:
        return f"{exc}; rerun the same command to resume"
    return (f"{exc}; rerunning sends the rows again (--on-exists decides about the users "
            "that were created); pass --journal PATH to resume where a run stopped")


def _interrupted(args: argparse.Namespace) -> str:
    if getattr(args, "journal", None) is not None:
        return "interrupted; rerun with the same --journal to resume"
    if args.command == "import" and not args.dry_run:
        return ("interrupted; rerunning sends every row again that was not confirmed "
                "(--on-exists decides about users that exist); pass --journal PATH to "
                "resume where a run stopped")
    return "interrupted"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``clerk-users`` and ``python -m clerk_async``."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    out = _Out(quiet=args.quiet, json=args.json)
    command = {"import": _import, "undo": _undo}.get(args.command, _export)
    try:
        return asyncio.run(command(args, out))
    except UsageError as exc:
        print(f"clerk-users: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SystemicError as exc:
        print(f"clerk-users: {_stopped(exc, args)}", file=sys.stderr)
        return EXIT_SYSTEMIC
    except ClerkError as exc:
        # Fatal for the whole run (e.g. an export meeting a wrong key or an
        # unreachable Clerk); an import's row-level errors never get here.
        print(f"clerk-users: {exc}", file=sys.stderr)
        return EXIT_SYSTEMIC
    except KeyboardInterrupt:
        print(f"\nclerk-users: {_interrupted(args)}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
