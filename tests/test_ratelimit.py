"""The quota limiter in virtual time, and the client's pacing against FakeClerk."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from clerk_async import AsyncClerk, RetryPolicy
from clerk_async._ratelimit import (
    SAFETY_MARGIN,
    Aimd,
    LocalLimiter,
    Quota,
    QuotaWaitTooLong,
    RateLimits,
    parse_quota,
)
from clerk_async.testing import FakeClerk

from factories import VirtualClock
from polling import at_most, wait_until

T = TypeVar("T")


class VirtualTime:
    """A clock whose sleeps end in virtual time: when every task is waiting,
    time jumps to the earliest wake-up. Deterministic and instant."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def run(self, main: Awaitable[T]) -> T:
        task = asyncio.ensure_future(main)
        for _ in at_most(1_000_000, "virtual time (a task waiting outside it?)"):
            if task.done():
                break
            for _ in range(20):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # cancelled sleepers
            if self._sleepers and not task.done():
                wake, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, wake)
                future.set_result(None)
        return task.result()


def limiter(vt: VirtualTime, quota: str | None, **ops: str) -> LocalLimiter:
    return LocalLimiter(
        parse_quota(quota) if quota else None,
        {op: parse_quota(q) for op, q in ops.items()},
        clock=vt.clock,
        sleep=vt.sleep,
    )


def test_parse_quota_and_auto_limits() -> None:
    assert parse_quota("100/10s") == Quota(100, 10.0)
    assert parse_quota("5/500ms") == Quota(5, 0.5)
    assert RateLimits().resolve_instance("sk_test_") == Quota(100, 10.0)
    assert RateLimits().resolve_instance("sk_live_") == Quota(1000, 10.0)
    assert RateLimits(instance=None).resolve_instance("sk_live_") is None
    with pytest.raises(ValueError, match="rate_limit"):
        parse_quota("100 per 10s")
    with pytest.raises(ValueError, match="burst"):
        Quota(10, 1.0, burst=11)


def test_client_resolves_rate_limit_setting() -> None:
    assert AsyncClerk(secret_key="sk_test_x").quota == Quota(100, 10.0)
    assert AsyncClerk(secret_key="sk_live_x").quota == Quota(1000, 10.0)
    assert AsyncClerk(secret_key="sk_live_x", rate_limit="20/1s").quota == Quota(20, 1.0)
    assert AsyncClerk(secret_key="sk_live_x", rate_limit=None).limiter is None
    with pytest.raises(TypeError, match="rate_limit"):
        AsyncClerk(secret_key="sk_test_x", rate_limit=42)  # type: ignore[arg-type]


@pytest.mark.parametrize(("n", "quota"), [(50, "10/1s"), (300, "100/10s"), (7, "1/2s")])
async def test_n_requests_take_n_over_q_times_w(n: int, quota: str) -> None:
    vt = VirtualTime()
    lim = limiter(vt, quota)
    q = parse_quota(quota)
    granted: list[float] = []

    async def one() -> None:
        await lim.acquire("CreateUser")
        granted.append(vt.now)

    await vt.run(asyncio.gather(*(one() for _ in range(n))))
    # Slots are deliberately SAFETY_MARGIN (1 %) wider than the quota's average
    # so that network jitter cannot put Q + 1 requests into Clerk's window.
    ideal = n / q.requests * q.period * (1 + SAFETY_MARGIN)
    slot = q.interval * (1 + SAFETY_MARGIN)
    assert ideal - 2 * slot <= granted[-1] <= ideal + slot
    # Evenly spaced: no window of W seconds ever holds more than Q grants.
    for i in range(len(granted) - q.requests):
        assert granted[i + q.requests] - granted[i] >= q.period


