"""Request quotas in Clerk's style: N requests per window, then 429 with Retry-After.

Each quota is a *sliding* window: at most ``limit`` accepted requests in any
trailing ``window`` seconds. That is the strictest common reading of "100
requests per 10 seconds", so a client that paces itself to pass here also
passes a fixed-window server. Refused requests do not use up quota.

Once an operation is refused it stays blocked until its Retry-After has passed,
as Clerk documents: every request to it meanwhile gets 429 as well.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

# One quota notation for the client and the fake: "100/10s" means the same to both.
from .._ratelimit import Quota, parse_quota

__all__ = ["Quota", "QuotaBook", "parse_quota"]

class _Window:
    def __init__(self, quota: Quota) -> None:
        self.quota = quota
        self.accepted: deque[float] = deque()

    def wait_needed(self, now: float) -> float:
        """Seconds until one more request fits (0 when it fits now)."""
        horizon = now - self.quota.period
        while self.accepted and self.accepted[0] <= horizon:
            self.accepted.popleft()
        if len(self.accepted) < self.quota.requests:
            return 0.0
        return self.accepted[0] + self.quota.period - now


class QuotaBook:
    """The instance-wide quota plus per-operation overrides, and the blocks they cause."""

    def __init__(
        self, rate_limit: str | Quota | None, operation_limits: Mapping[str, str | Quota] | None
    ) -> None:
        self.instance = _Window(parse_quota(rate_limit)) if rate_limit else None
        self.per_op = {op: _Window(parse_quota(q)) for op, q in (operation_limits or {}).items()}
        self.blocked_until: dict[str, float] = {}

    def reset(self) -> None:
        if self.instance:
            self.instance.accepted.clear()
        for window in self.per_op.values():
            window.accepted.clear()
        self.blocked_until.clear()

    def check(self, operation: str, now: float) -> int | None:
        """Record the request and return None, or return Retry-After seconds (refused)."""
        until = self.blocked_until.get(operation)
        if until is not None:
            if now < until:
                return max(1, math.ceil(until - now))
            del self.blocked_until[operation]
        windows = [w for w in (self.instance, self.per_op.get(operation)) if w is not None]
        wait = max((w.wait_needed(now) for w in windows), default=0.0)
        if wait > 0:
            # Whole seconds, rounded up: a client that sleeps exactly Retry-After
            # must find the window open again.
            retry_after = max(1, math.ceil(wait))
            self.blocked_until[operation] = now + retry_after
            return retry_after
        for window in windows:
            window.accepted.append(now)
        return None
