"""``clerk-users``: import users from JSONL/CSV and export them, from a shell.

    export CLERK_SECRET_KEY=sk_test_...
    clerk-users import users.jsonl --journal users.journal
    clerk-users export all-users.jsonl
    clerk-users import examples/users.jsonl --fake     # no Clerk account needed
    clerk-users undo --journal users.journal           # delete what that import created

The secret key is read from ``CLERK_SECRET_KEY`` only: a flag would leave it
in shell history and process listings. Exit status: 0 when every row made
it, 1 when some rows failed, 2 for usage and path errors (bad flags, no key,
an unusable file, journal or failures path, a journal in use by another
import; all checked before the first request), 3 when the run stopped on a
systemic failure (a refused key, Clerk unreachable or failing) with the
journal consistent, so the same command resumes.

``--fake`` serves an in-process FakeClerk with a development instance's quota
(100 requests / 10 s, so ~300 demo users take about 30 s); ``--fake-rate``
changes it, e.g. ``--fake-rate 1000/1s`` or ``none``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import IO, Any

from ._client import AsyncClerk
from ._convert import dumps
from ._errors import ClerkError
from ._version import __version__
from .bulk import (
    BulkProgress,
    BulkReport,
    InputFileError,
    JournalError,
    OutputPathError,
    SystemicError,
    check_export_target,
    check_input,
    check_journal_path,
    check_output_path,
    count_rows,
    read_rows,
)

__all__ = ["main"]

ENV_KEY = "CLERK_SECRET_KEY"
DEFAULT_FAKE_RATE = "100/10s"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SYSTEMIC = 0, 1, 2, 3


IMPORT_EXAMPLES = f"""\
examples:
  clerk-users import examples/users.csv --dry-run      # check the rows, no key needed
  export {ENV_KEY}=sk_test_...
  clerk-users import users.jsonl --journal users.journal --on-exists update
  clerk-users import examples/users.jsonl --fake       # no Clerk account needed
"""


class UsageError(Exception):
    """Bad invocation: reported in one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clerk-users",
        description="Import and export Clerk users. The secret key is read from "
        f"${ENV_KEY}.",
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
        sub.add_argument("--fake-rate", default=DEFAULT_FAKE_RATE, metavar="QUOTA",
                         help="the embedded fake's quota, e.g. 100/10s (default) or none")

    imp = commands.add_parser(
        "import", help="create a user per row of a .jsonl or .csv file",
        description="Create a Clerk user per row of FILE, paced under the quota, each row "
        "at most once (rerun with the same --journal to resume).",
        epilog=IMPORT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("file", type=Path,
                     help="rows to import: .jsonl (one JSON object per line) or .csv "
                     "(a header of create-parameter names)")
    imp.add_argument("--journal", type=Path, default=None, metavar="PATH",
                     help="append-only record of finished rows; rerun with it to resume")
    imp.add_argument("--concurrency", type=int, default=None, metavar="N",
                     help="requests in flight (default: from the quota)")
    imp.add_argument("--on-exists", choices=("skip", "update", "error"), default="skip",
                     help="when a row's identifier is taken (default: skip)")
    imp.add_argument("--failures", type=Path, default=None, metavar="PATH",
                     help="where to write failed rows (default: FILE.failures.jsonl)")
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
        "existed or were updated). Resumable: rerun after an interruption.")
    undo.add_argument("--journal", type=Path, required=True, metavar="PATH",
                      help="the --journal of the import(s) to undo")
    undo.add_argument("--dry-run", action="store_true",
                      help="list the users that would be deleted, delete nothing")
    common(undo)

    exp = commands.add_parser("export", help="write every user as JSONL")
    exp.add_argument("file", type=Path, help="where to write the users, one JSON object per line")
    common(exp)
    return parser


