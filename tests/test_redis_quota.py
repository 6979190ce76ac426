"""RedisQuota: one Clerk quota shared by many processes through a real redis-server."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
from redis_server import RedisServer, StallingProxy, find_redis_server, free_port

import clerk_sync
from clerk_async import AsyncClerk, RateLimits, RetryPolicy
from clerk_async._ratelimit import SAFETY_MARGIN, Quota, QuotaBackend, instance_key_id
from clerk_async._redis_quota import RedisQuota, _quota_args
from clerk_async.testing import FakeClerk

from polling import wait_until

REDIS_BINARY = find_redis_server()
pytestmark = pytest.mark.skipif(
    REDIS_BINARY is None,
    reason="redis-server binary not found (on Debian: apt-get install redis-server; "
    ".ci/run installs it)",
)

#: A key with a long random-looking tail, so that any leak of it is visible.
SECRET = "sk_test_Zq7RkP2mXvB9cL4nT8wY1hJ6dF3sG5aE0uQ"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    assert REDIS_BINARY is not None
    server = RedisServer(REDIS_BINARY)
    server.start()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, emptied before each test."""
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server of the test's own, which the test may stop and start."""
    assert REDIS_BINARY is not None
    server = RedisServer(REDIS_BINARY)
    server.start()
    yield server
    server.close()


@pytest.fixture
async def quotas() -> AsyncIterator[list[RedisQuota]]:
    """RedisQuota objects made by a test, closed at its end."""
    made: list[RedisQuota] = []
    yield made
    for quota in made:
        await quota.aclose()


def make_quota(
    made: list[RedisQuota],
    url: str,
    instance: str | None = "1000/1s",
    operations: dict[str, str] | None = None,
    key: str = SECRET,
    **kwargs: Any,
) -> RedisQuota:
    quota = RedisQuota(url, **kwargs)
    quota.configure(
        Quota(*_parts(instance)) if instance else None,
        {op: Quota(*_parts(q)) for op, q in (operations or {}).items()},
        instance_key_id(key),
    )
    made.append(quota)
    return quota


class JumpClock:
    """Virtual time shared by the quotas of one test: ``sleep`` jumps it forward."""

    def __init__(self) -> None:
        self.start = self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    @property
    def elapsed(self) -> float:
        return self.now - self.start

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def _parts(text: str) -> tuple[int, float]:
    count, period = text.rstrip("s").split("/")
    return int(count), float(period)


# -- the shared schedule -------------------------------------------------------------


def test_configuration_is_checked(redis_url: str) -> None:
    quota = RedisQuota("redis://:hunter2@127.0.0.1:1/0")
    assert isinstance(quota, QuotaBackend)
    assert "hunter2" not in repr(quota)
    with pytest.raises(RuntimeError, match="not configured"):
        asyncio.run(quota.acquire("GetUser"))
    quota.configure(Quota(10, 1.0), {}, "abc")
    quota.configure(Quota(10, 1.0), {}, "abc")  # the same again: a no-op
    with pytest.raises(ValueError, match="already configured"):
        quota.configure(Quota(20, 1.0), {}, "abc")
    with pytest.raises(ValueError, match="prefix"):
        RedisQuota(redis_url, prefix="")
    with pytest.raises(ValueError, match="timeout"):
        RedisQuota(redis_url, timeout=0)
    with pytest.raises(ValueError, match="jitter"):
        RedisQuota(redis_url, jitter=-1)


def test_instance_key_id_is_a_short_digest() -> None:
    assert instance_key_id(SECRET) == instance_key_id(SECRET)
    assert instance_key_id(SECRET) != instance_key_id(SECRET + "x")
    assert len(instance_key_id(SECRET)) == 24
    assert instance_key_id(None) == "nokey"


