"""Regression tests against small hostile servers on loopback (issue 13).

Each test is a defect a broken, hostile or misrouted server could exploit:
redirects, slow drips, deep and huge bodies, pages that never advance, ids
that name other routes. Nothing a server sends may mislead, leak or exhaust
the client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from hostile import Hostile, json_handler

import clerk_async._json as json_module
from clerk_async import (
    AsyncClerk,
    BadRequestError,
    ClerkAPIError,
    ClerkDecodeError,
    ClerkTimeoutError,
    RetryPolicy,
)
from clerk_async._transport import TransportCause
from clerk_async.resources._base import ROUTE_SEGMENTS

from factories import user_json
from spec import spec as load_spec

KEY = "sk_test_HOSTILEsecretKEY0123456789abcdef"
PASSWORD = "correct-horse-battery-staple-9"
FAST = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, deadline=10.0)


def client(server: Hostile, **kwargs: Any) -> AsyncClerk:
    options: dict[str, Any] = {"retry": FAST, "rate_limit": None}
    options.update(kwargs)
    return AsyncClerk(secret_key=KEY, base_url=server.base_url, **options)


# -- redirects -------------------------------------------------------------------------


@pytest.fixture
async def thief() -> AsyncIterator[Hostile]:
    async def take(request: web.Request) -> web.StreamResponse:
        return web.json_response(user_json("user_stolen"))

    async with Hostile({("*", "/{tail:.*}"): take}) as server:
        yield server


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_cross_origin_redirect_is_not_followed(thief: Hostile, status: int) -> None:
    target = thief.url + "/steal"

    async def redirect(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": target})

    async with Hostile({("POST", "/v1/users"): redirect}) as server, client(server) as api:
        with pytest.raises(ClerkAPIError) as caught:
            await api.users.create(external_id="x", password=PASSWORD)
    assert caught.value.status == status
    assert target in str(caught.value) and str(status) in str(caught.value)
    assert thief.seen == []  # the password went nowhere else
    assert server.count("POST", "/v1/users") == 1  # never retried
    assert PASSWORD.encode() in server.seen[0].body


async def test_same_origin_redirect_is_not_followed() -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        return web.Response(status=307, headers={"Location": "/v1/users/count"})

    routes = {
        ("GET", "/v1/users/user_1"): redirect,
        ("GET", "/v1/users/count"): json_handler({"object": "total_count", "total_count": 5}),
    }
    async with Hostile(routes) as server, client(server) as api:
        with pytest.raises(ClerkAPIError, match=r"307 .*Location: /v1/users/count"):
            await api.users.get("user_1")
    assert [s.path for s in server.seen] == ["/v1/users/user_1"]


# -- slow drip -----------------------------------------------------------------------


async def drip(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b"{")
    while True:  # one byte now and then, never finishing
        await asyncio.sleep(0.05)
        await response.write(b" ")


async def test_slow_drip_ends_in_a_timeout_with_a_sanitised_cause() -> None:
    route = {("GET", "/v1/users/user_1"): drip}
    async with Hostile(route) as server, client(server, timeout=0.3, retry=None) as api:
        with pytest.raises(ClerkTimeoutError) as caught:
            await api.users.get("user_1")
    cause = caught.value.__cause__
    assert isinstance(cause, TransportCause)
    assert cause.__traceback__ is None
    assert caught.value.__suppress_context__


# -- deep and huge bodies ---------------------------------------------------------------


DEEP = b"[" * 200_000 + b"]" * 200_000


@pytest.fixture(params=["orjson", "stdlib"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "stdlib":
        monkeypatch.setattr(json_module, "_parse", json.loads)
    return str(request.param)


async def test_deep_success_body_is_a_decode_error(parser: str) -> None:
    async def deep(request: web.Request) -> web.StreamResponse:
        return web.Response(body=DEEP, content_type="application/json")

    async with Hostile({("GET", "/v1/users/user_1"): deep}) as server, client(server) as api:
        with pytest.raises(ClerkDecodeError, match=r"nested too deeply.*GET /users/user_1"):
            await api.users.get("user_1")


async def test_deep_error_body_keeps_its_status(parser: str) -> None:
    async def deep(request: web.Request) -> web.StreamResponse:
        return web.Response(status=400, body=DEEP, content_type="application/json")

    async with Hostile({("GET", "/v1/users/user_1"): deep}) as server, client(server) as api:
        with pytest.raises(BadRequestError) as caught:
            await api.users.get("user_1")
    assert caught.value.errors == []


async def test_body_declared_too_large_is_refused_before_reading() -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "application/json", "Content-Length": str(10**10)}
        )
        await response.prepare(request)
        await response.write(b"[" * 1000)
        await asyncio.sleep(30)
        return response

    async with Hostile({("GET", "/v1/users/user_1"): huge}) as server, client(server) as api:
        with pytest.raises(ClerkDecodeError, match=r"max_response_bytes=67108864.*\[200 GET"):
            await api.users.get("user_1")


async def test_streamed_body_is_cut_at_the_cap() -> None:
    sent: list[int] = []
    finished: list[bool] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        chunk = b" " * 65536
        await response.write(b"[")
        try:
            for _ in range(4000):  # 256 MiB if nobody stops it
                await response.write(chunk)
                sent.append(len(chunk))
        except (ConnectionError, asyncio.CancelledError):
            finished.append(False)
            raise
        finished.append(True)
        return response

    async with Hostile({("GET", "/v1/users/user_1"): endless}) as server:
        async with client(server, max_response_bytes=1024 * 1024) as api:
            assert api.max_response_bytes == 1024 * 1024
            with pytest.raises(ClerkDecodeError, match="max_response_bytes=1048576"):
                await api.users.get("user_1")
        for _ in range(200):
            if finished:
                break
            await asyncio.sleep(0.01)
    assert finished == [False]
    assert sum(sent) < 64 * 1024 * 1024  # stopped early, not read whole


# -- pages that do not advance -----------------------------------------------------------


@pytest.mark.parametrize("order_by", [None, "-updated_at"])
async def test_iter_stops_on_a_page_that_repeats(order_by: str | None) -> None:
    page = [user_json("user_a"), user_json("user_b")]
    seen = []
    async with Hostile({("GET", "/v1/users"): json_handler(page)}) as server, client(server) as api:
        with pytest.raises(ClerkDecodeError, match=r"page 2 .*did not advance.*'user_"):
            async for user in api.users.iter(page_size=2, order_by=order_by):
                seen.append(user.id)
    assert seen == ["user_a", "user_b"]
    assert server.count("GET", "/v1/users") == 2


async def test_iter_stops_when_the_cursor_comes_back() -> None:
    pages = [[user_json("user_a"), user_json("user_b")], [user_json("user_c"), user_json("user_b")]]

    async def listing(request: web.Request) -> web.StreamResponse:
        index = 0 if "starting_after" not in request.query else 1
        return web.json_response(pages[index])

    async with Hostile({("GET", "/v1/users"): listing}) as server, client(server) as api:
        with pytest.raises(ClerkDecodeError, match=r"starting_after=user_b.*'user_b'"):
            async for _ in api.users.iter(page_size=2):
                pass


async def test_iter_walks_honest_pages_to_the_end() -> None:
    users = [user_json(f"user_{i}") for i in range(5)]

    async def listing(request: web.Request) -> web.StreamResponse:
        after = request.query.get("starting_after")
        start = 0 if after is None else [u["id"] for u in users].index(after) + 1
        return web.json_response(users[start : start + int(request.query["limit"])])

    async with Hostile({("GET", "/v1/users"): listing}) as server, client(server) as api:
        assert [u.id async for u in api.users.iter(page_size=2)] == [u["id"] for u in users]


# -- ids that name other routes ----------------------------------------------------------


def test_route_segments_are_the_specs() -> None:
    literal = set()
    for path in load_spec()["paths"]:
        if path.startswith("/users/"):
            literal |= {s for s in path.split("/")[2:] if s and not s.startswith("{")}
    assert literal == set(ROUTE_SEGMENTS)


@pytest.mark.parametrize("name", sorted(ROUTE_SEGMENTS))
async def test_route_name_ids_are_refused_before_sending(name: str) -> None:
    async with Hostile() as server, client(server) as api:
        with pytest.raises(ValueError, match=rf"user_id must not be '{name}'.*another Clerk route"):
            await api.users.get(name)
        with pytest.raises(ValueError, match="user_id"):
            await api.users.delete(name)
    assert server.seen == []


async def test_route_name_in_a_nested_id_is_refused() -> None:
    async with Hostile() as server, client(server) as api:
        with pytest.raises(ValueError, match="provider must not be 'count'"):
            await api.users.get_oauth_access_token("user_1", "count")
    assert server.seen == []


# -- paginated OAuth tokens -------------------------------------------------------------

TOKEN = {
    "object": "oauth_access_token", "external_account_id": "eac_1", "provider_user_id": "p1",
    "token": "tok", "provider": "oauth_google", "public_metadata": {}, "label": None,
    "scopes": ["email"],
}


@pytest.mark.parametrize("envelope", [True, False])
async def test_oauth_tokens_accept_both_shapes(envelope: bool) -> None:
    body: Any = {"data": [TOKEN], "total_count": 3} if envelope else [TOKEN]
    route = ("GET", "/v1/users/user_1/oauth_access_tokens/oauth_google")
    async with Hostile({route: json_handler(body)}) as server, client(server) as api:
        tokens = await api.users.get_oauth_access_token("user_1", "oauth_google")
        page = await api.users.get_oauth_access_token(
            "user_1", "oauth_google", paginated=True, limit=1, offset=0
        )
        with pytest.raises(TypeError, match="paginated"):
            await api.users.get_oauth_access_token(
                "user_1", "oauth_google", paginated="yes"  # type: ignore[arg-type]
            )
    assert isinstance(tokens, list) and tokens[0].token == "tok"
    assert not isinstance(page, list)
    assert [t.token for t in page.data] == ["tok"]
    assert page.total_count == (3 if envelope else 1)
    assert server.seen[1].query == {"paginated": "true", "limit": "1", "offset": "0"}