async def test_waiters_are_served_first_come_first_served() -> None:
    vt = VirtualTime()
    lim = limiter(vt, "5/1s")
    order: list[int] = []

    async def one(i: int) -> None:
        await lim.acquire("GetUser" if i % 2 else "CreateUser")
        order.append(i)

    async def main() -> None:
        tasks = []
        for i in range(12):
            tasks.append(asyncio.ensure_future(one(i)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)

    await vt.run(main())
    assert order == list(range(12))


async def test_cancelled_waiter_gives_its_slot_back() -> None:
    vt = VirtualTime()
    lim = limiter(vt, "1/1s")
    granted: dict[str, float] = {}

    async def one(name: str) -> None:
        await lim.acquire("CreateUser")
        granted[name] = vt.now

    async def main() -> None:
        first = asyncio.ensure_future(one("first"))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(one("second"))
        await asyncio.sleep(0)
        third = asyncio.ensure_future(one("third"))
        for _ in range(5):
            await asyncio.sleep(0)
        second.cancel()
        await asyncio.gather(first, third, return_exceptions=True)

    await vt.run(main())
    assert "second" not in granted
    assert granted["first"] == 0.0
    assert granted["third"] == pytest.approx(1.0 * (1 + SAFETY_MARGIN))  # the second's slot


async def test_block_holds_only_that_operation_and_repeats_lower_the_rate() -> None:
    vt = VirtualTime()
    lim = limiter(vt, "10/1s")
    times: dict[str, float] = {}

    async def main() -> None:
        await lim.block("CreateUser", 2.0)
        assert lim.rate_factor == 1.0  # one 429 alone may be jitter

        async def create() -> None:
            await lim.acquire("CreateUser")
            times["create"] = vt.now

        async def get() -> None:
            await lim.acquire("GetUser")
            times["get"] = vt.now

        await asyncio.gather(create(), get())

    await vt.run(main())
    assert times["get"] < 1.0
    assert times["create"] >= 2.0
    await lim.block("CreateUser", 1.0)  # a second episode soon after: shared quota
    assert lim.rate_factor == pytest.approx(0.5)  # multiplicative decrease...
    vt.now += 2.0
    assert 0.5 < lim.rate_factor < 1.0
    vt.now += 100.0
    assert lim.rate_factor == 1.0  # ...and additive recovery once 429s stop


async def test_echoed_429s_of_one_episode_lower_the_rate_once() -> None:
    vt = VirtualTime()
    lim = limiter(vt, "10/1s")
    for _ in range(10):  # ten requests in flight all come back 429: one episode
        await lim.block("CreateUser", 2.0)
    vt.now += 2.5
    for _ in range(10):  # and a second episode: lower once more, not ten times
        await lim.block("CreateUser", 2.0)
    assert lim.rate_factor == pytest.approx(0.5, abs=0.05)


async def test_per_operation_quota_and_instance_quota_both_apply() -> None:
    vt = VirtualTime()
    lim = limiter(vt, "100/1s", CreateUser="2/1s")
    done: list[tuple[str, float]] = []

    async def one(op: str) -> None:
        await lim.acquire(op)
        done.append((op, vt.now))

    await vt.run(asyncio.gather(*(one("CreateUser") for _ in range(4)),
                                *(one("GetUser") for _ in range(4))))
    creates = [t for op, t in done if op == "CreateUser"]
    gets = [t for op, t in done if op == "GetUser"]
    assert creates[-1] >= 1.5
    assert gets[-1] < 0.2


async def _create_many(client: AsyncClerk, n: int, prefix: str) -> list[Any]:
    return await asyncio.gather(
        *(client.users.create(email_address=[f"{prefix}{i}@example.com"]) for i in range(n))
    )


async def test_paced_creates_see_no_429_against_the_same_quota() -> None:
    async with FakeClerk(rate_limit="50/1s") as fake, AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url, rate_limit="50/1s"
    ) as client:
        # Real time: the server counts arrivals, the client paces grants. The first
        # request also opens the session and a connection; had it arrived over
        # 20 ms late (the pacing margin over 50 slots), a slow machine would see
        # a 429 that pacing did not cause. So the connection is opened first.
        assert await client.users.count() == 0
        users = await _create_many(client, 100, "paced")
        assert len({u.id for u in users}) == 100
        assert fake.stats.rate_limited == 0
        assert client.stats.rate_limited == 0
        assert client.stats["CreateUser"].quota_wait > 0


