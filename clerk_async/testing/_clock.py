"""Time sources: wall clock by default, a hand-driven clock for tests."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "ManualClock"]

#: Seconds since the epoch, as a float. Everything time-dependent in the fake
#: (timestamps, quotas, TOTP, lockouts) reads one of these.
Clock = Callable[[], float]


def wall_clock() -> float:
    return time.time()


class ManualClock:
    """A clock that only moves when told to, so quota and TOTP tests need no sleeps."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