# --------------------------------------------------------------------------- progress


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    """Progress on a stream: one redrawn line on a terminal, periodic lines elsewhere."""

    def __init__(self, stream: IO[str], *, interval: float | None = None) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (0.1 if self.tty else 2.0)
        self.last = 0.0
        self.width = 0

    @staticmethod
    def line(p: BulkProgress) -> str:
        parts = []
        if p.total:
            share = min(1.0, p.done / p.total)
            filled = int(share * 24)
            parts.append(f"[{'#' * filled}{'.' * (24 - filled)}] {p.done}/{p.total} "
                         f"{share:6.1%}")
        else:
            parts.append(f"{p.done} rows")
        parts.append(f"{p.rate_per_s:7.1f} users/s")
        if p.total and p.rate_per_s > 0:
            parts.append(f"ETA {_duration((p.total - p.done) / p.rate_per_s)}")
        parts.append(f"quota wait {p.quota_wait_s:.1f}s")
        if p.failed:
            parts.append(f"failed {p.failed}")
        return "  ".join(parts)

    def __call__(self, progress: BulkProgress, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < self.interval:
            return
        self.last = now
        text = self.line(progress)
        if self.tty:
            pad = max(0, self.width - len(text))
            self.width = len(text)
            self.stream.write("\r" + text + " " * pad + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _summary(file: Path, report: BulkReport, elapsed: float, failures: Path | None) -> str:
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
    for name, value in (("would create", report.would_create),
                        ("exist already", report.exist_already), ("clash", report.clashes)):
        if value:
            rows.append((name, value))
    rows.append(("total rows", report.done))
    lines = [f"Import of {file}", "-" * 32]
    lines += [f"  {name:<20}{value:>10}" for name, value in rows]
    lines.append("-" * 32)
    if report.not_transferable:
        # Clerk never exports these; say so rather than drop them silently.
        lost = ", ".join(f"{kind} ({count} users)"
                         for kind, count in sorted(report.not_transferable.items()))
        lines.append(f"  not transferable from the export, to be set up again: {lost}")
    rate = sent / elapsed if elapsed > 0 else 0.0
    lines.append(f"  elapsed {elapsed:.1f} s, {rate:.1f} users/s")
    if failures is not None:
        lines.append(f"  failed rows written to {failures}")
    return "\n".join(lines)


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


@contextlib.asynccontextmanager
async def _client(args: argparse.Namespace) -> AsyncIterator[AsyncClerk]:
    """An AsyncClerk for the command: to the embedded fake, or to Clerk with the env key."""
    if not args.fake:
        key = os.environ.get(ENV_KEY)
        # A dry run sends nothing: no key needed (unless it reads the instance).
        dry_run = getattr(args, "dry_run", False) and not getattr(args, "check_instance", False)
        if args.command == "undo":
            dry_run = False
        if not key and not dry_run:
            raise UsageError(f"set the {ENV_KEY} environment variable to your Clerk secret key")
        async with AsyncClerk(secret_key=key or None, base_url=args.base_url,
                              rate_limit=None if dry_run else _rate_limits(args.rate)) as clerk:
            yield clerk
        return
    if args.base_url:
        raise UsageError("--fake and --base-url cannot be combined")
    from ._ratelimit import RateLimits, parse_quota
    from .testing import FakeClerk

    rate = None if args.fake_rate.lower() in ("none", "0", "") else args.fake_rate
    try:
        quota = parse_quota(rate, "--fake-rate") if rate else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    async with FakeClerk(rate_limit=str(quota) if quota else None) as fake:
        if args.command == "export":
            for i in range(25):  # something to export
                fake.store.add_user(email_address=f"demo{i}@example.com", first_name="Demo",
                                    last_name=str(i))
        async with AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url,
                              rate_limit=RateLimits(instance=quota)) as clerk:
            yield clerk


def _check_import_paths(args: argparse.Namespace) -> Path:
    """Every path problem, before the first request; returns the failures path."""
    file: Path = args.file
    if not file.is_file():
        raise UsageError(f"no such file: {file}")
    if not os.access(file, os.R_OK):
        raise UsageError(f"{file} is not readable")
    try:
        check_input(file, args.encoding)
        if args.journal is not None:
            check_journal_path(str(args.journal))
    except (InputFileError, JournalError) as exc:
        raise UsageError(str(exc)) from None
    failures: Path = args.failures or file.with_name(file.name + ".failures.jsonl")
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


async def _import(args: argparse.Namespace) -> int:
    file: Path = args.file
    failures = _check_import_paths(args)
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.check_instance and not args.dry_run:
        raise UsageError("--check-instance needs --dry-run (it only reads)")
    rows, total = await asyncio.to_thread(_rows_of, args)
    bar = ProgressBar(sys.stderr)
    started = time.monotonic()
    stopped: SystemicError | None = None
    async with _client(args) as clerk:
        try:
            report = await clerk.users.bulk_create(
                rows, concurrency=args.concurrency,
                journal=args.journal, on_exists=args.on_exists,
                progress=_with_total(bar, total), dry_run=args.dry_run,
                check_instance=args.check_instance,
                # Files can hold millions of rows: the journal, not memory, keeps the ids.
                keep_outcomes=False,
            )
        except JournalError as exc:  # e.g. in use by another import
            raise UsageError(str(exc)) from None
        except SystemicError as exc:
            if exc.report is None:
                raise
            stopped, report = exc, exc.report
    elapsed = time.monotonic() - started
    final = BulkProgress(report.done, total, report.created, report.failed,
                         (report.done - report.skipped_from_journal) / max(elapsed, 1e-9),
                         clerk.stats.quota_wait, existed=report.existed,
                         updated=report.updated, skipped=report.skipped_from_journal)
    if stopped is None:  # a stopped run's one line on stderr is the stop itself
        bar(final, final=True)
    elif bar.tty and bar.width:
        sys.stderr.write("\n")  # end the redrawn progress line
    written: Path | None = None
    problem = None
    if report.failures:
        try:
            await asyncio.to_thread(_write_failures, failures, report)
            written = failures
        except OSError as exc:
            problem = f"clerk-users: could not write failed rows to {failures}: {exc.strerror}"
    if report.notes:
        _write_notes(file.with_name(file.name + ".notes.jsonl"), report)
    print(_summary(file, report, elapsed, written))
    if problem:
        print(problem, file=sys.stderr)
    if stopped is not None:
        raise stopped
    return EXIT_OK if report.ok else EXIT_FAILED


def _write_notes(path: Path, report: BulkReport) -> None:
    """Rows settled with a caveat (``ambiguous_owner``), one JSON object a line."""
    try:
        with open(path, "wb") as handle:
            for note in report.notes:
                handle.write(dumps(note.to_dict()) + b"\n")
    except OSError as exc:
        print(f"clerk-users: could not write notes to {path}: {exc.strerror}", file=sys.stderr)
        return
    print(f"clerk-users: {len(report.notes)} rows settled with a note in {path}",
          file=sys.stderr)


async def _undo(args: argparse.Namespace) -> int:
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
    if args.dry_run:
        for item in report.listed:
            print(f"{item.user_id}\trow {item.row}\t{item.key}")
        print(f"{len(report.listed)} users would be deleted")
        return EXIT_OK
    print(f"Deleted {report.deleted} users ({report.already_gone} were gone already), "
          f"{report.failed} failed")
    for failure in report.failures:
        print(f"  row {failure.row} {failure.key}: {failure.code}: {failure.message}",
              file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def _rows_of(args: argparse.Namespace) -> tuple[Any, int]:
    """The rows to import and their count: CreateUser rows, or another system's export."""
    if args.source is None:
        return (read_rows(args.file, encoding=args.encoding),
                count_rows(args.file, encoding=args.encoding))
    from .migrate import MigrationError
    from .migrate._cli import open_source, preview

    try:
        reader = open_source(args)  # reads the export once: refusals come before any request
    except MigrationError as exc:
        raise UsageError(str(exc)) from None
    if args.dry_run:
        print(preview(reader))
    return reader, reader.count


def _with_total(bar: ProgressBar, total: int) -> Any:
    def show(progress: BulkProgress) -> None:
        # The engine reads rows lazily and cannot know the count; we counted first.
        bar(BulkProgress(progress.done, total, progress.created, progress.failed,
                         progress.rate_per_s, progress.quota_wait_s, existed=progress.existed,
                         updated=progress.updated, skipped=progress.skipped,
                         elapsed_s=progress.elapsed_s))
    return show


def _write_failures(path: Path, report: BulkReport) -> None:
    with open(path, "wb") as handle:
        for failure in report.failures:
            handle.write(dumps(failure.to_dict()) + b"\n")


async def _export(args: argparse.Namespace) -> int:
    try:
        check_export_target(args.file)
    except OutputPathError as exc:
        raise UsageError(str(exc)) from None
    async with _client(args) as clerk:
        count = await clerk.users.export(args.file)
    print(f"Exported {count} users to {args.file}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``clerk-users`` and ``python -m clerk_async``."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    command = {"import": _import, "undo": _undo}.get(args.command, _export)
    try:
        return asyncio.run(command(args))
    except UsageError as exc:
        print(f"clerk-users: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SystemicError as exc:
        print(f"clerk-users: {exc}; rerun the same command to resume", file=sys.stderr)
        return EXIT_SYSTEMIC
    except ClerkError as exc:
        # Fatal for the whole run (e.g. an export meeting a wrong key or an
        # unreachable Clerk); an import's row-level errors never get here.
        print(f"clerk-users: {exc}", file=sys.stderr)
        return EXIT_SYSTEMIC
    except KeyboardInterrupt:
        print("\nclerk-users: interrupted; rerun with the same --journal to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