async def test_a_get_dropped_after_clerk_saw_it_is_retried_through_the_limiter() -> None:
    # Clerk counts the dropped attempt too. Were the retry sent behind the
    # limiter's back (aiohttp re-sends a GET on a closed connection by itself),
    # the fake would hold 2 requests in a window the client believes holds 1,
    # and the next paced request would meet a 429. One clock for both sides.
    clock = VirtualClock()
    clock.now = 1_700_000_000.0
    async with FakeClerk(rate_limit="2/10s", clock=clock) as fake, AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url, rate_limit="2/10s",
        retry=RetryPolicy(base_delay=0.01), clock=clock, sleep=clock.sleep,
    ) as client:
        fake.inject_fault("GetUserList", "drop_after")
        for _ in range(3):
            assert await client.users.list() == []
        assert fake.stats.faults_by_kind == {"drop_after": 1}
        assert fake.stats.rate_limited == 0
        assert client.stats["GetUserList"].retries == 1
        assert fake.stats.requests["GetUserList"] == client.stats["GetUserList"].requests == 4


async def test_half_the_believed_quota_loses_and_duplicates_nothing() -> None:
    async with FakeClerk(rate_limit="25/1s") as fake, AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url, rate_limit="50/1s",
        retry=RetryPolicy(deadline=60),
    ) as client:
        users = await _create_many(client, 60, "half")
        assert len({u.id for u in users}) == 60
        assert fake.stats.users == 60
        # The block is shared and the rate halves, so 429s stay few.
        assert 0 < fake.stats.rate_limited <= 20
        assert client.stats.rate_limited == fake.stats.rate_limited


async def test_429_on_create_does_not_stall_gets() -> None:
    async with FakeClerk(operation_limits={"CreateUser": "1/30s"}) as fake, AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url,
        rate_limit=RateLimits(instance="1000/1s"),
    ) as client:
        first = await client.users.create(email_address=["one@example.com"])
        blocked = asyncio.ensure_future(client.users.create(email_address=["two@example.com"]))
        await wait_until(lambda: client.stats["CreateUser"].rate_limited > 0,
                         what="the second create to meet its 429")
        gets = await asyncio.wait_for(
            asyncio.gather(*(client.users.get(first.id) for _ in range(10))), timeout=5
        )
        assert {u.id for u in gets} == {first.id}
        assert not blocked.done()  # still waiting out Retry-After, others unaffected
        blocked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await blocked


# Exact rules, pinned in virtual time (each of these was a mutant that survived the
# tests above: see docs/mutation.md).


def test_settings_errors_name_the_setting() -> None:
    limits = RateLimits(instance="lots", operations={"CreateUser": "20/10s"})
    with pytest.raises(ValueError, match=r"^RateLimits\.instance must look like '100/10s'"):
        limits.resolve_instance("sk_test_")
    assert limits.resolve_operations() == {"CreateUser": Quota(20, 10.0)}
    bad_op = RateLimits(operations={"CreateUser": "20/10s", "GetUser": "often"})
    with pytest.raises(
        ValueError, match=r"^RateLimits\.operations\['GetUser'\] must look like '100/10s'"
    ):
        bad_op.resolve_operations()


def test_quota_wait_too_long_says_how_long() -> None:
    refused = QuotaWaitTooLong(1.23456)
    assert refused.wait == 1.23456
    assert str(refused) == "next slot in 1.235s"


def test_aimd_window_is_inclusive_and_forgetting_takes_recovery_plus_window() -> None:
    rule = Aimd()
    period = 10.0
    window = rule.window * period  # 30 s
    assert rule.lowers(window, 0.0, period)  # exactly at the window's edge: still lowers
    assert not rule.lowers(window + 0.001, 0.0, period)
    assert not rule.lowers(5.0, None, period)  # a first episode never lowers
    # From a factor of 0, recovery takes 1 / recovery periods (100 s), then the window
    # (30 s) must pass too before an episode is forgotten: no earlier, no later.
    assert rule.forget_after(period) == pytest.approx(130.0)
    assert rule.factor(100.0, 0.0, 0.0, period) == pytest.approx(1.0)
    assert rule.factor(50.0, 0.0, 0.0, period) == pytest.approx(0.5)


