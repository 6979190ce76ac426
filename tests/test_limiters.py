"""One behaviour, two limiters: the same suite against LocalLimiter and RedisQuota.

Both take an injected clock and sleep, so each scenario runs in jumping
virtual time (a sleep moves the clock forward at once): the grant times are
exact, and the two backends must agree on them to the microsecond-rounding
of the Redis script. Scenarios run in one task, so Redis round trips (real
I/O) never race the virtual clock.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis_server import RedisServer, find_redis_server

from clerk_async._ratelimit import (
    AIMD,
    LATENESS_SLACK,
    SAFETY_MARGIN,
    LocalLimiter,
    Quota,
    QuotaWaitTooLong,
    lateness_slack,
)

REDIS_BINARY = find_redis_server()
_prefixes = itertools.count()


class JumpClock:
    """Virtual time for one task: ``sleep`` advances the clock by its argument."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


Factory = Callable[[Quota | None, dict[str, Quota]], Any]


@pytest.fixture(scope="module")
def redis_server() -> Any:
    if REDIS_BINARY is None:
        pytest.skip("redis-server binary not found (apt-get install redis-server)")
    server = RedisServer(REDIS_BINARY)
    server.start()
    yield server
    server.close()


@pytest.fixture(params=["local", "redis"])
async def make(
    request: pytest.FixtureRequest, clock: JumpClock
) -> AsyncIterator[Factory]:
    made: list[Any] = []

    def local(instance: Quota | None, operations: dict[str, Quota]) -> LocalLimiter:
        return LocalLimiter(instance, operations, clock=clock, sleep=clock.sleep)

    def shared(instance: Quota | None, operations: dict[str, Quota]) -> Any:
        from clerk_async._redis_quota import RedisQuota

        server = request.getfixturevalue("redis_server")
        quota = RedisQuota(
            server.url, prefix=f"limiters{next(_prefixes)}", jitter=0.0,
            clock=clock, sleep=clock.sleep,
        )
        quota.configure(instance, operations, "instance")
        made.append(quota)
        return quota

    yield local if request.param == "local" else shared
    for quota in made:
        assert quota.using_redis, "the suite must exercise Redis, not the fallback"
        await quota.aclose()


@pytest.fixture
def clock() -> JumpClock:
    return JumpClock()


def interval(quota: Quota, factor: float = 1.0) -> float:
    return quota.interval * (1 + SAFETY_MARGIN) / factor


async def grants(limiter: Any, clock: JumpClock, n: int, operation: str = "GetUser") -> list[float]:
    times = []
    for _ in range(n):
        await limiter.acquire(operation)
        times.append(clock.now)
    return times


async def test_slots_are_evenly_spaced_within_the_quota(make: Factory, clock: JumpClock) -> None:
    quota = Quota(10, 1.0)
    limiter = make(quota, {})
    times = await grants(limiter, clock, 25)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx([interval(quota)] * 24, abs=1e-5)
    for i in range(len(times) - quota.requests):
        assert times[i + quota.requests] - times[i] >= quota.period


async def test_operation_quota_and_instance_quota_both_hold(
    make: Factory, clock: JumpClock
) -> None:
    instance, create = Quota(100, 1.0), Quota(2, 1.0)
    limiter = make(instance, {"CreateUser": create})
    times = await grants(limiter, clock, 3, "CreateUser")
    assert times[2] - times[0] == pytest.approx(2 * interval(create), abs=1e-5)
    # Another operation only waits for the instance schedule.
    before = clock.now
    await limiter.acquire("GetUser")
    assert clock.now - before <= interval(instance) + 1e-5


async def test_lateness_within_the_slack_is_absorbed(make: Factory, clock: JumpClock) -> None:
    quota = Quota(10, 10.0)
    limiter = make(quota, {})
    slack = lateness_slack(quota)
    assert slack == pytest.approx(LATENESS_SLACK * quota.period)
    first = (await grants(limiter, clock, 1))[0]
    # The caller for the second slot wakes late, but within the slack...
    clock.now = first + interval(quota) + slack * 0.9
    await limiter.acquire("GetUser")
    # ...so the third slot keeps its place in the schedule.
    await limiter.acquire("GetUser")
    assert clock.now == pytest.approx(first + 2 * interval(quota), abs=1e-5)
    # Lateness beyond the slack is not absorbed: the schedule restarts from then.
    late = clock.now + interval(quota) + slack * 3
    clock.now = late
    await limiter.acquire("GetUser")
    await limiter.acquire("GetUser")
    assert clock.now == pytest.approx(late - slack + interval(quota), abs=1e-5)


