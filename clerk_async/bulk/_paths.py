"""Checking a file we are about to create or overwrite, before any request."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import IO

__all__ = ["OutputPathError", "check_output_path", "write_beside"]


class OutputPathError(ValueError):
    """A file the run must write cannot be written (reported before any request)."""


def check_output_path(path: str | os.PathLike[str], what: str) -> None:
    """Raise :class:`OutputPathError` naming ``what`` if ``path`` cannot be written."""
    text = os.fspath(path)
    if os.path.isdir(text):
        raise OutputPathError(f"{what} {text} is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(parent):
        raise OutputPathError(f"{what} {text}: directory {parent} does not exist")
    target = text if os.path.exists(text) else parent
    if not os.access(target, os.W_OK):
        raise OutputPathError(f"{what} {text} is not writable")


@contextlib.contextmanager
def write_beside(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary file that becomes ``path`` only when the block ends without error.

    It is written next to ``path`` and renamed over it at the end, so a run
    that fails half-way leaves no partial file (and an old file untouched).
    The file is readable by its owner only: it holds users' data.
    """
    text = os.fspath(path)
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(text)),
                                     prefix=f".{os.path.basename(text)}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(temporary, text)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
