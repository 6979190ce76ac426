"""When to try a request again, and how long to wait first.

Pure decisions, no I/O: the transport asks, this module answers. The rule of
thumb is that a retry must never make Clerk act twice on a request the caller
thought was made once, so a POST is retried only when the server surely did
not act on it, unless the caller opts in with ``retry_unsafe=True``.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar, Final

from ._records import FrozenRecord, attrs_fields

__all__ = ["IDEMPOTENT_METHODS", "MAX_SECONDS", "RETRYABLE_STATUSES", "Attempt", "RetryPolicy"]

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES: Final = frozenset({500, 502, 503, 504})


#: A day: a longer timeout, deadline or delay is a mistake, not a setting.
MAX_SECONDS = 86400.0


def _seconds(name: str, value: object, *, limit: float) -> float:
    """A finite number of seconds in ``[0, limit]``: nan and inf would mean "forever"."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    if not value <= limit:  # also catches nan, which compares false to everything
        raise ValueError(f"{name} must be finite and at most {limit:g} seconds, got {value!r}")
    return float(value)


def _attempts(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"max_attempts must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"max_attempts must be >= 1, got {value!r}")
    return value


class RetryPolicy(FrozenRecord):
    """Exponential backoff with full jitter, capped by attempts and a deadline.

    ``max_attempts`` counts the first try. ``deadline`` bounds the whole call,
    waits included, in seconds. ``retry_unsafe`` lets POSTs be retried after
    timeouts, dropped connections and 5xx, for callers that can tolerate a
    repeated action (or, like the bulk importer, check before retrying).

    Immutable; ``attrs.evolve(policy, max_attempts=2)`` makes a changed copy.
    """

    __slots__ = ("base_delay", "deadline", "max_attempts", "max_delay", "retry_unsafe")
    __attrs_attrs__: ClassVar[Any] = attrs_fields({
        "max_attempts": 4, "base_delay": 0.5, "max_delay": 30.0, "deadline": 120.0,
        "retry_unsafe": False,
    })

    max_attempts: int
    base_delay: float
    max_delay: float
    deadline: float
    retry_unsafe: bool

    def __init__(
        self,
        *,
        max_attempts: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        deadline: float = 120.0,
        retry_unsafe: bool = False,
    ) -> None:
        init = object.__setattr__
        if not isinstance(retry_unsafe, bool):
            raise TypeError(f"retry_unsafe must be a bool, got {type(retry_unsafe).__name__}")
        init(self, "max_attempts", _attempts(max_attempts))
        init(self, "base_delay", _seconds("base_delay", base_delay, limit=MAX_SECONDS))
        init(self, "max_delay", _seconds("max_delay", max_delay, limit=MAX_SECONDS))
        init(self, "deadline", _seconds("deadline", deadline, limit=MAX_SECONDS))
        init(self, "retry_unsafe", retry_unsafe)

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to sleep after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(0.0, ceiling)

    def may_repeat(self, method: str, idempotent: bool = False) -> bool:
        """Whether a request that may have reached Clerk can be sent again."""
        return idempotent or self.retry_unsafe or method in IDEMPOTENT_METHODS


class Attempt:
    """What happened on one attempt, as far as retrying is concerned."""

    __slots__ = ("request_sent", "retry_after", "status")

    def __init__(
        self,
        *,
        status: int | None = None,
        request_sent: bool = True,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        # Set for transport failures: was the request possibly seen by the server?
        self.request_sent = request_sent
        self.retry_after = retry_after

    def retryable(self, policy: RetryPolicy, safe_to_repeat: bool) -> bool:
        """``safe_to_repeat``: the request is idempotent, or the caller accepts a repeat."""
        if self.status == 429:
            return True
        if self.status is None:
            return not self.request_sent or safe_to_repeat
        return self.status in RETRYABLE_STATUSES and safe_to_repeat

    def delay(self, policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
        jittered = policy.backoff(attempt, rng)
        if self.retry_after:
            # The server knows best when the block lifts: a 429 waits exactly
            # that long; other errors never wait less.
            return self.retry_after if self.status == 429 else max(self.retry_after, jittered)
        return jittered
