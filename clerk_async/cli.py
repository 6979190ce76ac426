"""``clerk-users``: import users from JSONL/CSV and export them, from a shell.

    export CLERK_SECRET_KEY=sk_test_...
    clerk-users import users.jsonl --journal users.journal
    clerk-users export all-users.jsonl
    clerk-users import examples/users.jsonl --fake     # no Clerk account needed

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
    imp.add_argument("--encoding", default=None,
                     help="text encoding of a CSV file (default: utf-8), e.g. cp1252")
    common(imp)
    from .migrate._cli import add_arguments as add_migration_arguments

    add_migration_arguments(imp)

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
    rows.append(("total rows", report.done))
    lines = [f"Import of {file}", "-" * 32]
    lines += [f"  {name:<20}{value:>10}" for name, value in rows]
    lines.append("-" * 32)
    lines += _not_carried(report)
    rate = sent / elapsed if elapsed > 0 else 0.0
    lines.append(f"  elapsed {elapsed:.1f} s, {rate:.1f} users/s")
    if failures is not None:
        lines.append(f"  failed rows written to {failures}")
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


@contextlib.asynccontextmanager
async def _client(args: argparse.Namespace) -> AsyncIterator[AsyncClerk]:
    """An AsyncClerk for the command: to the embedded fake, or to Clerk with the env key."""
    if not args.fake:
        key = os.environ.get(ENV_KEY)
        dry_run = getattr(args, "dry_run", False)  # a dry run sends nothing: no key needed
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
    try:
        check_output_path(failures, "--failures")
    except OutputPathError as exc:
        raise UsageError(str(exc)) from None
    return failures


async def _import(args: argparse.Namespace) -> int:
    file: Path = args.file
    failures = _check_import_paths(args)
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    rows, total = await asyncio.to_thread(_rows_of, args)
    bar = ProgressBar(sys.stderr)
    started = time.monotonic()
    async with _client(args) as clerk:
        try:
            report = await clerk.users.bulk_create(
                rows, concurrency=args.concurrency,
                journal=args.journal, on_exists=args.on_exists,
                progress=_with_total(bar, total), dry_run=args.dry_run,
                # Files can hold millions of rows: the journal, not memory, keeps the ids.
                keep_outcomes=False,
            )
        except JournalError as exc:  # e.g. in use by another import
            raise UsageError(str(exc)) from None
    if args.source is not None:
        report.not_carried, report.notices = rows.not_carried(), list(rows.notices)
    elapsed = time.monotonic() - started
    final = BulkProgress(report.done, total, report.created, report.failed,
                         (report.done - report.skipped_from_journal) / max(elapsed, 1e-9),
                         clerk.stats.quota_wait, existed=report.existed,
                         updated=report.updated, skipped=report.skipped_from_journal)
    bar(final, final=True)
    written: Path | None = None
    problem = None
    if report.failures:
        try:
            await asyncio.to_thread(_write_failures, failures, report)
            written = failures
        except OSError as exc:
            problem = f"clerk-users: could not write failed rows to {failures}: {exc.strerror}"
    print(_summary(file, report, elapsed, written))
    if problem:
        print(problem, file=sys.stderr)
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
    # Skipped records are never sent: the progress total counts the rows that are.
    return reader, reader.count - sum(reader.skipped.values())


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
    command = _import if args.command == "import" else _export
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
