"""Counters a client keeps about its own traffic (``clerk.stats``)."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from ._records import attrs_fields, record_eq, record_repr

__all__ = ["ClientStats", "OperationStats"]


class OperationStats:
    """Traffic of one operation: attempts sent, retries, 429s, quota waiting."""

    __slots__ = ("quota_wait", "rate_limited", "requests", "retries")
    __match_args__ = ("requests", "retries", "rate_limited", "quota_wait")
    __attrs_attrs__: ClassVar[Any] = attrs_fields(
        {"requests": 0, "retries": 0, "rate_limited": 0, "quota_wait": 0.0}
    )

    requests: int
    retries: int
    rate_limited: int
    quota_wait: float

    def __init__(
        self, requests: int = 0, retries: int = 0, rate_limited: int = 0, quota_wait: float = 0.0
    ) -> None:
        self.requests = requests
        self.retries = retries
        self.rate_limited = rate_limited
        self.quota_wait = quota_wait

    __eq__ = record_eq
    __hash__ = None  # type: ignore[assignment]  # mutable counters, as attrs.define leaves them
    __repr__ = record_repr


class ClientStats:
    """Per-operation :class:`OperationStats`, with totals over all operations.

    ``quota_wait`` adds up every request's wait, so with requests waiting side
    by side it exceeds the time that passed; ``quota_wait_wall`` is the time
    during which at least one request was waiting (never more than elapsed).
    """

    def __init__(self) -> None:
        self.operations: dict[str, OperationStats] = {}
        self.quota_wait_wall = 0.0
        self._waiting = 0
        self._wait_began = 0.0

    def begin_wait(self, now: float) -> None:
        """A request starts waiting for quota (``now`` on the transport's clock)."""
        if self._waiting == 0:
            self._wait_began = now
        self._waiting += 1

    def end_wait(self, now: float) -> None:
        """A request stops waiting for quota."""
        self._waiting -= 1
        if self._waiting == 0:
            self.quota_wait_wall += now - self._wait_began

    def __getitem__(self, operation: str) -> OperationStats:
        stats = self.operations.get(operation)
        if stats is None:
            stats = self.operations[operation] = OperationStats()
        return stats

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.operations.values())

    @property
    def retries(self) -> int:
        return sum(s.retries for s in self.operations.values())

    @property
    def rate_limited(self) -> int:
        return sum(s.rate_limited for s in self.operations.values())

    @property
    def quota_wait(self) -> float:
        return sum(s.quota_wait for s in self.operations.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "quota_wait": round(self.quota_wait, 6),
            "quota_wait_wall": round(self.quota_wait_wall, 6),
            "operations": {op: attrs.asdict(s) for op, s in sorted(self.operations.items())},
        }

    def __repr__(self) -> str:
        return (
            f"<ClientStats requests={self.requests} retries={self.retries} "
            f"rate_limited={self.rate_limited} quota_wait={self.quota_wait:.3f}s>"
        )