async def test_burst_lets_that_many_go_at_once_then_paces() -> None:
    vt = VirtualTime()
    quota = Quota(10, 1.0, burst=3)
    lim = LocalLimiter(quota, clock=vt.clock, sleep=vt.sleep)
    granted: list[float] = []

    async def main() -> None:
        for _ in range(6):
            await lim.acquire("GetUser")
            granted.append(vt.now)

    await vt.run(main())
    slot = quota.interval * (1 + SAFETY_MARGIN)
    assert granted == pytest.approx([0.0, 0.0, 0.0, slot, 2 * slot, 3 * slot])


async def test_max_wait_sees_an_idle_limiter_as_free_at_time_zero() -> None:
    vt = VirtualTime()  # the clock starts at 0.0: no block is "until 0"
    lim = limiter(vt, "10/1s")
    assert await vt.run(lim.acquire("GetUser", max_wait=0.5)) == 0.0


async def test_max_wait_counts_the_operation_quota_not_only_the_instance() -> None:
    vt = VirtualTime()
    lim = limiter(vt, "100/1s", CreateUser="1/1s")
    await vt.run(lim.acquire("CreateUser"))
    with pytest.raises(QuotaWaitTooLong) as refused:
        await vt.run(lim.acquire("CreateUser", max_wait=0.5))
    assert refused.value.wait == pytest.approx(1.0 * (1 + SAFETY_MARGIN))
    assert vt.now == 0.0  # refused at once, without waiting
    assert await vt.run(lim.acquire("GetUser", max_wait=0.5)) < 0.5


async def test_a_block_lasts_exactly_its_seconds_and_never_shortens() -> None:
    vt = VirtualTime()
    lim = limiter(vt, "100/1s")
    await lim.block("CreateUser", 0.25)
    assert await vt.run(lim.acquire("CreateUser")) == pytest.approx(0.25)
    start = vt.now
    await lim.block("CreateUser", -3.0)  # a nonsensical Retry-After blocks nothing
    assert await vt.run(lim.acquire("CreateUser")) == pytest.approx(0.0102, abs=1e-9)
    assert vt.now == pytest.approx(start + 0.0102)
    await lim.block("GetUser", 5.0)
    await lim.block("GetUser", 1.0)  # an echo with a shorter Retry-After
    assert await vt.run(lim.acquire("GetUser")) == pytest.approx(5.0)


async def test_each_episode_in_the_window_halves_the_rate_down_to_the_floor() -> None:
    vt = VirtualTime()
    lim = limiter(vt, "100/10s")
    expected = 1.0
    for episode in range(8):
        await lim.block("CreateUser", 0.1)
        if episode:
            expected = max(Aimd().floor, expected * Aimd().decrease)
        assert lim.rate_factor == pytest.approx(expected)
        vt.now += 0.5  # past the block: the next 429 is a new episode
        # recovery since the last lowering: 0.1 of the full rate per 10 s period
        expected = min(1.0, expected + 0.1 * 0.5 / 10.0) if episode else expected
    assert lim.rate_factor == pytest.approx(Aimd().floor + 0.005)


def test_parse_quota_errors_name_the_argument_and_a_bare_unit_means_one() -> None:
    with pytest.raises(ValueError, match=r"^rate_limit must look like '100/10s', got 'x'$"):
        parse_quota("x")
    with pytest.raises(TypeError, match=r"^rate_limit must be a str like '100/10s' or a Quota$"):
        parse_quota(42)  # type: ignore[arg-type]
    assert parse_quota("10/s") == Quota(10, 1.0)
    assert parse_quota("3/ms") == Quota(3, 0.001)
    assert parse_quota(" 7 / 2 min ") == Quota(7, 120.0)


async def test_max_wait_counts_a_block_even_with_free_slots() -> None:
    vt = VirtualTime()
    lim = limiter(vt, "100/1s")
    await lim.block("CreateUser", 2.0)
    with pytest.raises(QuotaWaitTooLong) as refused:
        await vt.run(lim.acquire("CreateUser", max_wait=1.0))
    assert refused.value.wait == pytest.approx(2.0)
    assert vt.now == 0.0
    assert await vt.run(lim.acquire("CreateUser", max_wait=2.5)) == pytest.approx(2.0)


