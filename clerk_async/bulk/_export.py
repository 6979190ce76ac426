"""Writing every user as one JSON object per line (``users.export``).

The lines are Clerk user objects exactly as the API returns them, which is
also what ``bulk_create`` and ``clerk-users import`` read back (see
:mod:`clerk_async.bulk._export_rows`).
"""

from __future__ import annotations

import asyncio
import io
import os
from typing import IO, Any

from .._convert import dumps, unstructure
from ._protocol import Users

__all__ = ["ExportTargetError", "check_export_target", "export"]


class ExportTargetError(ValueError):
    """The export file cannot be written (reported before any request)."""


def check_export_target(path: str | os.PathLike[str]) -> None:
    """Raise :class:`ExportTargetError` for a path that cannot receive an export."""
    text = os.fspath(path)
    if os.path.isdir(text):
        raise ExportTargetError(f"export target {text} is a directory; give a file name")
    parent = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(parent):
        raise ExportTargetError(f"export target {text}: directory {parent} does not exist")
    writable = os.access(text, os.W_OK) if os.path.exists(text) else os.access(parent, os.W_OK)
    if not writable:
        raise ExportTargetError(f"export target {text} is not writable")


async def export(users: Users, target: str | os.PathLike[str] | IO[Any]) -> int:
    """The engine behind ``clerk.users.export``: every user as one JSON line."""
    if isinstance(target, str | os.PathLike):
        check_export_target(target)
        handle: IO[Any] = await asyncio.to_thread(open, target, "wb")
        try:
            return await _export_to(users, handle, text=False)
        finally:
            await asyncio.to_thread(handle.close)
    return await _export_to(users, target, text=isinstance(target, io.TextIOBase))


async def _export_to(users: Users, handle: IO[Any], *, text: bool) -> int:
    count = 0
    lines: list[bytes] = []

    def write(chunk: list[bytes]) -> None:
        data = b"".join(chunk)
        handle.write(data.decode("utf-8") if text else data)

    async for user in users.iter():
        lines.append(dumps(unstructure(user)) + b"\n")
        count += 1
        if len(lines) >= 500:
            await asyncio.to_thread(write, lines)
            lines = []
    if lines:
        await asyncio.to_thread(write, lines)
    await asyncio.to_thread(handle.flush)
    return count
