"""One Clerk quota shared by every process that uses it, kept in Redis.

:class:`~clerk_async.LocalLimiter` paces one process as if it had the whole
quota to itself; run ten workers and together they send ten times too much.
:class:`RedisQuota` keeps the pacing state in Redis instead, so all processes
(on any number of hosts) draw from one schedule:

* each acquire is one atomic Lua script (EVALSHA): it checks the operation's
  429 block, then the GCRA schedules of the instance and of the operation,
  and either takes a slot or answers how long to wait. The caller sleeps that
  long and asks again. Time comes from ``redis.call('TIME')``, so the
  processes' clocks never have to agree;
* a 429 seen by any process is written as a key that expires with the
  ``Retry-After``, which every acquire checks first; repeated 429 episodes
  lower a shared rate factor that recovers additively, by the same rule
  (:data:`~clerk_async._ratelimit.AIMD`, passed to the script as arguments)
  and with the same lateness slack as :class:`~clerk_async.LocalLimiter`;
* keys are named by a digest of the secret key (never the key itself) plus
  the operation, under one hash tag so that a Redis Cluster keeps each
  instance's keys in one slot.

When Redis cannot be reached, requests are paced by an in-process
:class:`~clerk_async.LocalLimiter` with the same quotas, a warning is logged
once, and Redis is tried again every ``probe_interval`` seconds; requests never
fail because Redis did.

redis-py is an optional dependency (``pip install 'clerk-users[redis]'``); it
is imported only when a :class:`RedisQuota` is created.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, TypeVar

from ._ratelimit import (
    AIMD,
    DEFAULT_AIMD_PERIOD,
    SAFETY_MARGIN,
    Aimd,
    Clock,
    LocalLimiter,
    Quota,
    QuotaWaitTooLong,
    Sleep,
    lateness_slack,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisQuota"]

T = TypeVar("T")

logger = logging.getLogger("clerk_async")

# Time in both scripts: ARGV's ``now`` (ms) when the caller injected a clock
# (tests in virtual time), else Redis's own TIME, so that the processes'
# clocks never have to agree. Blocks are stored as their end time rather
# than read from PTTL for the same reason; the PX only cleans up.
_NOW_LUA = """
local function clock(arg)
  if arg and arg ~= '' then
    return tonumber(arg)
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
-- The AIMD rule of clerk_async._ratelimit.Aimd.factor; r = recovery per period.
local function factor_at(aimd, now, r, period)
  if not aimd[1] then
    return 1
  end
  return math.min(1, tonumber(aimd[2]) + r * (now - tonumber(aimd[1])) / period)
end
"""

# KEYS: 1 block key of the operation, 2 AIMD hash of the instance,
#       3 instance schedule, 4 operation schedule.
# ARGV: 1-3 instance interval ms (0 = no quota), burst, lateness slack ms;
#       4-6 the same for the operation; 7 AIMD period ms; 8 AIMD recovery;
#       9 now ms or ''.
# Returns 0 when a slot was taken, else the microseconds to wait before
# asking again (an integer: Redis truncates Lua numbers to integers).
_ACQUIRE_LUA = _NOW_LUA + """
local now = clock(ARGV[9])
local blocked = tonumber(redis.call('GET', KEYS[1]))
if blocked and blocked > now then
  return math.max(1, math.ceil((blocked - now) * 1000))
