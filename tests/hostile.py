"""A small hostile HTTP server on loopback: each test gives it the handlers it needs.

Every request it receives is recorded (method, path, headers, body), so a
test can prove what the client sent, what it did not send, and where.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import attrs
from aiohttp import web

__all__ = ["WAIT", "Hostile", "Seen", "ServerThread"]

WAIT = 10.0  # an upper bound for events that happen at once; never reached when green

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.define
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class Hostile:
    """``async with Hostile({("GET", "/v1/users/{id}"): handler}) as server:``."""

    def __init__(self, routes: dict[tuple[str, str], Handler] | None = None) -> None:
        self.routes = dict(routes or {})
        self.seen: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    async def __aenter__(self) -> Hostile:
        app = web.Application()
        for (method, path), handler in self.routes.items():
            app.router.add_route(method, path, self._recording(handler))
        if ("*", "/{tail:.*}") not in self.routes:
            app.router.add_route("*", "/{tail:.*}", self._recording(_not_found))
        # Handler cancellation: a client that goes away cancels the handler.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def _recording(self, handler: Handler) -> Handler:
        async def record(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            self.seen.append(
                Seen(request.method, request.path, dict(request.query), dict(request.headers),
                     body)
            )
            return await handler(request)

        return record

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1 for s in self.seen
            if (method is None or s.method == method) and (path is None or s.path == path)
        )


async def _not_found(request: web.Request) -> web.StreamResponse:
    return web.json_response(
        {"errors": [{"code": "resource_not_found", "message": "not found"}]}, status=404
    )


def json_handler(payload: Any, status: int = 200, **headers: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(payload, status=status, headers=headers)

    return handler


class ServerThread:
    """A Hostile server running in its own event loop thread."""

    def __init__(self, routes: dict[tuple[str, str], Any]) -> None:
        self.server = Hostile(routes)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.server:
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Hostile:
        self._thread.start()
        assert self._ready.wait(WAIT)
        return self.server

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT)
