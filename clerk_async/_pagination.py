"""Walking every page of a listing, in constant memory.

Two strategies, one loop: a ``starting_after`` cursor when the listing is
ordered by creation time (stable while users are added), else ``offset``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from ._errors import ClerkDecodeError

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
    what: str = "the listing",
) -> AsyncIterator[ItemT]:
    """Yield every item via ``fetch(limit, offset, starting_after)``.

    One page is in memory at a time; the first short page ends the walk. A
    page that does not advance (its last id is the cursor it was asked to
    start after, or it repeats ids of the previous page, as from a caching
    proxy that ignores the query string) raises :class:`ClerkDecodeError`
    rather than walking the same page forever.
    """
    cursor: str | None = None
    previous: frozenset[str] = frozenset()
    number = 0
    while True:
        if use_cursor:
            page = await fetch(page_size, None, cursor)
        else:
            page = await fetch(page_size, offset, None)
        number += 1
        ids = frozenset(item.id for item in page)
        repeated = ids & previous
        if page and (page[-1].id == cursor or repeated):
            where = f"starting_after={cursor}" if use_cursor else f"offset={offset}"
            seen = page[-1].id if page[-1].id == cursor else min(repeated)
            raise ClerkDecodeError(
                f"page {number} of {what} ({where}) did not advance: it repeats {seen!r} "
                "from the page before; the server or a proxy ignored the paging "
                "parameters, so the walk stopped instead of looping"
            )
        for item in page:
            yield item
        if len(page) < page_size:
            return
        previous = ids
        offset += len(page)
        cursor = page[-1].id