ONE_PER_SECOND_SLOT = Quota(1, 1.0).interval * (1 + SAFETY_MARGIN)


async def test_a_lowered_rate_spaces_operation_slots_and_counts_in_max_wait() -> None:
    vt = VirtualTime()
    lim = limiter(vt, None, CreateUser="10/1s")
    await lim.block("CreateUser", 0.0)
    await lim.block("CreateUser", 0.0)  # a second episode at once: the rate halves
    assert lim.rate_factor == 0.5
    slot = Quota(10, 1.0).interval * (1 + SAFETY_MARGIN) / 0.5
    await vt.run(lim.acquire("CreateUser"))
    assert await vt.run(lim.acquire("CreateUser")) == pytest.approx(slot, rel=1e-2)
    with pytest.raises(QuotaWaitTooLong) as refused:
        await vt.run(lim.acquire("CreateUser", max_wait=slot / 2))
    assert refused.value.wait == pytest.approx(slot, rel=1e-2)


async def test_max_wait_of_exactly_the_wait_is_enough() -> None:
    vt = VirtualTime()
    lim = limiter(vt, "1/1s")
    await vt.run(lim.acquire("GetUser"))
    # CreateUser's first call: nobody is queued for it, only the instance slot counts.
    waited = await vt.run(lim.acquire("CreateUser", max_wait=ONE_PER_SECOND_SLOT))
    assert waited == ONE_PER_SECOND_SLOT


async def test_operation_slots_are_taken_one_at_a_time_without_an_instance_quota() -> None:
    vt = VirtualTime()
    lim = limiter(vt, None, CreateUser="1/1s")
    granted: list[float] = []

    async def one() -> None:
        await lim.acquire("CreateUser")
        granted.append(vt.now)

    await vt.run(asyncio.gather(one(), one(), one()))
    assert granted == pytest.approx([0.0, ONE_PER_SECOND_SLOT, 2 * ONE_PER_SECOND_SLOT])


async def test_a_cancelled_queued_waiter_no_longer_counts_against_max_wait() -> None:
    vt = VirtualTime()
    lim = limiter(vt, "1/1s")
    await vt.run(lim.acquire("GetUser"))
    queued = []
    for _ in range(3):
        queued.append(asyncio.ensure_future(lim.acquire("GetUser")))
        await asyncio.sleep(0)
    queued[1].cancel()  # waiting for the operation's lock
    for _ in range(5):
        await asyncio.sleep(0)
    with pytest.raises(QuotaWaitTooLong) as refused:
        await lim.acquire("GetUser", max_wait=0.5)
    # The current slot, then the two still queued ahead of it.
    assert refused.value.wait == pytest.approx(3 * ONE_PER_SECOND_SLOT)
    for task in queued:
        task.cancel()
    await asyncio.gather(*queued, return_exceptions=True)


async def test_max_wait_is_checked_again_after_waiting_behind_others() -> None:
    async def scenario(block: float, max_wait: float) -> tuple[float | None, float]:
        """(the wait refused or None, the time then) for a caller queued behind one other."""
        vt = VirtualTime()
        lim = limiter(vt, None, CreateUser="1/1s")
        await vt.run(lim.acquire("CreateUser"))
        ahead = asyncio.ensure_future(lim.acquire("CreateUser"))
        await asyncio.sleep(0)
        caller = asyncio.ensure_future(lim.acquire("CreateUser", max_wait=max_wait))
        await asyncio.sleep(0)  # past its first check, queued behind the other
        if block:
            await lim.block("CreateUser", block)  # a 429 arrives while they wait
        try:
            await vt.run(caller)
        except QuotaWaitTooLong as refused:
            await vt.run(ahead)
            return refused.wait, vt.now
        await ahead
        return None, vt.now

    # The block comes after the first check passed (2.04 s <= 2.5 s); once the one
    # ahead is served (at 1.02 s) the block still has 1.98 s to go, more than the 1.48 s
    # left of max_wait: refused then, not after waiting the block out.
    refused, at = await scenario(3.0, 2.5)
    assert refused == pytest.approx(3.0 - ONE_PER_SECOND_SLOT)
    assert at == pytest.approx(ONE_PER_SECOND_SLOT)
    # Exactly the time left is enough, at either check.
    refused, at = await scenario(0.0, 2 * ONE_PER_SECOND_SLOT)
    assert refused is None and at == 2 * ONE_PER_SECOND_SLOT


