"""Clerk's own clock, bounded from below by the ``Date`` header of its answers.

The bulk importer must tell a user it created from one that existed before it
(Clerk's create call has no idempotency key). It does so by comparing the
user's ``created_at``, stamped by Clerk's clock, with the moment it was about
to send: both must be read on the same clock, so this module estimates Clerk's
clock from the answers the client receives anyway (no extra request).

``Date`` has one-second resolution and is stamped somewhere between our send
and our receive, so ``Date - local receive time`` is a lower bound of the
offset between Clerk's clock and ours; the best (largest) bound seen is kept.
:meth:`ServerClock.lower_bound_ms` is therefore never later than Clerk's real
time, which is the safe direction: a user created after it is certainly newer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

__all__ = ["ServerClock"]


class ServerClock:
    """A lower bound of Clerk's current time, learnt from ``Date`` headers."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._offset: float | None = None  # seconds to add to our clock, lower bound
        # The last header and its time: answers within one second share their Date,
        # and parsing one costs more than the rest of a response's bookkeeping.
        self._last_header = ""
        self._last_stamp = 0.0

    def observe(self, date_header: str | None, received_at: float | None = None) -> None:
        """Record one answer's ``Date`` header, read at ``received_at`` (our clock)."""
        if not date_header:
            return
        if date_header == self._last_header:
            stamped = self._last_stamp
        else:
            try:
                stamped = parsedate_to_datetime(date_header).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                return  # a proxy's odd header: no information, not an error
            self._last_header, self._last_stamp = date_header, stamped
        offset = stamped - (received_at if received_at is not None else self._clock())
        if self._offset is None or offset > self._offset:
            self._offset = offset

    def observe_stamp(self, stamp_ms: int, received_at: float | None = None) -> None:
        """Record a timestamp Clerk set on a change it made for us (e.g. a new user's
        ``updated_at``): a millisecond-precise lower bound, tighter than ``Date``."""
        offset = stamp_ms / 1000 - (received_at if received_at is not None else self._clock())
        if self._offset is None or offset > self._offset:
            self._offset = offset

    @property
    def known(self) -> bool:
        return self._offset is not None

    def lower_bound_ms(self) -> int | None:
        """Clerk's time now in epoch ms, never later than the truth; None if unknown."""
        if self._offset is None:
            return None
        return int((self._clock() + self._offset) * 1000)
