"""Counters a client keeps about its own traffic (``clerk.stats``)."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["ClientStats", "OperationStats"]


@attrs.define
class OperationStats:
    """Traffic of one operation: attempts sent, retries, 429s, quota waiting."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    quota_wait: float = 0.0


class ClientStats:
    """Per-operation :class:`OperationStats`, with totals over all operations."""

    def __init__(self) -> None:
        self.operations: dict[str, OperationStats] = {}

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
            "operations": {op: attrs.asdict(s) for op, s in sorted(self.operations.items())},
        }

    def __repr__(self) -> str:
        return (
            f"<ClientStats requests={self.requests} retries={self.retries} "
            f"rate_limited={self.rate_limited} quota_wait={self.quota_wait:.3f}s>"
        )
