"""Walking every page of a listing, in constant memory.

Two strategies, one loop: a ``starting_after`` cursor when the listing is
ordered by creation time (stable while users are added), else ``offset``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

__all__ = ["CURSOR_ORDERS", "paginate"]

#: Orderings under which Clerk accepts a ``starting_after`` cursor.
CURSOR_ORDERS = frozenset({"created_at", "+created_at", "-created_at"})


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


ItemT = TypeVar("ItemT", bound=_HasId)


async def paginate(
    fetch: Callable[[int, int | None, str | None], Awaitable[Sequence[ItemT]]],
    *,
    page_size: int,
    use_cursor: bool,
    offset: int = 0,
) -> AsyncIterator[ItemT]:
    """Yield every item via ``fetch(limit, offset, starting_after)``.

    One page is in memory at a time; the first short page ends the walk.
    """
    cursor: str | None = None
    while True:
        if use_cursor:
            page = await fetch(page_size, None, cursor)
        else:
            page = await fetch(page_size, offset, None)
        for item in page:
            yield item
        if len(page) < page_size:
            return
        offset += len(page)
        cursor = page[-1].id
