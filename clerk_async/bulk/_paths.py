"""Checking a file we are about to create or overwrite, before any request."""

from __future__ import annotations

import os

__all__ = ["OutputPathError", "check_output_path"]


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
