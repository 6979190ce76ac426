"""The cyclic collector is paused while a response body is parsed and decoded.

A page of users is tens of thousands of new containers and no cycles; the
collector rescanning them mid-decode cost about as much as the decode. These
tests pin the contract of the pause: it covers the parse and the decode of a
real response, it ends on every path (success, wrong types, unreadable JSON),
and it never turns on a collector the caller had turned off.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from hostile import Hostile, json_handler

from clerk_async import AsyncClerk, ClerkDecodeError
from clerk_async._json import parse_response
from clerk_async._nogc import gc_paused
from clerk_async.resources import _base

from factories import user_json

KEY = "sk_test_" + "x" * 32


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """``/users``: two good users; ``/users/typo``: a numeric id; ``/users/junk``: not JSON."""

    async def junk(request: web.Request) -> web.Response:
        return web.Response(body=b"{not json", content_type="application/json")

    routes = {
        ("GET", "/v1/users"): json_handler([user_json("user_1"), user_json("user_2")]),
        ("GET", "/v1/users/typo"): json_handler(user_json(id=12345)),
        ("GET", "/v1/users/junk"): junk,
    }
    async with Hostile(routes) as hostile:
        yield hostile.base_url


@pytest.fixture
def gc_seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, bool]]]:
    """Records whether the collector was enabled when parsing and decoding ran."""
    seen: list[tuple[str, bool]] = []
    parse, structure = parse_response, _base.structure_checked

    def spy_parse(*args: Any, **kwargs: Any) -> Any:
        seen.append(("parse", gc.isenabled()))
        return parse(*args, **kwargs)

    def spy_structure(*args: Any, **kwargs: Any) -> Any:
        seen.append(("decode", gc.isenabled()))
        return structure(*args, **kwargs)

    monkeypatch.setattr(_base, "parse_response", spy_parse)
    monkeypatch.setattr(_base, "structure_checked", spy_structure)
    was = gc.isenabled()
    gc.enable()
    try:
        yield seen
    finally:
        (gc.enable if was else gc.disable)()


async def test_a_page_is_parsed_and_decoded_with_the_collector_paused(
    server: str, gc_seen: list[tuple[str, bool]]
) -> None:
    async with AsyncClerk(secret_key=KEY, base_url=server, rate_limit=None) as clerk:
        page = await clerk.users.list(limit=2)
        assert gc.isenabled()  # back on before the caller sees the result
    assert [u.id for u in page] == ["user_1", "user_2"]
    assert gc_seen == [("parse", False), ("decode", False)]


@pytest.mark.parametrize(("user_id", "message"), [("typo", "expected str"), ("junk", "JSON")])
async def test_the_collector_is_back_on_after_a_failed_decode(
    server: str, gc_seen: list[tuple[str, bool]], user_id: str, message: str
) -> None:
    async with AsyncClerk(secret_key=KEY, base_url=server, rate_limit=None) as clerk:
        with pytest.raises(ClerkDecodeError, match=message):
            await clerk.users.get(user_id)
        assert gc.isenabled()
    assert ("parse", False) in gc_seen


async def test_a_collector_the_caller_turned_off_stays_off(server: str) -> None:
    gc.disable()
    try:
        async with AsyncClerk(secret_key=KEY, base_url=server, rate_limit=None) as clerk:
            assert len(await clerk.users.list(limit=2)) == 2
            with pytest.raises(ClerkDecodeError):
                await clerk.users.get("typo")
            assert not gc.isenabled()
    finally:
        gc.enable()


def test_pauses_nest() -> None:
    assert gc.isenabled()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause is still on
    assert gc.isenabled()
