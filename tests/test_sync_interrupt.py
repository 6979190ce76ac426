"""Ctrl-C in a blocking call cancels the request in the loop thread, then propagates.

Real blocking calls from the main thread against a slow loopback server (in
a thread of its own); SIGINT sent to the main thread is what Ctrl-C does (it
also wakes a blocked lock wait, which ``_thread.interrupt_main`` would not).
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from aiohttp import web
from hostile import WAIT, Hostile, ServerThread

from clerk_async import RateLimits
from clerk_sync import Clerk

from factories import user_json

KEY = "sk_test_INTERRUPTsecretKEY0123456789abc"


def interrupt_when(condition: Callable[[], bool]) -> threading.Thread:
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main

    def watch() -> None:
        deadline = time.monotonic() + WAIT
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        signal.pthread_kill(main, signal.SIGINT)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def slow_server() -> Iterator[tuple[Hostile, threading.Event, threading.Event]]:
    entered, cancelled = threading.Event(), threading.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()  # the client went away: the request was abandoned
            raise
        return web.json_response(user_json())

    async def fast(request: web.Request) -> web.StreamResponse:
        return web.json_response(user_json())

    routes = {("GET", "/v1/users/slow"): slow, ("GET", "/v1/users/user_1"): fast}
    with ServerThread(routes) as server:
        yield server, entered, cancelled


def test_ctrl_c_cancels_the_request_in_flight(
    slow_server: tuple[Hostile, threading.Event, threading.Event],
) -> None:
    server, entered, cancelled = slow_server
    with Clerk(secret_key=KEY, base_url=server.base_url, rate_limit=None, retry=None) as clerk:
        watcher = interrupt_when(entered.is_set)
        with pytest.raises(KeyboardInterrupt):
            clerk.users.get("slow")
        watcher.join(WAIT)
        assert cancelled.wait(WAIT), "the request kept running after Ctrl-C"
        assert not clerk._runner._loop.pending  # type: ignore[union-attr]
        # The client is still usable afterwards.
        assert clerk.users.get("user_1").id == "user_1"


def test_ctrl_c_before_sending_means_the_create_never_happens() -> None:
    async def create(request: web.Request) -> web.StreamResponse:
        return web.json_response(user_json("user_new"))

    async def get(request: web.Request) -> web.StreamResponse:
        return web.json_response(user_json())

    routes = {("POST", "/v1/users"): create, ("GET", "/v1/users/user_1"): get}
    with ServerThread(routes) as server:
        limits = RateLimits(instance=None, operations={"CreateUser": "1/60s"})
        with Clerk(secret_key=KEY, base_url=server.base_url, rate_limit=limits) as clerk:
            clerk.users.create(external_id="first")
            loop = clerk._runner._loop
            assert loop is not None
            # The second create waits (a minute) for its quota slot; interrupt it there.
            watcher = interrupt_when(lambda: bool(loop.pending))
            with pytest.raises(KeyboardInterrupt):
                clerk.users.create(external_id="second", password="never-sent-1")
            watcher.join(WAIT)
            # Other operations still run, and the interrupted create never went out.
            assert clerk.users.get("user_1").id == "user_1"
            assert server.count("POST", "/v1/users") == 1
            assert b"never-sent-1" not in b"".join(s.body for s in server.seen)
            assert not loop.pending
            # The waiter left the quota queue: nothing is left to send it later.
            assert clerk.limiter._queued["CreateUser"] == 0  # type: ignore[union-attr]
