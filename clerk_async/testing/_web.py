"""Request/response plumbing shared by the handlers: JSON in and out, the store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ._errors import FakeError
from ._model import User, render_user
from ._store import Store

try:
    import orjson

    def dumps(data: Any) -> bytes:
        return orjson.dumps(data)

    def loads(raw: bytes) -> Any:
        return orjson.loads(raw)

except ImportError:  # pragma: no cover - orjson is an optional extra
    import json

    def dumps(data: Any) -> bytes:
        return json.dumps(data, separators=(",", ":")).encode()

    def loads(raw: bytes) -> Any:
        return json.loads(raw)


__all__ = ["STORE", "Handler", "Route", "json_response", "read_json", "store_of", "user_response"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: (method, path under /v1, operationId, handler)
Route = tuple[str, str, str, Handler]

STORE = web.AppKey("clerk_fake_store", Store)


def store_of(request: web.Request) -> Store:
    return request.app[STORE]


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json")


def user_response(store: Store, user: User) -> web.Response:
    body = user.cached
    if body is None:
        now = store.now_ms()
        body = dumps(render_user(user, now))
        # A lockout counts down, so a locked user's JSON must be rebuilt each time.
        if user.locked_until_ms is None or user.locked_until_ms <= now:
            user.cached = body
    return web.Response(body=body, content_type="application/json")


async def read_json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = loads(raw)
    except ValueError:
        raise FakeError(
            400,
            "malformed_request",
            "Malformed request body",
            "The request body is not valid JSON.",
        ) from None
    if not isinstance(data, dict):
        raise FakeError(
            400,
            "malformed_request",
            "Malformed request body",
            "The request body must be a JSON object.",
        )
    return data
