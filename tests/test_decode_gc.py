"""Decoding never touches the garbage collector: it is the caller's, not ours.

The SDK used to pause the cyclic collector around each parse and decode. The
collector is process-wide, so that pause also undid a ``gc.disable()`` made by
another thread meanwhile (the sync facade decodes in its own loop thread). A
decode now leaves the collector alone on every path: success, wrong types and
unreadable JSON, async and sync.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from hostile import Hostile, ServerThread, json_handler

import clerk_sync
from clerk_async import AsyncClerk, ClerkDecodeError
from clerk_async._json import parse_response
from clerk_async.resources import _base

from factories import user_json

KEY = "sk_test_" + "x" * 32


async def _junk(request: web.Request) -> web.Response:
    return web.Response(body=b"{not json", content_type="application/json")


ROUTES = {
    ("GET", "/v1/users"): json_handler([user_json("user_1"), user_json("user_2")]),
    ("GET", "/v1/users/typo"): json_handler(user_json(id=12345)),
    ("GET", "/v1/users/junk"): _junk,
}


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """``/users``: two good users; ``/users/typo``: a numeric id; ``/users/junk``: not JSON."""
    async with Hostile(ROUTES) as hostile:
        yield hostile.base_url


@pytest.fixture
def gc_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Any]]]:
    """Every call to the collector's switches, and its state while parsing and decoding."""
    calls: list[tuple[str, Any]] = []
    real = {name: getattr(gc, name) for name in ("disable", "enable", "freeze", "collect")}
    for name, func in real.items():
        def spy(*args: Any, _name: str = name, _func: Any = func) -> Any:
            calls.append((_name, args))
            return _func(*args)

        monkeypatch.setattr(gc, name, spy)
    parse, structure = parse_response, _base.structure_checked

    def spy_parse(*args: Any, **kwargs: Any) -> Any:
        calls.append(("parse sees enabled", gc.isenabled()))
        return parse(*args, **kwargs)

    def spy_structure(*args: Any, **kwargs: Any) -> Any:
        calls.append(("decode sees enabled", gc.isenabled()))
        return structure(*args, **kwargs)

    monkeypatch.setattr(_base, "parse_response", spy_parse)
    monkeypatch.setattr(_base, "structure_checked", spy_structure)
    yield calls


async def test_a_page_is_parsed_and_decoded_with_the_collector_left_alone(
    server: str, gc_calls: list[tuple[str, Any]]
) -> None:
    assert gc.isenabled()
    async with AsyncClerk(secret_key=KEY, base_url=server, rate_limit=None) as clerk:
        page = await clerk.users.list(limit=2)
    assert [u.id for u in page] == ["user_1", "user_2"]
    assert gc_calls == [("parse sees enabled", True), ("decode sees enabled", True)]


@pytest.mark.parametrize(("user_id", "message"), [("typo", "expected str"), ("junk", "JSON")])
async def test_a_failed_decode_leaves_the_collector_alone(
    server: str, gc_calls: list[tuple[str, Any]], user_id: str, message: str
) -> None:
    async with AsyncClerk(secret_key=KEY, base_url=server, rate_limit=None) as clerk:
        with pytest.raises(ClerkDecodeError, match=message):
            await clerk.users.get(user_id)
    assert not [call for call in gc_calls if not call[0].endswith("sees enabled")]
    assert ("parse sees enabled", True) in gc_calls


async def test_a_collector_the_caller_turned_off_stays_off_throughout(
    server: str, gc_calls: list[tuple[str, Any]]
) -> None:
    gc.disable()
    try:
        async with AsyncClerk(secret_key=KEY, base_url=server, rate_limit=None) as clerk:
            assert len(await clerk.users.list(limit=2)) == 2
            with pytest.raises(ClerkDecodeError):
                await clerk.users.get("typo")
            assert not gc.isenabled()
    finally:
        gc.enable()
    switches = [call for call in gc_calls if not call[0].endswith("sees enabled")]
    assert switches == [("disable", ()), ("enable", ())]  # the test's own, nothing else
    assert ("decode sees enabled", False) in gc_calls


def test_the_sync_facade_decodes_in_its_thread_without_touching_the_collector(
    gc_calls: list[tuple[str, Any]],
) -> None:
    # Another thread's gc.disable() must survive a decode running in the facade's loop thread.
    with ServerThread(ROUTES) as server, clerk_sync.Clerk(
        secret_key=KEY, base_url=server.base_url, rate_limit=None
    ) as clerk:
        gc.disable()
        try:
            assert [u.id for u in clerk.users.list(limit=2)] == ["user_1", "user_2"]
            assert not gc.isenabled()
        finally:
            gc.enable()
    switches = [call for call in gc_calls if not call[0].endswith("sees enabled")]
    assert switches == [("disable", ()), ("enable", ())]
