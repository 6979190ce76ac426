"""``python manage.py import_users FILE``: create a Clerk user per row of a file.

FILE is JSON Lines or CSV (by extension), one user per row with CreateUser's
fields, e.g. ``examples/users.jsonl``. The import runs as fast as the
instance's quota allows; with ``--journal`` a rerun after a crash or Ctrl-C
skips every row already done, and never creates a user twice.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from clerk_async.bulk import BulkProgress, count_rows, read_rows
from clerk_sync import Clerk


class ProgressBar:
    """A redrawn line on a terminal; a plain line every few seconds in a log."""

    WIDTH = 30

    def __init__(self, out: OutputWrapper, total: int) -> None:
        self.out = out
        self.total = total
        self.tty = out.isatty()
        self.interval = 0.2 if self.tty else 2.0
        self.last = 0.0
        self.shown = -1

    def __call__(self, progress: BulkProgress) -> None:
        # Called by bulk_create a few times a second, from the client's loop thread.
        now = time.monotonic()
        finished = progress.done >= self.total
        if progress.done == self.shown or (not finished and now - self.last < self.interval):
            return
        self.last, self.shown = now, progress.done
        share = progress.done / self.total if self.total else 1.0
        filled = int(share * self.WIDTH)
        line = (f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {progress.done}/{self.total}"
                f"  {progress.rate_per_s:6.1f} users/s  failed {progress.failed}")
        if self.tty:
            self.out.write("\r" + line, ending="\n" if finished else "")
            self.out.flush()
        else:
            self.out.write(line)


class Command(BaseCommand):
    help = "Create a Clerk user per row of a .jsonl or .csv file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="a .jsonl or .csv file of users")
        parser.add_argument("--journal", type=Path, default=None,
                            help="record of finished rows; rerun with it to resume")
        parser.add_argument("--on-exists", choices=("skip", "update", "error"), default="skip",
                            help="when a row's email/username/external id is taken")
        parser.add_argument("--concurrency", type=int, default=None,
                            help="requests in flight (default: from the quota)")
        parser.add_argument("--dry-run", action="store_true", help="check rows, send nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        file: Path = options["file"]
        if not file.is_file():
            raise CommandError(f"no such file: {file}")
        total = count_rows(file)  # read_rows is lazy; count first for the bar
        # Its own client, rather than the views' one: a batch job wants the
        # SDK's patient default retries, and closes its loop thread when done.
        with Clerk() as clerk:
            report = clerk.users.bulk_create(
                read_rows(file),
                journal=options["journal"],
                on_exists=options["on_exists"],
                concurrency=options["concurrency"],
                dry_run=options["dry_run"],
                progress=ProgressBar(self.stdout, total),
            )
        self.stdout.write(
            f"created {report.created}, existed {report.existed}, updated {report.updated}, "
            f"failed {report.failed}, skipped (journal) {report.skipped_from_journal}"
            + (f", validated {report.validated}" if report.validated else "")
        )
        for failure in report.failures[:20]:
            self.stderr.write(f"  row {failure.row} ({failure.key}): {failure.code}: "
                              f"{failure.message}")
        if report.failed:
            raise CommandError(f"{report.failed} of {report.done} rows failed", returncode=1)
