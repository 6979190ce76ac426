"""Narrow transport cases with aioresponses: status mapping, retries, Retry-After."""

from __future__ import annotations

import asyncio
import logging
import re
from types import SimpleNamespace

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses

import clerk_async
from clerk_async import (
    AsyncClerk,
    AuthenticationError,
    BadRequestError,
    ClerkAPIError,
    ClerkConnectionError,
    ClerkDecodeError,
    ClerkError,
    ClerkTimeoutError,
    ConflictError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    UnprocessableEntityError,
)
from clerk_async._errors import parse_retry_after

from conftest import API, KEY
from factories import VirtualClock, error_json, user_json

USER_URL = f"{API}/users/user_1"
USERS_RE = re.compile(r"^https://api\.clerk\.com/v1/users(\?.*)?$")


def calls_to(mocked: aioresponses) -> int:
    return sum(len(v) for v in mocked.requests.values())


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, PaymentRequiredError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (418, ClerkAPIError),
    ],
)
async def test_each_status_maps_to_its_class(
    api: AsyncClerk, mocked: aioresponses, status: int, cls: type[ClerkAPIError]
) -> None:
    mocked.get(
        USER_URL, status=status, payload=error_json("some_code", trace="tr_9"), repeat=True,
        headers={"Retry-After": "0"},
    )
    with pytest.raises(cls) as info:
        await api.users.get("user_1")
    err = info.value
    assert type(err) is cls
    assert err.status == status
    assert err.code == "some_code"
    assert err.errors[0].long_message == "failed (long)"
    assert err.clerk_trace_id == "tr_9"
    assert "some_code" in str(err) and str(status) in str(err) and "tr_9" in str(err)
    assert "\n" not in str(err)
    assert KEY not in str(err) and KEY not in repr(err.headers)


async def test_non_json_error_body_keeps_text(api: AsyncClerk, mocked: aioresponses) -> None:
    mocked.get(USER_URL, status=502, body="<html>Bad gateway</html>", repeat=True)
    with pytest.raises(ServerError) as info:
        await api.users.get("user_1")
    assert info.value.errors == []
    assert info.value.body == "<html>Bad gateway</html>"
    assert "Bad gateway" in str(info.value)


async def test_retry_after_seconds_honoured(
    api: AsyncClerk, mocked: aioresponses, clock: VirtualClock
) -> None:
    mocked.get(USER_URL, status=429, payload=error_json("too_many_requests"),
               headers={"Retry-After": "7"})
    mocked.get(USER_URL, payload=user_json())
    user = await api.users.get("user_1")
    assert user.id == "user_1"
    assert clock.sleeps == [7.0]


def test_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_retry_after_beyond_deadline_raises_at_once(
    clock: VirtualClock, mocked: aioresponses
) -> None:
    client = AsyncClerk(secret_key=KEY, retry=RetryPolicy(deadline=60), rate_limit=None,
                        sleep=clock.sleep, clock=clock)
    mocked.get(USER_URL, status=429, payload=error_json("too_many_requests"),
               headers={"Retry-After": "600"}, repeat=True)
    with pytest.raises(RateLimitError) as info:
        await client.users.get("user_1")
    assert info.value.retry_after == 600
    assert clock.sleeps == []
    await client.aclose()


async def test_get_retried_on_503(api: AsyncClerk, mocked: aioresponses,
                                  clock: VirtualClock) -> None:
    mocked.get(USER_URL, status=503, payload=error_json("unavailable"))
    mocked.get(USER_URL, status=503, payload=error_json("unavailable"))
    mocked.get(USER_URL, payload=user_json())
    assert (await api.users.get("user_1")).id == "user_1"
    assert calls_to(mocked) == 3
    assert len(clock.sleeps) == 2
    assert all(0 <= s <= 1.0 for s in clock.sleeps)  # full jitter under base * 2**n


async def test_attempts_are_capped(api: AsyncClerk, mocked: aioresponses) -> None:
    mocked.get(USER_URL, status=503, payload=error_json("unavailable"), repeat=True)
    with pytest.raises(ServerError):
        await api.users.get("user_1")
    assert calls_to(mocked) == 4


async def test_create_not_retried_on_500(api: AsyncClerk, mocked: aioresponses) -> None:
    mocked.post(f"{API}/users", status=500, payload=error_json("internal"), repeat=True)
    with pytest.raises(ServerError):
        await api.users.create(email_address=["a@example.com"])
    assert calls_to(mocked) == 1


async def test_create_not_retried_on_timeout(api: AsyncClerk, mocked: aioresponses) -> None:
    mocked.post(f"{API}/users", exception=asyncio.TimeoutError(), repeat=True)
    with pytest.raises(ClerkTimeoutError) as info:
        await api.users.create(email_address=["a@example.com"])
    assert info.value.request_sent
    assert calls_to(mocked) == 1


