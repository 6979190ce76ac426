"""Rows that share an identifier settle one at a time, in file order.

Each row takes a :class:`Ticket` when it is read (so in file order) and
waits, before sending anything, for the tickets taken earlier on any of its
keys. Memory is held only for keys of rows not yet settled.
"""

from __future__ import annotations

import asyncio

__all__ = ["Ticket", "TicketLine"]


class TicketLine:
    """Hands out tickets; the last ticket per key is the one the next row waits for."""

    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Future[None]] = {}

    def reserve(self, keys: list[str]) -> Ticket:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        before = {id(f): f for k in keys if (f := self._tails.get(k)) is not None}
        for key in keys:
            self._tails[key] = done
        return Ticket(self, list(keys), done, list(before.values()))

    def _drop(self, ticket: Ticket) -> None:
        for key in ticket.keys:
            if self._tails.get(key) is ticket.done:
                del self._tails[key]


class Ticket:
    """One row's place in line; ``wait()`` says whether rows before it had to settle."""

    def __init__(self, line: TicketLine, keys: list[str], done: asyncio.Future[None],
                 before: list[asyncio.Future[None]]) -> None:
        self.line = line
        self.keys = keys
        self.done = done
        self.before = before

    async def wait(self) -> bool:
        for earlier in self.before:
            await asyncio.shield(earlier)
        return bool(self.before)

    def release(self) -> None:
        if not self.done.done():
            self.done.set_result(None)
        self.line._drop(self)
