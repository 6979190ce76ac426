"""Per-call options (``with_options``, ``default_headers``) and the call deadline."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from hostile import Hostile, json_handler

from clerk_async import AsyncClerk, ClerkTimeoutError, RateLimitError, RetryPolicy, ServerError

from factories import VirtualClock, user_json

KEY = "sk_test_OPTIONSsecretKEY0123456789abcdef"
FAST = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, deadline=10.0)
USER = ("GET", "/v1/users/user_1")


async def test_view_overrides_timeout_and_shares_everything_else() -> None:
    slow_calls = 0

    async def slow(request: web.Request) -> web.StreamResponse:
        nonlocal slow_calls
        slow_calls += 1
        if slow_calls == 1:
            await asyncio.sleep(5)
        return web.json_response(user_json())

    async with Hostile({USER: slow}) as server, AsyncClerk(
        secret_key=KEY, base_url=server.base_url, rate_limit="100/1s", retry=None
    ) as clerk:
        view = clerk.with_options(timeout=0.2)
        assert (view.timeout, clerk.timeout) == (0.2, 30.0)
        assert view.limiter is clerk.limiter and view.stats is clerk.stats
        assert view.quota == clerk.quota and view.base_url == clerk.base_url
        with pytest.raises(ClerkTimeoutError):
            await view.users.get("user_1")
        assert (await clerk.users.get("user_1")).id == "user_1"
        # One pool: the view used the client's session.
        assert view._transport._session is clerk._transport._session
        assert clerk.stats["GetUser"].requests == 2
        assert "options view" in repr(view) and KEY not in repr(view)


async def test_view_overrides_retry() -> None:
    async with Hostile({USER: json_handler({"errors": []}, status=503)}) as server, AsyncClerk(
        secret_key=KEY, base_url=server.base_url, rate_limit=None, retry=FAST
    ) as clerk:
        with pytest.raises(ServerError):
            await clerk.with_options(retry=None).users.get("user_1")
        assert server.count() == 1
        with pytest.raises(ServerError):
            await clerk.users.get("user_1")
        assert server.count() == 1 + FAST.max_attempts
        assert clerk.with_options(retry=None).retry is None
        assert clerk.with_options(timeout=5).retry is FAST


async def test_default_and_extra_headers() -> None:
    async with Hostile({USER: json_handler(user_json())}) as server, AsyncClerk(
        secret_key=KEY, base_url=server.base_url, rate_limit=None,
        default_headers={"X-Proxy": "edge-1"},
    ) as clerk:
        debug = clerk.with_options(extra_headers={"X-Debug": "1"})
        await debug.users.get("user_1")
        await debug.with_options(extra_headers={"X-Trace": "t"}).users.get("user_1")
        await clerk.users.get("user_1")
    first, second, plain = (s.headers for s in server.seen)
    assert first["X-Proxy"] == "edge-1" and first["X-Debug"] == "1"
    assert second["X-Debug"] == "1" and second["X-Trace"] == "t"
    assert plain["X-Proxy"] == "edge-1" and "X-Debug" not in plain
    assert all(h["Authorization"] == "Bearer " + KEY for h in (first, second, plain))


def test_bad_options_are_refused_naming_the_argument() -> None:
    clerk = AsyncClerk(secret_key=KEY)
    with pytest.raises(ValueError, match="extra_headers must not set 'Authorization'"):
        clerk.with_options(extra_headers={"Authorization": "Bearer other"})
    with pytest.raises(ValueError, match="default_headers must not set 'Content-Type'"):
        AsyncClerk(secret_key=KEY, default_headers={"Content-Type": "text/plain"})
    with pytest.raises(TypeError, match="extra_headers keys and values must be str"):
        clerk.with_options(extra_headers={"X-N": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="line breaks"):
        clerk.with_options(extra_headers={"X-A": "a\r\nX-B: b"})
    with pytest.raises(ValueError, match="timeout"):
        clerk.with_options(timeout=0)
    with pytest.raises(TypeError, match="retry"):
        clerk.with_options(retry=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_response_bytes"):
        clerk.with_options(max_response_bytes=0)
    with pytest.raises(TypeError, match="extra_headers must be a mapping"):
        clerk.with_options(extra_headers=[("X-A", "1")])  # type: ignore[arg-type]


async def test_closing_a_view_closes_nothing() -> None:
    async with Hostile({USER: json_handler(user_json())}) as server:
        clerk = AsyncClerk(secret_key=KEY, base_url=server.base_url, rate_limit=None)
        view = clerk.with_options(timeout=5)
        async with view:
            await view.users.get("user_1")
        await view.aclose()
        assert not view.closed and not clerk.closed
        await clerk.users.get("user_1")
        await clerk.aclose()
        assert view.closed and clerk.closed


async def test_quota_wait_beyond_the_deadline_fails_at_once_without_sending() -> None:
    clock = VirtualClock()
    async with Hostile({USER: json_handler(user_json())}) as server, AsyncClerk(
        secret_key=KEY, base_url=server.base_url, rate_limit="1/10s",
        clock=clock, sleep=clock.sleep,
    ) as clerk:
        budget = clerk.with_options(timeout=2.0, retry=RetryPolicy(deadline=2.0))
        await budget.users.get("user_1")
        with pytest.raises(RateLimitError, match="quota_wait_exceeds_deadline") as caught:
            await budget.users.get("user_1")
        assert caught.value.retry_after == pytest.approx(10.0 * 1.02)
        assert clock.now == 0.0 and clock.sleeps == []  # no waiting at all
        assert server.count() == 1  # nothing sent
        # Without retries the timeout is the budget.
        with pytest.raises(RateLimitError):
            await clerk.with_options(timeout=2.0, retry=None).users.get("user_1")
        # The default budget (the retry deadline, 120 s) waits for the slot.
        await clerk.users.get("user_1")
        assert clock.now == pytest.approx(10.0 * 1.02)
        assert server.count() == 2


async def test_attempt_timeout_never_outlasts_the_deadline() -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.json_response(user_json())

    async with Hostile({USER: slow}) as server, AsyncClerk(
        secret_key=KEY, base_url=server.base_url, rate_limit=None, timeout=30.0,
        retry=RetryPolicy(max_attempts=5, base_delay=0.0, deadline=0.3),
    ) as clerk:
        with pytest.raises(ClerkTimeoutError):
            await clerk.users.get("user_1")
    assert server.count() == 1


def test_sync_with_options_view() -> None:
    from hostile import ServerThread

    from clerk_sync import Clerk

    with ServerThread({USER: json_handler(user_json())}) as server, Clerk(
        secret_key=KEY, base_url=server.base_url, rate_limit=None, default_headers={"X-Proxy": "p"}
    ) as clerk:
        view = clerk.with_options(timeout=2.0, retry=None, extra_headers={"X-Debug": "1"})
        assert (view.timeout, view.retry, clerk.timeout) == (2.0, None, 30.0)
        assert view.users.get("user_1").id == "user_1"
        nested = view.with_options(extra_headers={"X-More": "m"})
        assert nested.timeout == 2.0
        nested.users.get("user_1")
        with view:
            pass  # closing a view closes nothing
        view.close()
        assert not clerk.closed and not view.closed
        assert clerk.users.get("user_1").id == "user_1"
        assert clerk.stats["GetUser"].requests == 3
        assert KEY not in repr(view)
    first, second, plain = (s.headers for s in server.seen)
    assert first["X-Debug"] == "1" and first["X-Proxy"] == "p"
    assert second["X-Debug"] == "1" and second["X-More"] == "m"
    assert "X-Debug" not in plain

