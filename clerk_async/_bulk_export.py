"""Bulk operations that need no identity lookups: metadata merges and export."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any

from ._bulk_common import BulkReport, aiter_any, check_concurrency, run_pool
from ._bulk_rows import RowError
from ._convert import check_json_value, dumps, unstructure
from ._errors import ClerkError

if TYPE_CHECKING:
    from .bulk import MetadataUpdate
    from .resources.users import Users

__all__ = ["bulk_update_metadata", "export"]

_METADATA = ("public_metadata", "private_metadata", "unsafe_metadata")


def _metadata_of(update: object) -> tuple[str, dict[str, Any]]:
    if not isinstance(update, tuple) or len(update) != 2:
        raise RowError(None, "each update must be a (user_id, {metadata}) pair")
    user_id, values = update
    if not isinstance(user_id, str) or not user_id:
        raise RowError("user_id", "must be a non-empty string")
    if not isinstance(values, Mapping):
        raise RowError(None, f"metadata must be a dict, got {type(values).__name__}")
    for name, value in values.items():
        if name not in _METADATA:
            raise RowError(str(name), "unknown field (use public/private/unsafe_metadata)")
        if value is not None and not isinstance(value, Mapping):
            raise RowError(name, f"must be a JSON object, got {type(value).__name__}")
        try:
            check_json_value(value, name)
        except ValueError as exc:
            raise RowError(name, str(exc)) from None
    return user_id, {k: dict(v) for k, v in values.items() if v is not None}


async def bulk_update_metadata(
    users: Users,
    updates: Iterable[MetadataUpdate] | AsyncIterable[MetadataUpdate],
    *,
    concurrency: int | None = None,
) -> BulkReport:
    """The engine behind ``clerk.users.bulk_update_metadata``."""
    workers = check_concurrency(concurrency, users._transport)
    report = BulkReport()

    async def source() -> AsyncIterator[tuple[int, str, dict[str, Any]]]:
        number = 0
        async for update in aiter_any(updates):
            number += 1
            try:
                user_id, values = _metadata_of(update)
            except RowError as exc:
                report.add_failure(number, _raw_update_key(update, number), exc)
                continue
            yield number, user_id, values

    async def handle(item: tuple[int, str, dict[str, Any]]) -> None:
        number, user_id, values = item
        # A merge is idempotent, so the transport itself retries it after
        # transient failures; whatever still fails is this row's failure.
        try:
            await users.update_metadata(user_id, **values)
        except (ClerkError, ValueError, TypeError) as exc:
            report.add_failure(number, user_id, exc)
            return
        report.updated += 1

    await run_pool(source(), handle, workers)
    return report


def _raw_update_key(update: object, number: int) -> str:
    if isinstance(update, tuple) and update and isinstance(update[0], str) and update[0]:
        return update[0]
    return f"#{number}"




async def export(users: Users, target: str | os.PathLike[str] | IO[Any]) -> int:
    """The engine behind ``clerk.users.export``: every user as one JSON line."""
    if isinstance(target, str | os.PathLike):
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
