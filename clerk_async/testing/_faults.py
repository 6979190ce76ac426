"""Seeded fault injection: server errors, dropped connections, added latency.

The decision for each request comes from ``random.Random(seed)``, drawn once per
eligible request in arrival order, so the same request sequence meets the same
faults on every run. Tests that need an exact fault on an exact request use
:meth:`FaultPlan.inject` instead, which queues faults ahead of the random ones.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field

__all__ = ["ALL_FAULT_KINDS", "EXTRA_FAULT_KINDS", "FAULT_KINDS", "FaultPlan", "Faults"]

#: "500"/"502"/"503": answered before the handler runs (nothing changes).
#: "drop_after": the handler runs and its change is kept, then the connection is
#: closed without a response, the worst case for a client deciding on a retry.
FAULT_KINDS = ("500", "502", "503", "drop_after")
#: Opt-in kinds (not in the default mix, so seeded schedules stay as they were):
#: "500_after": the handler runs and its change is kept, then a 500 is answered;
#: "429": answered as rate limited (Retry-After: 1) before the handler runs.
EXTRA_FAULT_KINDS = ("500_after", "429")
ALL_FAULT_KINDS = FAULT_KINDS + EXTRA_FAULT_KINDS


@dataclass(frozen=True)
class Faults:
    """What to inject. ``rate`` is the chance per request; ``operations`` limits
    which operationIds are eligible (None: all); ``latency_ms`` delays every
    eligible request whether or not it faults."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    latency_ms: float = 0.0
    operations: Collection[str] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("Faults.rate must be between 0 and 1")
        if self.latency_ms < 0:
            raise ValueError("Faults.latency_ms must not be negative")
        unknown = set(self.kinds) - set(ALL_FAULT_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"Faults.kinds must be a non-empty subset of {ALL_FAULT_KINDS}")


@dataclass
class FaultPlan:
    """The running state behind a :class:`Faults` config."""

    config: Faults | None = None
    _rng: random.Random = field(init=False)
    _queued: dict[str, deque[str | None]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed if self.config else 0)

    def inject(self, operation: str, *kinds: str | None) -> None:
        """Give the next requests to ``operation`` these faults, in order (None: no fault)."""
        for kind in kinds:
            if kind is not None and kind not in ALL_FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}")
        self._queued.setdefault(operation, deque()).extend(kinds)

    def latency(self, operation: str) -> float:
        cfg = self.config
        if cfg is None or cfg.latency_ms <= 0 or not self._eligible(cfg, operation):
            return 0.0
        return cfg.latency_ms / 1000.0

    def decide(self, operation: str) -> str | None:
        queue = self._queued.get(operation)
        if queue:
            return queue.popleft()
        cfg = self.config
        if cfg is None or cfg.rate <= 0 or not self._eligible(cfg, operation):
            return None
        if self._rng.random() >= cfg.rate:
            return None
        return self._rng.choice(cfg.kinds)

    @staticmethod
    def _eligible(cfg: Faults, operation: str) -> bool:
        return cfg.operations is None or operation in cfg.operations
