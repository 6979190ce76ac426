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
from ._paths import check_output_path, write_beside
from ._protocol import Users

__all__ = ["check_export_target", "export"]


def check_export_target(path: str | os.PathLike[str]) -> None:
    """Raise :class:`OutputPathError` for a path that cannot receive an export."""
    check_output_path(path, "export target")


async def export(users: Users, target: str | os.PathLike[str] | IO[Any]) -> int:
    """The engine behind ``clerk.users.export``: every user as one JSON line."""
    if isinstance(target, str | os.PathLike):
        check_export_target(target)
        # Only a finished export replaces the file: a failure leaves no half file.
        with write_beside(target) as handle:
            return await _export_to(users, handle, text=False)
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
