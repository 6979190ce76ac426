"""No error the SDK raises may show the key when tracebacks render their locals.

``pytest -l``, Sentry and ``traceback`` with ``capture_locals=True`` print
``repr()`` of every local of every frame, along the whole cause/context
chain. Each error class is produced here by a real call over loopback and
rendered both ways; the key must appear nowhere.
"""

from __future__ import annotations

import asyncio
import socket
import traceback
from collections.abc import Awaitable, Callable

from _pytest._code import ExceptionInfo
from aiohttp import web
from hostile import Hostile

import clerk_async
from clerk_async import AsyncClerk, ClerkError, RetryPolicy
from clerk_async.webhooks import verify_webhook

from factories import error_json

KEY = "sk_live_LOCALSsecretKEY0123456789abcdefXYZ"
STATUSES = [400, 401, 402, 403, 404, 409, 418, 422, 429, 500, 503]


def render(error: BaseException) -> str:
    plain = "".join(traceback.TracebackException.from_exception(error, capture_locals=True)
                    .format())
    info = ExceptionInfo.from_exception(error)
    pytest_style = str(info.getrepr(showlocals=True, style="long", chain=True))
    return plain + pytest_style


async def produce(make: Callable[[], Awaitable[object]]) -> ClerkError:
    try:
        await make()
    except ClerkError as exc:
        return exc
    raise AssertionError("no error raised")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def drip(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    await asyncio.sleep(5)
    return response


async def answer(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name == "redirect":
        return web.Response(status=307, headers={"Location": "/elsewhere"})
    if name == "garbage":
        return web.Response(body=b"{not json", content_type="application/json")
    status = int(name.removeprefix("status"))
    return web.json_response(error_json("boom"), status=status, headers={"Retry-After": "0"})


async def test_no_error_class_renders_the_key() -> None:
    once = RetryPolicy(max_attempts=1)
    routes = {("GET", "/v1/users/slow"): drip, ("GET", "/v1/users/{name}"): answer}
    errors: list[ClerkError] = []
    async with Hostile(routes) as server:
        async with AsyncClerk(
            secret_key=KEY, base_url=server.base_url, rate_limit=None, retry=once, timeout=0.2
        ) as clerk:
            for status in STATUSES:
                errors.append(await produce(lambda s=status: clerk.users.get(f"status{s}")))
            errors.append(await produce(lambda: clerk.users.get("redirect")))
            errors.append(await produce(lambda: clerk.users.get("garbage")))
            errors.append(await produce(lambda: clerk.users.get("slow")))
            # The JWKS fetch fails (404 here) and surfaces as a TokenVerificationError.
            errors.append(await produce(lambda: clerk.verify_token(
                "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.c2ln")))
        paced = AsyncClerk(secret_key=KEY, base_url=server.base_url, rate_limit="1/60s",
                           retry=None, timeout=1.0)
        async with paced:
            await produce(lambda: paced.users.get("status404"))
            errors.append(await produce(lambda: paced.users.get("status404")))
        errors.append(await produce(lambda: paced.users.get("status404")))  # closed
    refused = AsyncClerk(secret_key=KEY, base_url=f"http://127.0.0.1:{closed_port()}/v1",
                         rate_limit=None, retry=None)
    async with refused:
        errors.append(await produce(lambda: refused.users.get("user_1")))

    async def unsigned_webhook() -> None:
        verify_webhook(b"{}", {"svix-id": "msg_1"}, secret="whsec_c2VjcmV0")

    errors.append(await produce(unsigned_webhook))

    seen = {type(e) for e in errors}
    every = {
        cls for cls in vars(clerk_async).values()
        if isinstance(cls, type) and issubclass(cls, ClerkError)
    } | {getattr(clerk_async, name) for name in clerk_async.__all__
         if name.endswith("Error") and name != "ClerkError"}
    # Every concrete class of the tree was produced, plus the base ClerkError.
    assert every - seen <= {ClerkError}, every - seen
    for error in errors:
        text = render(error)
        assert KEY not in text, f"{type(error).__name__} leaks the key"
        assert KEY[8:20] not in text
        assert "Bearer" not in text
