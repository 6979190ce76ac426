"""Rows that share an identifier settle one at a time, in file order.

Each row takes a :class:`Ticket` when it is read (so in file order) and
waits, before sending anything, for the tickets taken earlier on any of its
keys. A row that ends *unsettled* (failed while its create may have landed)
passes that on: the rows after it on the same keys must not treat a user
that row may have created as one that existed, so they stop too and a rerun
settles them all in order. Memory is held only for keys of rows in flight.
"""

from __future__ import annotations

import asyncio

__all__ = ["Ticket", "TicketLine"]


class TicketLine:
    """Hands out tickets; the last ticket per key is the one the next row waits for."""

    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Future[bool]] = {}

    def reserve(self, keys: list[str]) -> Ticket:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        before = {id(f): f for k in keys if (f := self._tails.get(k)) is not None}
        for key in keys:
            self._tails[key] = done
        return Ticket(self, list(keys), done, list(before.values()))

    def _drop(self, ticket: Ticket) -> None:
        for key in ticket.keys:
            if self._tails.get(key) is ticket.done:
                del self._tails[key]


class Ticket:
    """One row's place in line."""

    def __init__(self, line: TicketLine, keys: list[str], done: asyncio.Future[bool],
                 before: list[asyncio.Future[bool]]) -> None:
        self.line = line
        self.keys = keys
        self.done = done
        self.before = before

    @property
    def followed(self) -> bool:
        """Whether a later row waits for this one."""
        return any(self.line._tails.get(key) is not self.done for key in self.keys)

    async def wait(self) -> tuple[bool, bool]:
        """Wait for the rows before; ``(there were any, one of them is unsettled)``."""
        unsettled = False
        for earlier in self.before:
            unsettled = await asyncio.shield(earlier) or unsettled
        return bool(self.before), unsettled

    def release(self, unsettled: bool = False) -> None:
        if not self.done.done():
            self.done.set_result(unsettled)
        self.line._drop(self)
