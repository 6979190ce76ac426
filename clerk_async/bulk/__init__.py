"""Bulk work on users: import (``bulk_create``), export, metadata changes.

**The invariant.** After any run, under any faults, kill or rerun, every row
is in exactly one outcome class, each outcome is true of Clerk's final state,
and the journal never marks a row done that Clerk does not reflect. How the
importer keeps it is told in :mod:`clerk_async.bulk._bulk_import`.

Layout (data flows one way, nothing here imports :mod:`clerk_async.resources`):
``_rows`` checks rows and names them by typed keys, ``_files`` reads JSONL and
CSV files, ``_export_rows`` maps exported Clerk users to create rows,
``_journal`` is the SQLite journal, ``_report`` the report types, ``_pool``
the worker pool, ``_order`` keeps rows sharing an identifier in file order,
``_evidence`` holds the pre-check's matching rules, ``_bulk_import`` the
importer, ``_undo`` deletes what a journal created, ``_export`` and ``_metadata``
the other two bulk jobs. They are typed against the small
:class:`~clerk_async.bulk._protocol.Users` protocol and get the client's
quota, retry policy, stats and clock in a :class:`BulkContext`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._bulk_import import OnExists, RowInput, RowValue, SystemicError, bulk_create
    from ._export import check_export_target, export
    from ._export_rows import NOT_TRANSFERABLE, is_user_object, user_to_create_row
    from ._files import FORMATS, InputFileError, check_input, count_rows, detect_format, read_rows
    from ._journal import (
        JournalError,
        JournalLockedError,
        JournalWriteError,
        check_journal_path,
        read_journal,
    )
    from ._metadata import MetadataUpdate, bulk_update_metadata
    from ._paths import OutputPathError, check_output_path
    from ._protocol import BulkContext, Users
    from ._report import (
        BulkFailure,
        BulkNote,
        BulkOutcome,
        BulkProgress,
        BulkReport,
        ProgressCallback,
    )
    from ._rows import RowError, row_keys
    from ._undo import UndoReport, bulk_undo

# The engine (SQLite, csv, the importer) loads on first use (PEP 562), so that
# ``clerk.users`` carries its bulk methods without adding ~15 ms to every cold
# start of a client that never imports anything.
_LAZY = {
    "OnExists": "._bulk_import",
    "RowInput": "._bulk_import",
    "RowValue": "._bulk_import",
    "SystemicError": "._bulk_import",
    "bulk_create": "._bulk_import",
    "check_export_target": "._export",
    "export": "._export",
    "NOT_TRANSFERABLE": "._export_rows",
    "is_user_object": "._export_rows",
    "user_to_create_row": "._export_rows",
    "FORMATS": "._files",
    "InputFileError": "._files",
    "detect_format": "._files",
    "check_input": "._files",
    "count_rows": "._files",
    "read_rows": "._files",
    "JournalError": "._journal",
    "JournalLockedError": "._journal",
    "JournalWriteError": "._journal",
    "check_journal_path": "._journal",
    "read_journal": "._journal",
    "MetadataUpdate": "._metadata",
    "bulk_update_metadata": "._metadata",
    "OutputPathError": "._paths",
    "check_output_path": "._paths",
    "BulkContext": "._protocol",
    "Users": "._protocol",
    "BulkFailure": "._report",
    "BulkNote": "._report",
    "BulkOutcome": "._report",
    "BulkProgress": "._report",
    "BulkReport": "._report",
    "ProgressCallback": "._report",
    "RowError": "._rows",
    "row_keys": "._rows",
    "UndoReport": "._undo",
    "bulk_undo": "._undo",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "FORMATS",
    "NOT_TRANSFERABLE",
    "BulkContext",
    "BulkFailure",
    "BulkNote",
    "BulkOutcome",
    "BulkProgress",
    "BulkReport",
    "InputFileError",
    "JournalError",
    "JournalLockedError",
    "JournalWriteError",
    "MetadataUpdate",
    "OutputPathError",
    "OnExists",
    "ProgressCallback",
    "RowError",
    "RowInput",
    "RowValue",
    "SystemicError",
    "UndoReport",
    "Users",
    "bulk_create",
    "bulk_undo",
    "bulk_update_metadata",
    "check_export_target",
    "check_input",
    "check_journal_path",
    "check_output_path",
    "count_rows",
    "detect_format",
    "export",
    "is_user_object",
    "read_journal",
    "read_rows",
    "row_keys",
    "user_to_create_row",
]
