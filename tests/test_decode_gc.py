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
    parse, structure = parse_response, _base.structure_owned

    def spy_parse(*args: Any, **kwargs: Any) -> Any:
        calls.append(("parse sees enabled", gc.isenabled()))
        return parse(*args, **kwargs)

    def spy_structure(*args: Any, **kwargs: Any) -> Any:
        calls.append(("decode sees enabled", gc.isenabled()))
        return structure(*args, **kwargs)

    monkeypatch.setattr(_base, "parse_response", spy_parse)
    monkeypatch.setattr(_base, "structure_owned", spy_structure)
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
    # The facade decodes in its loop thread: a switch there would race with any other
    # thread's gc.disable()/enable() (the old pause undid them now and then).
    with ServerThread(ROUTES) as server, clerk_sync.Clerk(
        secret_key=KEY, base_url=server.base_url, rate_limit=None
    ) as clerk:
        assert [u.id for u in clerk.users.list(limit=2)] == ["user_1", "user_2"]
        with pytest.raises(ClerkDecodeError):
            clerk.users.get("typo")
    assert gc_calls == [("parse sees enabled", True), ("decode sees enabled", True),
                        ("parse sees enabled", True), ("decode sees enabled", True)]


# A page frees its parsed JSON item by item while its models are made (the collector
# runs on net allocations, so this is where the speed once bought by pausing it comes from).

BAD_PAGE = [user_json("user_1"), user_json(id=7), user_json("user_3")]
NESTED_BAD = [user_json("user_1"), {**user_json("user_2"), "email_addresses": [{"id": 1}]}]


@pytest.fixture
async def page_server() -> AsyncIterator[str]:
    routes = {("GET", "/v1/users"): json_handler([user_json(f"user_{n}") for n in range(5)])}
    async with Hostile(routes) as hostile:
        yield hostile.base_url


async def test_a_page_releases_each_items_json_once_its_model_exists(
    page_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clerk_async import _convert

    parsed: list[Any] = []
    left: list[int] = []
    real_parse, real_structure = _base.parse_response, _convert.converter.structure

    def keep_parsed(*args: Any, **kwargs: Any) -> Any:
        parsed.append(real_parse(*args, **kwargs))
        return parsed[-1]

    def count_left(data: Any, cl: Any) -> Any:
        left.append(len(parsed[-1]))  # items of the body not yet handed over
        return real_structure(data, cl)

    monkeypatch.setattr(_base, "parse_response", keep_parsed)
    class Counting:  # the converter, counting what is left of the body at each item
        structure = staticmethod(count_left)

    monkeypatch.setattr(_convert, "converter", Counting())
    async with AsyncClerk(secret_key=KEY, base_url=page_server, rate_limit=None) as clerk:
        page = await clerk.users.list(limit=5)
    assert [u.id for u in page] == [f"user_{n}" for n in range(5)]  # order kept
    assert left == [4, 3, 2, 1, 0] and parsed[-1] == []


@pytest.mark.parametrize(("body", "field"), [
    (BAD_PAGE, "[1].id"),
    (NESTED_BAD, "[1].email_addresses[0].id"),
    ([user_json("user_1"), "user_2"], "[1]"),
])
async def test_a_bad_item_of_a_page_is_named_as_before(body: list[Any], field: str) -> None:
    from clerk_async._convert import structure
    from clerk_async.models import User

    async with Hostile({("GET", "/v1/users"): json_handler(body)}) as server, AsyncClerk(
        secret_key=KEY, base_url=server.base_url, rate_limit=None
    ) as clerk:
        with pytest.raises(ClerkDecodeError) as caught:
            await clerk.users.list()
    with pytest.raises(ClerkDecodeError) as whole:  # the list structured in one call
        structure(body, list[User], method="GET", path="/users")
    assert caught.value.field == whole.value.field == field
    assert str(caught.value) == str(whole.value)
    assert str(caught.value).startswith("cannot read the body as list: ")