async def test_create_not_retried_on_dropped_connection(
    api: AsyncClerk, mocked: aioresponses
) -> None:
    mocked.post(f"{API}/users", exception=aiohttp.ServerDisconnectedError(), repeat=True)
    with pytest.raises(ClerkConnectionError):
        await api.users.create(email_address=["a@example.com"])
    assert calls_to(mocked) == 1


async def test_create_retried_on_429_and_refused_connection(
    api: AsyncClerk, mocked: aioresponses
) -> None:
    key = SimpleNamespace(ssl=True, host="api.clerk.com", port=443)
    refused = aiohttp.ClientConnectorError(
        connection_key=key, os_error=ConnectionRefusedError(111, "refused")  # type: ignore[arg-type]
    )
    mocked.post(f"{API}/users", exception=refused)
    mocked.post(f"{API}/users", status=429, payload=error_json("too_many_requests"),
                headers={"Retry-After": "1"})
    mocked.post(f"{API}/users", payload=user_json("user_new"))
    user = await api.users.create(email_address=["a@example.com"])
    assert user.id == "user_new"
    assert calls_to(mocked) == 3


async def test_retry_unsafe_opts_posts_in(clock: VirtualClock, mocked: aioresponses) -> None:
    client = AsyncClerk(secret_key=KEY, retry=RetryPolicy(retry_unsafe=True), rate_limit=None,
                        sleep=clock.sleep, clock=clock)
    mocked.post(f"{API}/users", status=500, payload=error_json("internal"))
    mocked.post(f"{API}/users", payload=user_json("user_new"))
    assert (await client.users.create(first_name="A")).id == "user_new"
    await client.aclose()


async def test_idempotency_keyed_post_is_retried(api: AsyncClerk, mocked: aioresponses) -> None:
    url = f"{API}/users/user_1/billing/credits"
    mocked.post(url, exception=asyncio.TimeoutError())
    money = {"amount": 100, "amount_formatted": "1.00", "currency": "USD", "currency_symbol": "$"}
    ledger = {
        "object": "commerce_credit_ledger", "id": "ccl_1", "payer_id": "p", "amount": money,
        "source_type": "adjustment", "source_id": "k", "created_at": "2026-01-01T00:00:00Z",
    }
    mocked.post(url, payload=ledger)
    entry = await api.users.adjust_billing_credit_balance(
        "user_1", amount=100, action="increase", idempotency_key="k"
    )
    assert entry.id == "ccl_1"
    assert calls_to(mocked) == 2


async def test_retry_none_disables_retries(clock: VirtualClock, mocked: aioresponses) -> None:
    client = AsyncClerk(secret_key=KEY, retry=None, rate_limit=None, sleep=clock.sleep)
    mocked.get(USER_URL, status=503, payload=error_json("unavailable"), repeat=True)
    with pytest.raises(ServerError):
        await client.users.get("user_1")
    assert calls_to(mocked) == 1
    await client.aclose()


async def test_iter_follows_cursor_across_three_pages(
    api: AsyncClerk, mocked: aioresponses
) -> None:
    pages = {
        None: [user_json("user_1"), user_json("user_2")],
        "user_2": [user_json("user_3"), user_json("user_4")],
        "user_4": [user_json("user_5")],
    }
    seen_queries: list[dict[str, str]] = []

    def answer(url: object, **kwargs: object) -> CallbackResult:
        query = dict(url.query)  # type: ignore[attr-defined]
        seen_queries.append(query)
        return CallbackResult(payload=pages[query.get("starting_after")])

    mocked.get(USERS_RE, callback=answer, repeat=True)
    ids = [u.id async for u in api.users.iter(page_size=2, banned=False)]
    assert ids == ["user_1", "user_2", "user_3", "user_4", "user_5"]
    assert [q.get("starting_after") for q in seen_queries] == [None, "user_2", "user_4"]
    assert all(q["limit"] == "2" and q["banned"] == "false" for q in seen_queries)
    assert all("offset" not in q for q in seen_queries)


async def test_iter_uses_offset_for_other_orderings(
    api: AsyncClerk, mocked: aioresponses
) -> None:
    seen: list[dict[str, str]] = []

    def answer(url: object, **kwargs: object) -> CallbackResult:
        query = dict(url.query)  # type: ignore[attr-defined]
        seen.append(query)
        start = int(query["offset"])
        users = [user_json(f"user_{i}") for i in range(start, min(5, start + 2))]
        return CallbackResult(payload=users)

    mocked.get(USERS_RE, callback=answer, repeat=True)
    ids = [u.id async for u in api.users.iter(page_size=2, order_by="-updated_at")]
    assert ids == [f"user_{i}" for i in range(5)]
    assert [q["offset"] for q in seen] == ["0", "2", "4"]
    assert all(q["order_by"] == "-updated_at" for q in seen)


