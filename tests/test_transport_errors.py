"""What a failed attempt turns into (``clerk_async._transport._connection_error``):
a one-line message naming the request and what went wrong, and a text-only cause.

The end-to-end tests prove which class a real failure raises; these pin the
message and the cause down (see docs/mutation.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from hostile import Hostile
from yarl import URL

from clerk_async import ClerkConnectionError, ClerkDecodeError, ClerkTimeoutError
from clerk_async._auth import Secret
from clerk_async._json import excerpt
from clerk_async._transport import (
    HttpSender,
    Request,
    TransportCause,
    _connection_error,
    _read_capped,
)

REQUEST = Request(method="GET", url=URL("http://127.0.0.1:1/v1/users/u1"),
                  log_path="/v1/users/u1")


class Unprintable(OSError):
    def __str__(self) -> str:
        raise RuntimeError("half-built")


def test_message_names_the_request_and_the_failure() -> None:
    error, cause = _connection_error(ClerkConnectionError, "could not connect to Clerk",
                                     ConnectionRefusedError("refused"), REQUEST, sent=False)
    assert type(error) is ClerkConnectionError
    assert str(error) == ("could not connect to Clerk [GET /v1/users/u1]: "
                          "ConnectionRefusedError: refused")
    assert (error.method, error.path, error.request_sent) == ("GET", "/v1/users/u1", False)
    assert not error._permanent  # type: ignore[attr-defined]
    assert isinstance(cause, TransportCause)
    assert str(cause) == "builtins.ConnectionRefusedError: refused"
    assert cause.type_name == "builtins.ConnectionRefusedError"


def test_failures_without_text_and_permanent_ones() -> None:
    error, cause = _connection_error(ClerkTimeoutError, "timed out waiting for Clerk",
                                     TimeoutError(), REQUEST, sent=True, permanent=True)
    assert type(error) is ClerkTimeoutError and error.request_sent is True
    assert str(error) == "timed out waiting for Clerk [GET /v1/users/u1]: TimeoutError"
    assert error._permanent is True  # type: ignore[attr-defined]
    assert str(cause) == "builtins.TimeoutError"
    odd, odd_cause = _connection_error(ClerkConnectionError, "connection to Clerk failed",
                                       Unprintable(), REQUEST, sent=True)
    assert str(odd) == "connection to Clerk failed [GET /v1/users/u1]: Unprintable"
    assert str(odd_cause).endswith("Unprintable") and ": " not in str(odd_cause)


def test_the_cause_names_the_exceptions_own_module() -> None:
    _, cause = _connection_error(ClerkConnectionError, "x", Unprintable(), REQUEST, sent=True)
    assert cause.type_name == f"{Unprintable.__module__}.Unprintable" != "builtins.Unprintable"


class Streamed:
    """Just enough of an aiohttp response for _read_capped: a declared length and chunks."""

    def __init__(self, chunks: list[bytes], declared: int | None = None) -> None:
        self.content_length = declared
        self.content = self
        self._chunks = list(chunks)

    async def readany(self) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""


def capped(limit: int) -> Request:
    return Request(method="GET", url=REQUEST.url, log_path=REQUEST.log_path, max_bytes=limit)


async def read(chunks: list[bytes], limit: int, declared: int | None = None) -> bytes:
    return await _read_capped(Streamed(chunks, declared), capped(limit), 200)  # type: ignore[arg-type]


async def test_a_body_of_exactly_the_limit_is_read_whole() -> None:
    assert await read([b"12345", b"67890"], 10, declared=10) == b"1234567890"
    assert await read([b"12345", b"67890"], 10) == b"1234567890"
    assert await read([], 10, declared=0) == b""


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(ClerkDecodeError) as info:
        await read([b"never read"], 10, declared=11)
    assert str(info.value) == "response body exceeds max_response_bytes=10 [200 GET /v1/users/u1]"
    assert (info.value.status, info.value.method, info.value.path) == (200, "GET", "/v1/users/u1")


async def test_a_stream_over_the_limit_is_refused_with_its_first_chunk_as_excerpt() -> None:
    with pytest.raises(ClerkDecodeError) as info:
        await read([b'{"first":', b'"second"', b"0123456789"], 20)
    error = info.value
    assert (error.status, error.method, error.path) == (200, "GET", "/v1/users/u1")
    assert error.excerpt == excerpt(b'{"first":')
    with pytest.raises(ClerkDecodeError) as info:
        await read([b"y" * 30], 20)
    assert info.value.excerpt == excerpt(b"y" * 30)


# -- HttpSender.send: what one attempt sends, and what each aiohttp failure becomes --


def _sender() -> HttpSender:
    return HttpSender(secret=Secret("sk_test_send_0000000000"), api_version="2025-11-10")


async def test_one_attempt_sends_its_headers_its_form_and_never_follows_a_redirect() -> None:
    async def upload(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def moved(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": "/v1/elsewhere"})

    routes = {("POST", "/v1/users/u1/profile_image"): upload, ("GET", "/v1/moved"): moved}
    sender = _sender()
    async with Hostile(routes) as server, contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(sender.aclose)

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("file", b"PNG", filename="me.png", content_type="image/png")
            return data

        answer = await sender.send(Request(
            method="POST", url=URL(server.base_url + "/users/u1/profile_image"),
            log_path="/v1/users/u1/profile_image", form=form, headers={"X-Trace": "t1"},
        ))
        assert (answer.status, answer.body) == (200, b'{"ok": true}')
        seen = server.seen[0]
        assert seen.headers["Content-Type"].startswith("multipart/form-data; boundary=")
        assert b'filename="me.png"' in seen.body and b"\r\n\r\nPNG\r\n" in seen.body
        assert seen.headers["X-Trace"] == "t1"
        assert server.seen[0].headers["Authorization"].startswith("Bearer sk_test_send_")
        redirect = await sender.send(Request(method="GET", url=URL(server.base_url + "/moved"),
                                             log_path="/v1/moved"))
        assert redirect.status == 307 and len(server.seen) == 2  # not followed


class _FailingSession:
    """Stands in for the aiohttp session: every request fails with ``exc`` on entry."""

    closed = False

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def request(self, *args: object, **kwargs: object) -> _FailingSession:
        return self

    async def __aenter__(self) -> None:
        raise self.exc

    async def __aexit__(self, *exc_info: object) -> None:
        return None


_KEY = SimpleNamespace(host="127.0.0.1", port=1, ssl=True)


@pytest.mark.parametrize(("exc", "cls", "what", "sent", "permanent"), [
    (aiohttp.ConnectionTimeoutError("connect"), ClerkTimeoutError,
     "timed out connecting to Clerk", False, False),
    (asyncio.TimeoutError(), ClerkTimeoutError, "timed out waiting for Clerk", True, False),
    (aiohttp.ServerTimeoutError("read"), ClerkTimeoutError, "timed out waiting for Clerk",
     True, False),
    (aiohttp.ClientSSLError(_KEY, OSError(1, "bad cert")), ClerkConnectionError,
     "TLS failure talking to Clerk", False, True),
    (aiohttp.ClientConnectorError(_KEY, OSError(111, "refused")), ClerkConnectionError,
     "could not connect to Clerk", False, False),
    (aiohttp.ServerDisconnectedError(), ClerkConnectionError, "connection to Clerk failed",
     True, False),
    (ConnectionResetError(104, "reset"), ClerkConnectionError, "connection to Clerk failed",
     True, False),
])
async def test_each_aiohttp_failure_becomes_its_clerk_error(
    exc: BaseException, cls: type[ClerkConnectionError], what: str, sent: bool, permanent: bool,
) -> None:
    sender = _sender()
    sender._session = _FailingSession(exc)  # type: ignore[assignment]
    sender._loop = asyncio.get_running_loop()
    with pytest.raises(ClerkConnectionError) as raised:
        await sender.send(REQUEST)
    error = raised.value
    assert type(error) is cls
    assert str(error).startswith(f"{what} [GET /v1/users/u1]: {type(exc).__name__}")
    assert error.request_sent is sent and error._permanent is permanent  # type: ignore[attr-defined]
    assert isinstance(error.__cause__, TransportCause)
    assert error.__context__ is None  # aiohttp's exception is not even the context
    assert error.__cause__.type_name.endswith(type(exc).__qualname__)