end
local aimd = redis.call('HMGET', KEYS[2], 'at', 'factor')
local factor = factor_at(aimd, now, tonumber(ARGV[8]), tonumber(ARGV[7]))
local wait = 0
local plan = {}
for i = 0, 1 do
  local interval = tonumber(ARGV[1 + 3 * i])
  if interval > 0 then
    interval = interval / factor
    local burst = tonumber(ARGV[2 + 3 * i])
    local tat = tonumber(redis.call('GET', KEYS[3 + i]))
    if tat then
      wait = math.max(wait, tat - (burst - 1) * interval - now)
    end
    plan[#plan + 1] = {KEYS[3 + i], tat, interval, burst, tonumber(ARGV[3 + 3 * i])}
  end
end
if wait > 0 then
  return math.max(1, math.ceil(wait * 1000))
end
for _, p in ipairs(plan) do
  local start = now
  if p[2] then
    -- A caller that woke a little late does not push later slots back, up
    -- to the lateness slack (LATENESS_SLACK of the period, as LocalLimiter).
    start = math.max(p[2], now - p[5])
  end
  local tat = start + p[3]
  local ttl = math.ceil(tat - now + p[3] * p[4]) + 1000
  redis.call('SET', p[1], string.format('%.3f', tat), 'PX', ttl)
end
return 0
"""

# KEYS: 1 block key of the operation, 2 AIMD hash of the instance.
# ARGV: 1 block ms, 2 AIMD period ms, 3 AIMD recovery, 4 decrease, 5 floor,
#       6 episode window (periods), 7 forget-after ms, 8 now ms or ''.
_BLOCK_LUA = _NOW_LUA + """
local now = clock(ARGV[8])
local ends = now + tonumber(ARGV[1])
local previous = tonumber(redis.call('GET', KEYS[1])) or 0
if ends > previous then
  redis.call('SET', KEYS[1], string.format('%.3f', ends), 'PX',
             math.ceil(tonumber(ARGV[1])) + 1000)
end
if previous > now then
  -- The echo of requests already in flight when the episode's first 429 came.
  return 0
end
-- A new episode. Aimd.lowers: only a second one within the window means
-- someone outside this schedule spends the quota; then slow down.
local period = tonumber(ARGV[2])
local aimd = redis.call('HMGET', KEYS[2], 'at', 'factor', 'episode')
local last = tonumber(aimd[3])
if last and now - last <= tonumber(ARGV[6]) * period then
  local factor = factor_at(aimd, now, tonumber(ARGV[3]), period)
  factor = math.max(tonumber(ARGV[5]), factor * tonumber(ARGV[4]))
  redis.call('HSET', KEYS[2], 'at', string.format('%.3f', now),
             'factor', string.format('%.6f', factor))
end
redis.call('HSET', KEYS[2], 'episode', string.format('%.3f', now))
-- Past full recovery and the episode window, the hash is noise.
redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[7])))
return 0
"""


#: The share of what is left of a call's deadline that one Redis round trip
#: may take: when Redis is slow, the local fallback and the request itself
#: still have the rest. (A deadline covers quota wait; Redis is part of it.)
REDIS_SHARE_OF_DEADLINE = 0.5
#: ...but never less than this (seconds): a healthy Redis answers in well under
#: a millisecond, and a call whose quota wait used up its deadline must not
#: mistake that for an outage.
MIN_REDIS_WAIT = 0.05
#: Every process sharing a quota writes its settings this often (seconds) and
#: reads what the previous writer left, to notice processes that disagree.
CONFIG_CHECK_INTERVAL = 30.0

# KEYS: 1 the settings key. ARGV: 1 this process's settings, 2 their TTL in ms.
# Returns what was there before (nil: nobody else wrote recently).
_CONFIG_LUA = """
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return previous
"""


class SlowRedis(asyncio.TimeoutError):
    """Redis did not answer within the share of the wait it may use."""


def _redis_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    # OSError: socket failures redis-py lets through; TimeoutError: asyncio's.
    return (RedisError, OSError, asyncio.TimeoutError)


class _Config:
    """What to enforce, as the Lua script wants it."""

    __slots__ = ("aimd_period_ms", "instance", "instance_args", "key_id", "op_args", "operations")

    def __init__(
        self, instance: Quota | None, operations: Mapping[str, Quota], key_id: str, jitter: float
    ) -> None:
        self.instance = instance
        self.operations = dict(operations)
        self.key_id = key_id
        period = instance.period if instance else DEFAULT_AIMD_PERIOD
        self.aimd_period_ms = period * 1000
        self.instance_args = _quota_args(instance, jitter)
        self.op_args = {op: _quota_args(q, jitter) for op, q in self.operations.items()}

    @property
    def fingerprint(self) -> str:
        """The quotas as text: what processes sharing the quota must agree on."""
        parts = [f"instance={_quota_text(self.instance)}"]
        parts += [f"{op}={_quota_text(q)}" for op, q in sorted(self.operations.items())]
        return " ".join(parts)

    def same_as(self, other: _Config) -> bool:
        return (self.instance, self.operations, self.key_id) == (
            other.instance, other.operations, other.key_id,
        )


_NO_QUOTA = (0.0, 1, 0.0)


def _quota_text(quota: Quota | None) -> str:
    if quota is None:
        return "none"
    return f"{quota.requests}/{quota.period:g}s(burst {quota.burst})"


def _quota_args(quota: Quota | None, jitter: float) -> tuple[float, int, float]:
    """Slot interval, burst and slack (ms) of ``quota``, as the script takes them."""
    if quota is None:
        return _NO_QUOTA
    slack = lateness_slack(quota)
    # Clerk counts requests when they arrive, and the delay from a slot granted
    # here to its request arriving there varies (between processes, hosts,
    # scheduler hiccups) by up to ``jitter``. Any ``requests`` consecutive
    # slots must therefore span ``period + jitter``, plus the lateness that
    # ``slack`` forgives. For Clerk's 10 s windows the 1 % margin already
    # covers that; for short windows the absolute term dominates.
    interval = max(
        quota.interval * (1 + SAFETY_MARGIN), (quota.period + jitter + slack) / quota.requests
    )
    return interval * 1000, quota.burst, slack * 1000


class _LoopState:
    """Everything bound to one event loop: the Redis client, scripts, locks, fallback."""

    def __init__(
        self, client: Redis, owned: bool, config: _Config, quota: RedisQuota
    ) -> None:
        self.client = client
        self.owned = owned
        self.acquire_script: AsyncScript = client.register_script(_ACQUIRE_LUA)
        self.block_script: AsyncScript = client.register_script(_BLOCK_LUA)
        self.config_script: AsyncScript = client.register_script(_CONFIG_LUA)
        # Per-operation FIFO inside the process, as LocalLimiter: only the
        # head waiter polls Redis, the others queue behind it for free.
        self.locks: dict[str, asyncio.Lock] = {}
        self.queued: dict[str, int] = {}
        self.local = LocalLimiter(
            config.instance, config.operations,
            clock=quota._clock, sleep=quota._sleep, aimd=quota.aimd,
        )

    def lock(self, operation: str) -> asyncio.Lock:
        lock = self.locks.get(operation)
        if lock is None:
            lock = self.locks[operation] = asyncio.Lock()
        return lock


class RedisQuota:
    """A :class:`~clerk_async.Limiter` whose quota is shared through Redis.

    ``url_or_client`` is a Redis URL (``"redis://host:6379/0"``) or a
    ``redis.asyncio.Redis`` client. With a URL, a client is made lazily in
    each event loop that uses the quota (so a ``clerk_sync.Clerk``, which runs
    its own loop thread, works), with ``timeout`` seconds for connecting and
    for each command and one immediate retry: a slow or absent Redis must not
    hold requests up. A client you pass is used as it is, only in its own loop,
    and never closed here.

    ``jitter`` is how much, in seconds, the delay between a slot granted and
    its request reaching Clerk may vary across the processes sharing the
    quota; slots are spaced so that Clerk still never counts more than the
    quota in any window. ``probe_interval`` is how often, in seconds, Redis is
    tried again while it is unreachable.

    ``clock`` (seconds) and ``sleep`` replace Redis's TIME and asyncio's sleep,
    for tests in virtual time; every process sharing the quota must then
    share that clock. ``aimd`` is the rule for 429 episodes (the SDK's one
    rule by default, as :class:`~clerk_async.LocalLimiter`).

    ``prefix`` starts every key. Pass the quota to a client as
    ``AsyncClerk(rate_limit=RateLimits(..., backend=RedisQuota(url)))``; the
    client tells it the quotas and the instance. One RedisQuota may serve
    several clients of the same instance and settings.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        prefix: str = "clerk:quota",
        *,
        timeout: float = 1.0,
        probe_interval: float = 5.0,
        jitter: float = 0.05,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        aimd: Aimd = AIMD,
    ) -> None:
        try:
            import redis.asyncio  # noqa: F401 - only to fail early and clearly
        except ImportError as exc:  # pragma: no cover - the dev extra installs redis
            raise ImportError(
                "RedisQuota needs redis-py: pip install 'clerk-users[redis]'"
            ) from exc
        if not prefix:
            raise ValueError("prefix must be a non-empty str")
        if timeout <= 0 or probe_interval < 0 or jitter < 0:
            raise ValueError("timeout must be > 0, probe_interval and jitter >= 0")
        self._url = url_or_client if isinstance(url_or_client, str) else None
        self._client = None if isinstance(url_or_client, str) else url_or_client
        self.prefix = prefix
        self.timeout = float(timeout)
        self.probe_interval = float(probe_interval)
        self.jitter = float(jitter)
        self.aimd = aimd
        self._injected_clock = clock
        self._clock: Clock = clock or time.monotonic
        self._sleep: Sleep = sleep or asyncio.sleep
        self._config: _Config | None = None
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        # Health is shared by every loop: one warning per outage, not per loop.
        self._down = False
        self._next_probe = 0.0
        self._next_config_check: float | None = None
        self._disagreements_seen: set[str] = set()

    def __repr__(self) -> str:
        # Neither the URL (it may carry a password) nor the key id is shown.
        state = "down, using the local limiter" if self._down else "up"
        return f"<RedisQuota prefix={self.prefix!r} redis {state}>"

    @property
    def using_redis(self) -> bool:
        """False while Redis is unreachable and the local limiter paces requests."""
        return not self._down

    # -- configuration -------------------------------------------------------------

    def configure(
        self, instance: Quota | None, operations: Mapping[str, Quota], key_id: str
    ) -> None:
        """Set the quotas to enforce and the instance they belong to (the client calls this).

        Calling it again with the same settings is a no-op (a sync client
        rebuilds its async client after a fork); different settings raise
        ValueError, since the processes sharing this quota must agree on it.
        """
        config = _Config(instance, operations, key_id, self.jitter)
        if self._config is not None:
            if not self._config.same_as(config):
                raise ValueError(
                    "this RedisQuota is already configured for another instance or other "
                    "quotas; create one RedisQuota per client configuration"
                )
            return
        self._config = config

    def _configured(self) -> _Config:
        if self._config is None:
            raise RuntimeError(
                "RedisQuota is not configured: pass it to a client as "
                "RateLimits(backend=RedisQuota(...)), or call configure() first"
            )
        return self._config

    def _key(self, config: _Config, *parts: str) -> str:
        # The braces are a Redis Cluster hash tag: one instance, one slot, so
        # the multi-key scripts work there too.
        return ":".join((self.prefix, "{" + config.key_id + "}", *parts))

    def _state(self, config: _Config) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            if self._client is not None:
                client, owned = self._client, False
            else:
                from redis.asyncio import Redis
                from redis.asyncio.retry import Retry
                from redis.backoff import NoBackoff

                assert self._url is not None
                client = Redis.from_url(
                    self._url,
                    socket_timeout=self.timeout,
                    socket_connect_timeout=self.timeout,
                    # One immediate retry replaces a pooled connection that went
                    # stale; more, with backoff, would stall requests on an outage.
                    retry=Retry(NoBackoff(), 1),
                )
                owned = True
            state = self._states[loop] = _LoopState(client, owned, config, self)
        return state

    # -- the Limiter protocol ----------------------------------------------------------

    async def acquire(self, operation: str, max_wait: float | None = None) -> float:
        """Wait for a slot of ``operation`` in the shared schedule; return the seconds waited.

        With ``max_wait``, a slot further away raises :class:`QuotaWaitTooLong`
        at once, before waiting and without taking it.
        """
        config = self._configured()
        started = self._clock()
        state = self._state(config)
        if self._should_try_redis():
            # While Redis is down, the one caller let through here is the probe.
            probing = self._down
            ahead = state.queued.get(operation, 0)
            if max_wait is not None and ahead:
                # Those queued here each take at least one slot first.
                interval = max(config.instance_args[0], config.op_args.get(
                    operation, _NO_QUOTA)[0]) / 1000
                if ahead * interval > max_wait:
                    raise QuotaWaitTooLong(ahead * interval)
            state.queued[operation] = ahead + 1
            try:
                async with state.lock(operation):
                    # Waiters queued behind one that found Redis gone go local at
                    # once rather than each waiting for their own failure.
                    if probing or not self._down:
                        try:
                            await self._acquire_redis(
                                config, state, operation, started, max_wait
                            )
                        except _redis_errors() as exc:
                            self._went_down(exc)
                        else:
                            self._came_back()
                            return self._clock() - started
            finally:
                state.queued[operation] -= 1
        if max_wait is not None:
            max_wait = max(0.0, max_wait - (self._clock() - started))
        await state.local.acquire(operation, max_wait)
        return self._clock() - started

    def _now_arg(self) -> str:
        return "" if self._injected_clock is None else f"{self._clock() * 1000:.3f}"

    async def _acquire_redis(
        self, config: _Config, state: _LoopState, operation: str, started: float,
        max_wait: float | None,
    ) -> None:
        keys = [
            self._key(config, "block", operation),
            self._key(config, "aimd"),
            self._key(config, "tat"),
            self._key(config, "tat", "op", operation),
        ]
        fixed = (
            *config.instance_args,
            *config.op_args.get(operation, _NO_QUOTA),
            config.aimd_period_ms,
            self.aimd.recovery,
        )
        await self._check_config(config, state, started, max_wait)
        while True:
            answer = await self._bounded(
                state.acquire_script(keys=keys, args=(*fixed, self._now_arg())),
                started, max_wait,
            )
            wait_us = int(answer)
            if wait_us <= 0:
                return
            # Health is confirmed by every answer; a recovery is noticed here
            # rather than only after the slot is granted.
            self._came_back()
            wait = wait_us / 1_000_000
            if max_wait is not None and wait > max_wait - (self._clock() - started):
                raise QuotaWaitTooLong(wait)
            await self._sleep(wait)

    async def _bounded(
        self, command: Awaitable[T], started: float, max_wait: float | None
    ) -> T:
        """``command``'s answer, given at most its share of what is left of the deadline.

        A slow Redis (not a dead one: that fails fast) would otherwise use the
        whole deadline and leave nothing for the request; timing out here
        counts as Redis being down, so pacing falls back to the local limiter.
        """
        if max_wait is None:
            return await command
        left = max(0.0, max_wait - (self._clock() - started))
        budget = max(MIN_REDIS_WAIT, left * REDIS_SHARE_OF_DEADLINE)
        task = asyncio.ensure_future(command)
        try:
            return await asyncio.wait_for(task, budget)
        except asyncio.TimeoutError:
            if task.cancelled():
                raise SlowRedis(
                    f"no answer within {budget:.3f}s, half of the time left to wait"
                ) from None
            raise

    async def _check_config(
        self, config: _Config, state: _LoopState, started: float, max_wait: float | None
    ) -> None:
        """Warn when another process paces this instance to other quotas.

        Each process writes its settings every :data:`CONFIG_CHECK_INTERVAL`
        seconds and reads what was there: a process that starts with other
        settings notices at its first request, the others within the interval.
        A warning, not an error: during a rolling deploy that changes the
        quotas, old and new processes briefly disagree, and requests go on.
        """
        now = self._clock()
        if self._next_config_check is not None and now < self._next_config_check:
            return
        self._next_config_check = now + CONFIG_CHECK_INTERVAL
        mine = config.fingerprint
        theirs = await self._bounded(
            state.config_script(
                keys=[self._key(config, "config")],
                args=(mine, int(CONFIG_CHECK_INTERVAL * 2 * 1000)),
            ),
            started, max_wait,
        )
        if theirs is None:
            return
        if isinstance(theirs, bytes):
            theirs = theirs.decode("utf-8", errors="replace")
        if theirs != mine and theirs not in self._disagreements_seen:
            self._disagreements_seen.add(theirs)
            logger.warning(
                "RedisQuota: another process shares this Clerk instance's quota in Redis "
                "with other settings (theirs: %s; ours: %s). Each paces to its own, so "
                "together they may exceed Clerk's quota: give every process the same "
                "rate_limit settings",
                theirs, mine,
            )

    async def block(self, operation: str, seconds: float) -> None:
        """Hold ``operation`` back for ``seconds`` in every process (Clerk answered 429)."""
        config = self._configured()
        state = self._state(config)
        # Kept locally as well, so a Redis outage during the block still honours it.
        await state.local.block(operation, seconds)
        if seconds <= 0 or not self._should_try_redis():
            return
        aimd = self.aimd
        period_ms = config.aimd_period_ms
        try:
            # The caller waits out the block next, so a slow Redis may take a
            # share of it (not the client's timeouts) without delaying anyone.
            await self._bounded(
                state.block_script(
                    keys=[self._key(config, "block", operation), self._key(config, "aimd")],
                    args=(
                        seconds * 1000, period_ms, aimd.recovery, aimd.decrease, aimd.floor,
                        aimd.window, aimd.forget_after(period_ms / 1000) * 1000 + 1000,
                        self._now_arg(),
                    ),
                ),
                self._clock(), seconds,
            )
        except _redis_errors() as exc:
            self._went_down(exc)
        else:
            self._came_back()

    async def aclose(self) -> None:
        """Close the Redis connections this quota opened in the running loop.

        It stays usable: the next acquire reconnects. A client passed in is
        left open (its owner closes it).
        """
        state = self._states.pop(asyncio.get_running_loop(), None)
        if state is not None and state.owned:
            await state.client.aclose()

    # -- health ------------------------------------------------------------------------

    def _should_try_redis(self) -> bool:
        if not self._down:
            return True
        now = self._clock()
        if now < self._next_probe:
            return False
        # This caller probes; the others stay local until the probe answers.
        self._next_probe = now + self.probe_interval
        return True

    def _went_down(self, exc: BaseException) -> None:
        self._next_probe = self._clock() + self.probe_interval
        if not self._down:
            self._down = True
            logger.warning(
                "Redis quota unreachable (%s: %s); pacing requests in this process only "
                "until it is back",
                type(exc).__name__,
                exc,
            )

    def _came_back(self) -> None:
        if self._down:
            self._down = False
            logger.info("Redis quota reachable again; pacing requests through Redis")
