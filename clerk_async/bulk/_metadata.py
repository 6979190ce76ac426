"""Merging metadata into many users at once (``users.bulk_update_metadata``)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any

from .._convert import check_json_value
from .._errors import ClerkError
from ._pool import aiter_any, check_concurrency, run_pool
from ._protocol import BulkContext, Users
from ._report import BulkReport
from ._rows import RowError

__all__ = ["MetadataUpdate", "bulk_update_metadata"]

MetadataUpdate = tuple[str, Mapping[str, Any]]
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


def _raw_update_key(update: object, number: int) -> str:
    if isinstance(update, tuple) and update and isinstance(update[0], str) and update[0]:
        return update[0]
    return f"#{number}"


async def bulk_update_metadata(
    users: Users,
    updates: Iterable[MetadataUpdate] | AsyncIterable[MetadataUpdate],
    *,
    context: BulkContext | None = None,
    concurrency: int | None = None,
) -> BulkReport:
    """The engine behind ``clerk.users.bulk_update_metadata``."""
    workers = check_concurrency(concurrency, (context or BulkContext()).quota)
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