async def test_a_block_holds_the_operation_back(make: Factory, clock: JumpClock) -> None:
    limiter = make(Quota(100, 1.0), {})
    await limiter.acquire("CreateUser")
    await limiter.block("CreateUser", 2.0)
    start = clock.now
    await limiter.acquire("CreateUser")
    assert clock.now - start == pytest.approx(2.0, abs=1e-5)


async def test_one_aimd_rule(make: Factory, clock: JumpClock) -> None:
    # A long period: recovery during one measured gap stays negligible.
    quota = Quota(100, 10.0)
    limiter = make(quota, {})
    await grants(limiter, clock, 2)

    async def gap() -> float:
        # The first grant after idling may absorb lateness; the next gap is clean.
        times = await grants(limiter, clock, 3)
        return times[2] - times[1]

    # A lone episode (plus its echo) could be jitter: the rate stays.
    await limiter.block("GetUser", 0.1)
    await limiter.block("GetUser", 0.1)
    clock.now += 0.2
    assert await gap() == pytest.approx(interval(quota), abs=1e-4)
    # A second episode within the window lowers it by AIMD.decrease.
    clock.now += 0.5
    await limiter.block("GetUser", 0.1)
    clock.now += 0.2
    lowered = AIMD.decrease
    measured = await gap()
    assert measured == pytest.approx(interval(quota, lowered), rel=0.05)
    # It recovers AIMD.recovery of the full rate per period.
    clock.now += 2 * quota.period
    measured = await gap()
    assert measured == pytest.approx(interval(quota, lowered + 2 * AIMD.recovery), rel=0.05)
    # An episode long after the last one is a lone episode again.
    clock.now += 100 * quota.period
    await limiter.block("GetUser", 0.1)
    clock.now += 0.2
    assert await gap() == pytest.approx(interval(quota), abs=1e-4)


async def test_a_slot_beyond_max_wait_is_refused_at_once(
    make: Factory, clock: JumpClock
) -> None:
    quota = Quota(1, 1.0)
    limiter = make(quota, {})
    await limiter.acquire("GetUser")
    before = clock.now
    with pytest.raises(QuotaWaitTooLong) as caught:
        await limiter.acquire("GetUser", max_wait=0.5)
    assert caught.value.wait == pytest.approx(interval(quota), abs=1e-3)
    assert clock.now == before  # no waiting at all
    # The refused caller took nothing: the slot is still the next one.
    assert await limiter.acquire("GetUser", max_wait=2.0) == pytest.approx(interval(quota), 1e-3)
    await limiter.block("GetUser", 5.0)
    with pytest.raises(QuotaWaitTooLong):
        await limiter.acquire("GetUser", max_wait=1.0)
    assert clock.now == pytest.approx(before + interval(quota), abs=1e-5)


async def test_waiters_queued_ahead_count_against_max_wait(clock: JumpClock) -> None:
    # Only LocalLimiter serves concurrent waiters in virtual time here.
    quota = Quota(1, 1.0)
    limiter = LocalLimiter(quota, {}, clock=clock, sleep=clock.sleep)
    await limiter.acquire("GetUser")
    gate = asyncio.Event()

    async def slow_sleep(seconds: float) -> None:
        await gate.wait()
        await clock.sleep(seconds)

    limiter._sleep = slow_sleep
    ahead = [asyncio.ensure_future(limiter.acquire("GetUser")) for _ in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(QuotaWaitTooLong) as caught:
        await limiter.acquire("GetUser", max_wait=2.5)
    # Its own slot comes after the current one and the three queued ahead.
    assert caught.value.wait == pytest.approx(4 * interval(quota), abs=1e-5)
    gate.set()
    await asyncio.gather(*ahead)