def test_quota_refuses_what_cannot_be_paced_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"^quota requests must be >= 1, got 0$"):
        Quota(0, 1.0)
    with pytest.raises(ValueError, match=r"^quota period must be > 0, got 0.0$"):
        Quota(1, 0.0)
    with pytest.raises(ValueError, match=r"^quota burst must be in 1..5, got 0$"):
        Quota(5, 1.0, burst=0)


async def test_recovery_is_per_period_of_the_instance_quota() -> None:
    vt = VirtualTime()
    lim = limiter(vt, "10/1s")  # a 1 s period: recovery is 0.1 of the rate per second
    await lim.block("GetUser", 0.0)
    await lim.block("GetUser", 0.0)
    vt.now += 2.0
    assert lim.rate_factor == pytest.approx(0.5 + 2 * 0.1)
    # Without an instance quota, recovery goes by a 10 s period.
    vt2 = VirtualTime()
    only_ops = limiter(vt2, None, GetUser="10/1s")
    await only_ops.block("GetUser", 0.0)
    await only_ops.block("GetUser", 0.0)
    vt2.now += 2.0
    assert only_ops.rate_factor == pytest.approx(0.5 + 2 * 0.1 / 10)


async def test_max_wait_refuses_at_once_a_block_while_another_waits_for_it() -> None:
    vt = VirtualTime()
    lim = limiter(vt, None, CreateUser="100/1s")
    await lim.block("CreateUser", 2.0)
    ahead = asyncio.ensure_future(lim.acquire("CreateUser"))  # holds the operation's turn
    await asyncio.sleep(0)
    with pytest.raises(QuotaWaitTooLong) as refused:
        await vt.run(lim.acquire("CreateUser", max_wait=1.0))
    assert refused.value.wait == pytest.approx(2.0) and vt.now == 0.0  # not queued first
    await vt.run(ahead)


def test_a_backend_given_in_rate_limits_is_the_clients_limiter() -> None:
    class Own:
        async def acquire(self, operation: str, max_wait: float | None = None) -> float:
            return 0.0

        async def block(self, operation: str, seconds: float) -> None:
            return None

    own = Own()
    client = AsyncClerk(secret_key="sk_test_backend", rate_limit=RateLimits(backend=own))
    assert client.limiter is own
    assert isinstance(AsyncClerk(secret_key="sk_test_backend").limiter, LocalLimiter)


def test_wall_clock_quota_wait_counts_overlapping_waits_once() -> None:
    from clerk_async._stats import ClientStats

    stats = ClientStats()
    stats.begin_wait(0.0)  # two overlapping waits, 0..3 and 1..2: 3 s
    stats.begin_wait(1.0)
    stats.end_wait(2.0)
    stats.end_wait(3.0)
    stats.begin_wait(5.0)
    stats.end_wait(6.0)
    assert stats.quota_wait_wall == 4.0


async def test_requests_waiting_side_by_side_add_up_but_the_wall_clock_wait_does_not(
) -> None:
    vt = VirtualTime()
    async with FakeClerk() as fake, AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url, rate_limit="10/1s",
        clock=vt.clock, sleep=vt.sleep,
    ) as client:
        await vt.run(asyncio.gather(*(client.users.count() for _ in range(30))))
    stats = client.stats
    # 30 requests at 10/s: the last waits ~2.9 s, and all waits sum to ~43 s.
    assert stats.quota_wait > 3 * vt.now
    assert 0 < stats.quota_wait_wall <= vt.now
    assert client.stats.to_dict()["quota_wait_wall"] == round(stats.quota_wait_wall, 6)