async def test_missing_key_is_a_clear_error_before_any_request(
    mocked: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLERK_SECRET_KEY", raising=False)
    client = AsyncClerk(rate_limit=None)
    with pytest.raises(ClerkError, match="CLERK_SECRET_KEY"):
        await client.users.get("user_1")
    assert calls_to(mocked) == 0
    await client.aclose()


def test_key_and_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", KEY)
    monkeypatch.setenv("CLERK_API_URL", "http://127.0.0.1:9999/v1")
    client = AsyncClerk()
    assert client.base_url == "http://127.0.0.1:9999/v1"
    assert KEY not in repr(client) and "sk_test_" in repr(client)


@pytest.mark.parametrize("url", ["http://api.clerk.com/v1", "http://10.0.0.1/v1", "ftp://x/v1"])
def test_plain_http_refused_off_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        AsyncClerk(secret_key=KEY, base_url=url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/v1", "http://localhost/v1", "http://[::1]:8/v1"])
def test_plain_http_allowed_on_loopback(url: str) -> None:
    AsyncClerk(secret_key=KEY, base_url=url)


@pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"timeout": -1}, {"api_version": ""}])
def test_bad_constructor_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AsyncClerk(secret_key=KEY, **kwargs)  # type: ignore[arg-type]


async def test_close_is_idempotent_and_use_after_close_raises(
    api: AsyncClerk, mocked: aioresponses
) -> None:
    mocked.get(USER_URL, payload=user_json())
    await api.users.get("user_1")
    await api.aclose()
    await api.aclose()
    assert api.closed
    with pytest.raises(ClerkError, match="closed"):
        await api.users.get("user_1")


async def test_debug_log_line_per_attempt_without_key(
    api: AsyncClerk, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get(USER_URL, status=503, payload=error_json("unavailable", trace="tr_x"))
    mocked.get(USER_URL, payload=user_json())
    with caplog.at_level(logging.DEBUG, logger="clerk_async"):
        await api.users.get("user_1")
    lines = [r.getMessage() for r in caplog.records if r.name == "clerk_async"]
    assert len(lines) == 2
    assert "GET /v1/users/user_1 -> 503" in lines[0] and "attempt 1" in lines[0]
    assert "tr_x" in lines[0]
    assert "-> 200" in lines[1] and "attempt 2" in lines[1]
    assert all(KEY not in line for line in lines)


def test_public_names_exported() -> None:
    for name in clerk_async.__all__:
        assert hasattr(clerk_async, name)


async def test_undecodable_success_body_is_a_clerk_error(
    api: AsyncClerk, mocked: aioresponses
) -> None:
    broken = user_json()
    del broken["id"]
    mocked.get(USER_URL, payload=broken)
    with pytest.raises(ClerkError, match=r"as User: missing required field at id \[GET /users/"):
        await api.users.get("user_1")
    mocked.get(USER_URL, body=b"<html>not json</html>", content_type="text/html")
    with pytest.raises(ClerkDecodeError, match=r"not valid JSON.*GET /users/user_1.*<html>"):
        await api.users.get("user_1")


async def test_429s_do_not_use_up_attempts_but_are_capped(
    api: AsyncClerk, mocked: aioresponses, clock: VirtualClock
) -> None:
    for _ in range(6):
        mocked.get(USER_URL, status=429, payload=error_json("too_many_requests"),
                   headers={"Retry-After": "1"})
    mocked.get(USER_URL, payload=user_json())
    assert (await api.users.get("user_1")).id == "user_1"  # 6 x 429 > max_attempts=4
    assert clock.sleeps == [1.0] * 6
    assert api.stats["GetUser"].rate_limited == 6 and api.stats["GetUser"].retries == 6

    mocked.get(USER_URL, status=429, payload=error_json("too_many_requests"),
               headers={"Retry-After": "0"}, repeat=True)
    with pytest.raises(RateLimitError):
        await api.users.get("user_1")  # a server that never relents: bounded, no hot loop


async def test_metadata_merge_is_retried_like_an_idempotent_call(
    api: AsyncClerk, mocked: aioresponses
) -> None:
    url = f"{API}/users/user_1/metadata"
    mocked.patch(url, exception=asyncio.TimeoutError())
    mocked.patch(url, status=503, payload=error_json("unavailable"))
    mocked.patch(url, payload=user_json(public_metadata={"a": 1}))
    user = await api.users.update_metadata("user_1", public_metadata={"a": 1})
    assert user.public_metadata == {"a": 1}
    assert calls_to(mocked) == 3
