"""When to try a request again, and how long to wait first.

Pure decisions, no I/O: the transport asks, this module answers. The rule of
thumb is that a retry must never make Clerk act twice on a request the caller
thought was made once, so a POST is retried only when the server surely did
not act on it, unless the caller opts in with ``retry_unsafe=True``.
"""

from __future__ import annotations

import random
from typing import Final

import attrs

__all__ = ["IDEMPOTENT_METHODS", "RETRYABLE_STATUSES", "Attempt", "RetryPolicy"]

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES: Final = frozenset({500, 502, 503, 504})


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _at_least_one(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped by attempts and a deadline.

    ``max_attempts`` counts the first try. ``deadline`` bounds the whole call,
    waits included, in seconds. ``retry_unsafe`` lets POSTs be retried after
    timeouts, dropped connections and 5xx, for callers that can tolerate a
    repeated action (or, like the bulk importer, check before retrying).
    """

    max_attempts: int = attrs.field(default=4, validator=_at_least_one)
    base_delay: float = attrs.field(default=0.5, validator=_positive)
    max_delay: float = attrs.field(default=30.0, validator=_positive)
    deadline: float = attrs.field(default=120.0, validator=_positive)
    retry_unsafe: bool = False

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