async def test_acquire_paces_across_instances(redis_url: str, quotas: list[RedisQuota]) -> None:
    # Two RedisQuota objects stand for two processes: they share one schedule.
    clock = JumpClock()
    a = make_quota(quotas, redis_url, "20/1s", jitter=0.05, clock=clock, sleep=clock.sleep)
    b = make_quota(quotas, redis_url, "20/1s", jitter=0.05, clock=clock, sleep=clock.sleep)
    waits = [await (a if i % 2 else b).acquire("GetUser") for i in range(6)]
    # 1/20 s widened by the jitter allowed between processes (50 ms a window).
    interval = _quota_args(Quota(20, 1.0), 0.05)[0] / 1000
    assert interval >= (1 + 0.05) / 20
    assert waits[0] == 0
    assert clock.elapsed == pytest.approx(5 * interval, abs=1e-3)
    assert waits[1:] == pytest.approx([interval] * 5, abs=1e-3)


async def test_operation_quota_is_separate(redis_url: str, quotas: list[RedisQuota]) -> None:
    clock = JumpClock()
    quota = make_quota(quotas, redis_url, "1000/1s", {"CreateUser": "5/1s"},
                       jitter=0.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await quota.acquire("CreateUser")
    assert clock.elapsed >= 2 * 0.2
    # Other operations only see the roomy instance quota.
    before = clock.elapsed
    for _ in range(5):
        await quota.acquire("GetUser")
    assert clock.elapsed - before <= 5 * 1.1 / 1000


async def test_burst_lets_requests_through_at_once(
    redis_url: str, quotas: list[RedisQuota]
) -> None:
    clock = JumpClock()
    quota = RedisQuota(redis_url, jitter=0.0, clock=clock, sleep=clock.sleep)
    quota.configure(Quota(4, 1.0, burst=4), {}, "burst")
    quotas.append(quota)
    for _ in range(4):
        assert await quota.acquire("GetUser") == 0
    assert clock.elapsed == 0
    await quota.acquire("GetUser")
    assert clock.elapsed >= 0.25


async def test_cancelled_waiter_leaves_its_slot(redis_url: str, quotas: list[RedisQuota]) -> None:
    clock = JumpClock()
    parked = asyncio.Event()
    sleeps: list[Callable[[float], Awaitable[None]]] = []

    async def park(seconds: float) -> None:
        parked.set()
        await asyncio.get_running_loop().create_future()  # until cancelled

    async def sleep(seconds: float) -> None:
        await sleeps[-1](seconds)

    sleeps.append(park)
    quota = make_quota(quotas, redis_url, "5/1s", jitter=0.0, clock=clock, sleep=sleep)
    assert await quota.acquire("GetUser") == 0
    waiter = asyncio.ensure_future(quota.acquire("GetUser"))
    await asyncio.wait_for(parked.wait(), 10)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    sleeps.append(clock.sleep)
    # The slot after the first one is free: the cancelled waiter kept none.
    clock.now += 0.2 * (1 + SAFETY_MARGIN) + 0.001
    assert await quota.acquire("GetUser") == 0


# -- 429 blocks ------------------------------------------------------------------------


async def test_block_from_one_process_pauses_the_others(
    redis_url: str, quotas: list[RedisQuota]
) -> None:
    clock = JumpClock()
    a = make_quota(quotas, redis_url, clock=clock, sleep=clock.sleep)
    b = make_quota(quotas, redis_url, clock=clock, sleep=clock.sleep)
    await a.block("CreateUser", 0.3)
    waited = await b.acquire("CreateUser")
    assert waited == pytest.approx(0.3, abs=0.01)
    # Only that operation is blocked.
    assert await b.acquire("GetUser") < 0.01
    # A shorter block does not cut a longer one short.
    await a.block("CreateUser", 0.3)
    await a.block("CreateUser", 0.05)
    assert await b.acquire("CreateUser") == pytest.approx(0.3, abs=0.01)


# The AIMD rule itself is tested against both limiters in test_limiters.py.


async def test_429_end_to_end_pauses_another_client(redis_url: str) -> None:
    async with FakeClerk(
        require_identifier=False, secret_key=SECRET, operation_limits={"CreateUser": "2/1s"}
    ) as fake:
        # No proactive quota: only the 429 block is shared.
        qa, qb = RedisQuota(redis_url), RedisQuota(redis_url)
        retry = RetryPolicy(max_attempts=3, deadline=10)
        a = AsyncClerk(secret_key=SECRET, base_url=fake.base_url, retry=retry,
                       rate_limit=RateLimits(instance=None, backend=qa))
        b = AsyncClerk(secret_key=SECRET, base_url=fake.base_url, retry=retry,
                       rate_limit=RateLimits(instance=None, backend=qb))
        async with a, b:
            await a.users.create(external_id="a1")
            await a.users.create(external_id="a2")
            third = asyncio.ensure_future(a.users.create(external_id="a3"))
            async with redis.asyncio.Redis.from_url(redis_url) as client:
                async def blocked() -> bool:
                    return bool([k async for k in client.scan_iter(match="*:block:CreateUser")])

                await wait_until(blocked, what="the CreateUser block to reach Redis")
            await b.users.create(external_id="b1")
            await third
        assert a.stats["CreateUser"].rate_limited == 1
        assert b.stats["CreateUser"].rate_limited == 0
        assert b.stats["CreateUser"].quota_wait >= 0.5
        assert fake.stats.rate_limited == 1
        assert fake.stats.users == 4


# -- many processes ------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from clerk_async import AsyncClerk, RateLimits
    from clerk_async._redis_quota import RedisQuota

    async def main(base_url, key, redis_url, quota, count, tag):
        backend = RedisQuota(redis_url)
        clerk = AsyncClerk(secret_key=key, base_url=base_url,
                           rate_limit=RateLimits(instance=quota, backend=backend))
        async with clerk:
            # One paced request first, so that connecting to Redis and Clerk
            # does not make the first timed request late.
            await clerk.users.count()
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            started = time.monotonic()
            users = await asyncio.gather(
                *(clerk.users.create(external_id=f"{tag}-{i}") for i in range(count))
            )
            finished = time.monotonic()
            stats = clerk.stats["CreateUser"]
        # CLOCK_MONOTONIC is one clock for every process of the machine.
        print(json.dumps({"created": len(users), "rate_limited": stats.rate_limited,
                          "started": started, "finished": finished}), flush=True)

    asyncio.run(main(*sys.argv[1:5], int(sys.argv[5]), sys.argv[6]))
    """
)


async def test_four_processes_share_one_quota(redis_url: str) -> None:
    rate, per_process, processes = 40, 50, 4
    async with FakeClerk(
        require_identifier=False, secret_key=SECRET, rate_limit=f"{rate}/1s"
    ) as fake:
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", WORKER, fake.base_url, SECRET, redis_url,
                f"{rate}/1s", str(per_process), f"p{n}",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )
            for n in range(processes)
        ]
        for worker in workers:
            assert worker.stdout is not None
            assert (await asyncio.wait_for(worker.stdout.readline(), 30)).strip() == b"ready"
        # FakeClerk runs in this (large, possibly coverage-traced) process and stamps
        # arrivals when its handler runs: a full GC pause here would bunch requests
        # that arrived paced and count a 429 the clients did not cause.
        gc.collect()
        gc.disable()
        try:
            outputs = await asyncio.gather(
                *(asyncio.wait_for(w.communicate(b"go\n"), 60) for w in workers)
            )
        finally:
            gc.enable()
    results = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    assert all(w.returncode == 0 for w in workers)
    assert sum(r["created"] for r in results) == processes * per_process
    assert sum(r["rate_limited"] for r in results) == 0
    assert fake.stats.rate_limited == 0
    assert fake.stats.users == processes * per_process
    # From the first request sent to the last answered, in any process:
    # process start-up and exit are not pacing.
    # Only the lower bound is asserted: four processes that did not share the
    # quota would finish in a quarter of it. How close to ideal a shared schedule
    # paces is exact in virtual time (test_limiters.py), not on a loaded machine.
    elapsed = max(r["finished"] for r in results) - min(r["started"] for r in results)
    ideal = processes * per_process / rate
    assert elapsed >= ideal * 0.95, (elapsed, ideal)


# -- the sync facade ---------------------------------------------------------------------


async def test_sync_client_uses_redis_in_its_loop_thread(redis_url: str) -> None:
    quota = RedisQuota(redis_url)
    async with FakeClerk(require_identifier=False, secret_key=SECRET) as fake:

        def run() -> float:
            with clerk_sync.Clerk(
                secret_key=SECRET, base_url=fake.base_url,
                rate_limit=RateLimits(instance="20/1s", backend=quota),
            ) as clerk:
                started = time.monotonic()
                for i in range(5):
                    clerk.users.create(external_id=f"s{i}")
                return time.monotonic() - started

        elapsed = await asyncio.to_thread(run)
        assert fake.stats.users == 5
    assert elapsed >= 4 * 0.05 * 0.9
    assert quota.using_redis
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        keys = [k async for k in client.scan_iter()]
    assert any(k.endswith(b":tat") for k in keys)


# -- Redis going away --------------------------------------------------------------------


async def test_redis_outage_falls_back_and_recovers(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    quota = RedisQuota(own_redis.url, probe_interval=0.2, timeout=0.5)
    async with FakeClerk(require_identifier=False, secret_key=SECRET) as fake, AsyncClerk(
        secret_key=SECRET, base_url=fake.base_url,
        rate_limit=RateLimits(instance="50/1s", backend=quota),
    ) as clerk:
        await clerk.users.create(external_id="up-1")
        assert quota.using_redis

        own_redis.stop()
        with caplog.at_level(logging.WARNING, logger="clerk_async"):
            started = time.monotonic()
            for i in range(5):
                await clerk.users.create(external_id=f"down-{i}")
            # Still paced, by the local limiter now.
            assert time.monotonic() - started >= 4 * 0.02 * 0.9
            # A 429 while Redis is away is still honoured, in this process.
            await quota.block("CreateUser", 0.15)
            await clerk.users.create(external_id="down-blocked")
            assert time.monotonic() - started >= 0.15
        assert not quota.using_redis
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert "Redis" in warnings[0].getMessage()

        own_redis.start()
        await asyncio.sleep(0.25)  # past the probe interval
        for i in range(3):
            await clerk.users.create(external_id=f"back-{i}")
        assert quota.using_redis
        async with redis.asyncio.Redis.from_url(own_redis.url) as client:
            assert await client.exists(f"clerk:quota:{{{instance_key_id(SECRET)}}}:tat")

        # A second outage is a new one: one more warning.
        own_redis.stop()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="clerk_async"):
            await clerk.users.create(external_id="down-again")
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert fake.stats.users == 11


async def test_redis_absent_from_the_start(caplog: pytest.LogCaptureFixture) -> None:
    quota = RedisQuota(f"redis://127.0.0.1:{free_port()}/0", probe_interval=60)
    quota.configure(Quota(100, 1.0), {}, "x")
    with caplog.at_level(logging.WARNING, logger="clerk_async"):
        await quota.block("GetUser", 0.05)
        started = time.monotonic()
        for _ in range(3):
            await quota.acquire("GetUser")
        # The block was kept locally, the pacing done locally.
        assert time.monotonic() - started >= 0.04
    assert not quota.using_redis
    assert len(caplog.records) == 1
    await quota.aclose()


# -- what Redis holds ----------------------------------------------------------------------


async def test_the_secret_key_never_reaches_redis(redis_url: str) -> None:
    async with FakeClerk(require_identifier=False, secret_key=SECRET, rate_limit="100/1s") as fake:
        quota = RedisQuota(redis_url)
        async with AsyncClerk(
            secret_key=SECRET, base_url=fake.base_url,
            rate_limit=RateLimits(instance="100/1s", operations={"CreateUser": "50/1s"},
                                  backend=quota),
        ) as clerk:
            for i in range(3):
                await clerk.users.create(external_id=f"k{i}")
            await quota.block("CreateUser", 5)
            await quota.block("GetUser", 5)
    dump = b""
    async with redis.asyncio.Redis.from_url(redis_url) as client:
        keys = [k async for k in client.scan_iter()]
        for key in keys:
            kind = await client.type(key)
            if kind == b"string":
                dump += key + b"=" + (await client.get(key) or b"") + b"\n"
            elif kind == b"hash":
                dump += key + b"=" + repr(await client.hgetall(key)).encode() + b"\n"
            else:
                raise AssertionError(f"unexpected {kind!r} key {key!r}")
    assert len(keys) >= 5  # block x2, aimd, instance and operation schedules
    assert all(instance_key_id(SECRET).encode() in key for key in keys)
    tail = SECRET[len("sk_test_"):]
    pieces = {tail[i : i + 6] for i in range(len(tail) - 5)}
    text = dump.decode()
    assert SECRET not in text
    assert not [p for p in pieces if p in text]


async def test_client_given_is_used_and_left_open(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    quota = RedisQuota(client, prefix="app:clerk")
    quota.configure(Quota(100, 1.0), {}, "given")
    await quota.acquire("GetUser")
    await quota.aclose()
    assert await client.exists("app:clerk:{given}:tat")  # still open, our prefix
    await client.aclose()


# -- a slow Redis, and processes that disagree (issue 21) -----------------------------------


async def test_a_slow_redis_uses_only_its_share_of_the_deadline_then_falls_back(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The README: "the deadline covers quota wait" and "requests never fail
    # because Redis did". Redis here answers nothing at all while stalled; its
    # own timeouts (1 s and one retry) are longer than the whole call may take.
    async with StallingProxy(own_redis.port) as proxy:
        quota = RedisQuota(proxy.url, timeout=1.0, probe_interval=60)
        async with FakeClerk(secret_key=SECRET) as fake, AsyncClerk(
            secret_key=SECRET, base_url=fake.base_url,
            rate_limit=RateLimits(instance="50/1s", backend=quota),
            retry=RetryPolicy(max_attempts=1, deadline=1.0),
        ) as clerk:
            await clerk.users.count()
            assert quota.using_redis
            proxy.stall()
            with caplog.at_level(logging.WARNING, logger="clerk_async"):
                assert await clerk.users.count() == 0  # not RateLimitError, not a timeout
                assert await clerk.users.count() == 0  # paced locally, Redis not waited for
            assert not quota.using_redis
            (warning,) = [r.getMessage() for r in caplog.records]
            assert "half of the time left to wait" in warning
            proxy.resume()
            await quota.aclose()


async def test_recording_a_429_block_in_a_slow_redis_takes_a_share_of_the_block(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    # With Redis's own timeouts at 30 s (and one retry), the old code sat here
    # for a minute; now the block's own length bounds the write.
    async with StallingProxy(own_redis.port) as proxy:
        quota = RedisQuota(proxy.url, timeout=30.0, probe_interval=60)
        quota.configure(Quota(100, 1.0), {}, instance_key_id(SECRET))
        await quota.acquire("GetUser", max_wait=10.0)
        proxy.stall()
        with caplog.at_level(logging.WARNING, logger="clerk_async"):
            await quota.block("GetUser", 0.2)
        assert not quota.using_redis
        assert "half of the time left to wait" in caplog.records[0].getMessage()
        # Kept locally: the next slot waits out the block.
        assert await quota.acquire("GetUser", max_wait=10.0) > 0
        proxy.resume()
        await quota.aclose()


async def test_processes_with_other_quotas_on_one_key_are_warned_about(
    redis_url: str, quotas: list[RedisQuota], caplog: pytest.LogCaptureFixture
) -> None:
    first = make_quota(quotas, redis_url, instance="100/10s")
    same = make_quota(quotas, redis_url, instance="100/10s")
    other = make_quota(quotas, redis_url, instance="1000/10s",
                       operations={"CreateUser": "20/10s"})
    with caplog.at_level(logging.WARNING, logger="clerk_async"):
        await first.acquire("GetUser")
        await same.acquire("GetUser")
        assert caplog.records == []
        await other.acquire("GetUser")  # still served: a warning, not an error
        await other.acquire("GetUser")  # once per disagreement, not per request
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "with other settings" in warning
    assert "theirs: instance=100/10s(burst" in warning
    assert "ours: instance=1000/10s(burst" in warning and "CreateUser=20/10s" in warning
    assert SECRET not in warning and instance_key_id(SECRET) not in warning
