"""Pacing requests under Clerk's quotas, before Clerk has to say no.

Clerk counts requests per instance (100 / 10 s for development keys, 1000 /
10 s for production keys) and answers 429 with ``Retry-After`` when a window
is spent; during that time every request to the endpoint is refused. So the
limiter here does two things:

* proactive: a GCRA scheduler per quota hands out evenly spaced slots,
  first come first served, so a well-behaved client never sees a 429;
* reactive: a 429 blocks its operation for every task of the client until the
  ``Retry-After`` passes, and repeated 429 episodes (someone else spends the
  same quota) lower the rate multiplicatively; it recovers additively. The
  rule (:data:`AIMD`) and the lateness slack (:data:`LATENESS_SLACK`) are
  defined here once; :mod:`._redis_quota` passes them to its scripts.

The logic takes its clock and sleep as arguments, so tests run it in virtual
time. Other backends (e.g. Redis, shared by many processes) implement the
small :class:`Limiter` protocol.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs

from ._auth import instance_key_id
from ._records import FrozenRecord, attrs_fields

__all__ = [
    "AIMD",
    "LATENESS_SLACK",
    "Aimd",
    "Limiter",
    "LocalLimiter",
    "Quota",
    "QuotaBackend",
    "QuotaWaitTooLong",
    "RateLimits",
    "instance_key_id",
    "lateness_slack",
    "parse_quota",
]

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

#: Compiled on first use (``re`` caches it): most clients never parse a quota string.
_QUOTA_PATTERN = r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(ms|s|m|min|h)?\s*$"
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, None: 1.0}

#: Slots are spaced this much wider than the quota's average so that network
#: jitter cannot pack two requests closer than Clerk's window allows.
SAFETY_MARGIN = 0.02
#: Lowest fraction of the configured rate that repeated 429s can push us to.
MIN_RATE_FACTOR = 0.05
#: A waiter woken a little late must not push every later slot back (over
#: thousands of requests that lateness would add up): lateness up to this
#: fraction of the quota's period (a quarter of the safety margin) is absorbed;
#: the rest of the margin still covers network jitter within Clerk's window.
LATENESS_SLACK = SAFETY_MARGIN / 4
#: Instance period used for AIMD recovery when only operations have quotas.
DEFAULT_AIMD_PERIOD = 10.0


def lateness_slack(quota: Quota) -> float:
    """Seconds of lateness a granted slot may absorb without delaying the next."""
    return LATENESS_SLACK * quota.period


class QuotaWaitTooLong(Exception):
    """The next slot is ``wait`` seconds away, beyond the caller's ``max_wait``.

    Raised by :meth:`Limiter.acquire` at once, before waiting and without
    taking the slot; the transport turns it into a :class:`RateLimitError`.
    """

    def __init__(self, wait: float) -> None:
        super().__init__(f"next slot in {wait:.3f}s")
        self.wait = wait


class Aimd:
    """How the rate reacts to 429s that pacing did not prevent (both limiters use it).

    A lone 429 episode can be jitter; a second one within ``window`` periods
    of the previous means someone else spends the same quota, so the rate is
    multiplied by ``decrease`` (never below ``floor``). It then regains
    ``recovery`` of the full rate per quota period. An *episode* is a 429
    that arrives when the operation is not already blocked (the others are
    the echo of requests in flight when the first came).
    """

    __slots__ = ("decrease", "floor", "recovery", "window")

    def __init__(
        self,
        decrease: float = 0.5,
        recovery: float = 0.1,
        floor: float = MIN_RATE_FACTOR,
        window: float = 3.0,
    ) -> None:
        self.decrease = decrease
        self.recovery = recovery
        self.floor = floor
        self.window = window

    def factor(self, now: float, lowered_at: float | None, factor_then: float,
               period: float) -> float:
        """The rate factor at ``now``, recovering since it was lowered at ``lowered_at``."""
        if lowered_at is None:
            return 1.0
        return min(1.0, factor_then + self.recovery * (now - lowered_at) / period)

    def lowers(self, now: float, last_episode: float | None, period: float) -> bool:
        """Whether an episode at ``now`` lowers the rate."""
        return last_episode is not None and now - last_episode <= self.window * period

    def forget_after(self, period: float) -> float:
        """Seconds after which an episode leaves no trace (full recovery, window passed)."""
        return (1.0 / self.recovery + self.window) * period


#: The one AIMD rule of the SDK (the Redis scripts take it as arguments).
AIMD = Aimd()


class Quota(FrozenRecord):
    """``requests`` per ``period`` seconds; ``burst`` requests may go at once."""

    __slots__ = ("burst", "period", "requests")
    __attrs_attrs__: ClassVar[Any] = attrs_fields({"burst": 1})
    __match_args__ = ("requests", "period", "burst")

    requests: int
    period: float
    burst: int

    def __init__(self, requests: int, period: float, burst: int = 1) -> None:
        if requests < 1:
            raise ValueError(f"quota requests must be >= 1, got {requests}")
        if period <= 0:
            raise ValueError(f"quota period must be > 0, got {period}")
        if not 1 <= burst <= requests:
            raise ValueError(f"quota burst must be in 1..{requests}, got {burst}")
        init = object.__setattr__
        init(self, "requests", requests)
        init(self, "period", period)
        init(self, "burst", burst)

    @property
    def interval(self) -> float:
        return self.period / self.requests

    def __str__(self) -> str:
        return f"{self.requests}/{self.period:g}s"


def parse_quota(value: str | Quota, name: str = "rate_limit") -> Quota:
    """``"100/10s"``, ``"20/1s"``, ``"5/500ms"`` or a :class:`Quota`."""
    if isinstance(value, Quota):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str like '100/10s' or a Quota")
    match = re.match(_QUOTA_PATTERN, value)
    if not match:
        raise ValueError(f"{name} must look like '100/10s', got {value!r}")
    count, amount, unit = match.groups()
    return Quota(int(count), float(amount or 1) * _UNIT_SECONDS[unit])


@runtime_checkable
class Limiter(Protocol):
    """What the transport needs from a rate limiter.

    ``acquire`` waits until ``operation`` may send one request and returns the
    seconds it waited; when the slot lies more than ``max_wait`` seconds away
    it raises :class:`QuotaWaitTooLong` at once instead (without taking the
    slot). ``block`` tells it Clerk refused ``operation`` for ``seconds``, so
    that every waiter holds back until then.
    """

    async def acquire(self, operation: str, max_wait: float | None = None) -> float: ...

    async def block(self, operation: str, seconds: float) -> None: ...


@runtime_checkable
class QuotaBackend(Limiter, Protocol):
    """A :class:`Limiter` kept outside the client (e.g. in Redis) and told what to enforce.

    The client calls ``configure`` once when it is built: the instance quota,
    the per-operation quotas, and ``key_id``, a one-way digest that names the
    Clerk instance without revealing the secret key (see
    :func:`instance_key_id`). ``aclose`` is called when the client closes; it
    releases whatever the backend opened for the running event loop and
    leaves the backend usable by other clients.
    """

    def configure(
        self, instance: Quota | None, operations: Mapping[str, Quota], key_id: str
    ) -> None: ...

    async def aclose(self) -> None: ...


class _Schedule:
    """GCRA state of one quota: the theoretical arrival time of the next request."""

    __slots__ = ("lock", "quota", "tat")

    def __init__(self, quota: Quota) -> None:
        self.quota = quota
        self.tat: float | None = None
        self.lock = asyncio.Lock()

    def _interval(self, factor: float) -> float:
        return self.quota.interval * (1 + SAFETY_MARGIN) / factor

    def wait_for(self, now: float, factor: float) -> float:
        if self.tat is None:
            return 0.0
        tolerance = (self.quota.burst - 1) * self._interval(factor)
        return max(0.0, self.tat - tolerance - now)

    def commit(self, now: float, factor: float) -> None:
        slack = lateness_slack(self.quota)
        start = now if self.tat is None else max(self.tat, now - slack)
        self.tat = start + self._interval(factor)


class LocalLimiter:
    """The in-process limiter every :class:`AsyncClerk` uses by default.

    Waiters are served first come, first served per operation, then per
    instance (asyncio locks are FIFO). State is committed only once a slot is
    granted, so a cancelled waiter leaves no trace: its slot goes to the next.
    """

    def __init__(
        self,
        instance: Quota | None,
        operations: Mapping[str, Quota] | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        aimd: Aimd = AIMD,
    ) -> None:
        self._instance = _Schedule(instance) if instance else None
        self._operations = {op: _Schedule(q) for op, q in (operations or {}).items()}
        self._op_locks: dict[str, asyncio.Lock] = {}
        self._queued: dict[str, int] = {}
        self._blocked_until: dict[str, float] = {}
        self._clock = clock
        self._sleep = sleep
        self._aimd = aimd
        self._period = self._instance.quota.period if self._instance else DEFAULT_AIMD_PERIOD
        self._lowered_at: float | None = None
        self._factor_then = 1.0
        self._last_episode: float | None = None

    @property
    def rate_factor(self) -> float:
        """The fraction of the configured rate currently used (1.0 = full)."""
        return self._current_factor(self._clock())

    def _current_factor(self, now: float) -> float:
        return self._aimd.factor(now, self._lowered_at, self._factor_then, self._period)

    def _next_slot(self, operation: str, now: float, ahead: int) -> float:
        """Seconds until ``operation`` could send after the ``ahead`` waiters before it."""
        factor = self._current_factor(now)
        wait = max(0.0, self._blocked_until.get(operation, 0.0) - now)
        for schedule in (self._operations.get(operation), self._instance):
            if schedule is not None:
                own = schedule.wait_for(now, factor) + ahead * schedule._interval(factor)
                wait = max(wait, own)
        return wait

    async def acquire(self, operation: str, max_wait: float | None = None) -> float:
        started = self._clock()
        if max_wait is not None:
            # Refuse at once what cannot be served in time, before queueing.
            eta = self._next_slot(operation, started, self._queued.get(operation, 0))
            if eta > max_wait:
                raise QuotaWaitTooLong(eta)
        lock = self._op_locks.get(operation)
        if lock is None:
            lock = self._op_locks[operation] = asyncio.Lock()
        # Counts every caller inside acquire (queued or holding the lock).
        self._queued[operation] = self._queued.get(operation, 0) + 1
        try:
            await lock.acquire()
        except BaseException:
            self._queued[operation] -= 1
            raise
        try:
            if max_wait is not None:
                # Those ahead may have been slower than foreseen (a 429 block).
                now = self._clock()
                eta = self._next_slot(operation, now, 0)
                if eta > max_wait - (now - started):
                    raise QuotaWaitTooLong(eta)
            await self._wait_block(operation)
            schedule = self._operations.get(operation)
            if schedule is not None:
                await self._wait_slot(schedule)
            if self._instance is not None:
                async with self._instance.lock:
                    await self._wait_slot(self._instance)
                    self._instance.commit(self._clock(), self._current_factor(self._clock()))
            if schedule is not None:
                schedule.commit(self._clock(), self._current_factor(self._clock()))
        finally:
            self._queued[operation] -= 1
            lock.release()
        return self._clock() - started

    async def _wait_block(self, operation: str) -> None:
        while True:
            until = self._blocked_until.get(operation, 0.0)
            remaining = until - self._clock()
            if remaining <= 0:
                return
            await self._sleep(remaining)

    async def _wait_slot(self, schedule: _Schedule) -> None:
        while True:
            now = self._clock()
            wait = schedule.wait_for(now, self._current_factor(now))
            if wait <= 0:
                return
            await self._sleep(wait)

    async def block(self, operation: str, seconds: float) -> None:
        now = self._clock()
        previous = self._blocked_until.get(operation, 0.0)
        until = now + max(0.0, seconds)
        if until > previous:
            self._blocked_until[operation] = until
        if previous > now:
            return  # the echo of requests already in flight when the first 429 came
        if self._aimd.lowers(now, self._last_episode, self._period):
            self._factor_then = max(
                self._aimd.floor, self._current_factor(now) * self._aimd.decrease
            )
            self._lowered_at = now
        self._last_episode = now


class RateLimits(FrozenRecord):
    """Quota settings for :class:`AsyncClerk` (``rate_limit=RateLimits(...)``).

    ``instance``: ``"auto"`` (100/10s for ``sk_test_`` keys, 1000/10s for
    ``sk_live_``), a string such as ``"100/10s"``, a :class:`Quota`, or None.
    ``operations``: per-operationId quotas, e.g. ``{"CreateUser": "20/10s"}``.
    ``backend``: a :class:`Limiter` shared with other processes; by default
    the in-process :class:`LocalLimiter`.
    """

    __slots__ = ("backend", "instance", "operations")
    __attrs_attrs__: ClassVar[Any] = attrs_fields({
        "instance": "auto", "operations": attrs.Factory(dict), "backend": None,
    })

    instance: str | Quota | None
    operations: Mapping[str, str | Quota]
    backend: Limiter | None

    def __init__(
        self,
        *,
        instance: str | Quota | None = "auto",
        operations: Mapping[str, str | Quota] | None = None,
        backend: Limiter | None = None,
    ) -> None:
        init = object.__setattr__
        init(self, "instance", instance)
        init(self, "operations", {} if operations is None else operations)
        init(self, "backend", backend)

    def resolve_instance(self, key_kind: str | None) -> Quota | None:
        if self.instance == "auto":
            return Quota(1000, 10.0) if key_kind == "sk_live_" else Quota(100, 10.0)
        if self.instance is None:
            return None
        return parse_quota(self.instance, "RateLimits.instance")

    def resolve_operations(self) -> dict[str, Quota]:
        return {
            op: parse_quota(q, f"RateLimits.operations[{op!r}]")
            for op, q in self.operations.items()
        }
