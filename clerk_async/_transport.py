"""The one place that talks HTTP: a retry and pacing loop over a single-attempt sender.

:class:`Transport` is the loop: pacing, deadlines, retries, stats and logging,
with no aiohttp in it, so it is unit-tested with a fake :class:`Sender`.
:class:`HttpSender` makes exactly one attempt with aiohttp: it never follows
redirects, caps the body while it streams in, and turns transport failures
into :class:`ClerkConnectionError` whose cause is a sanitised copy (the
original's frames hold the request headers, key included).

Everything above this module deals in paths, query pairs and body bytes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import aiohttp
from yarl import URL

from ._auth import Secret
from ._errors import (
    ClerkAPIError,
    ClerkConnectionError,
    ClerkError,
    ClerkTimeoutError,
    ErrorDetail,
    RateLimitError,
    error_for_response,
)
from ._json import too_large
from ._ratelimit import Limiter, Quota, QuotaWaitTooLong
from ._retry import Attempt, RetryPolicy
from ._stats import ClientStats
from ._version import __version__

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "CallOptions",
    "Clock",
    "HttpSender",
    "Request",
    "Response",
    "Sender",
    "Sleep",
    "Transport",
    "TransportCause",
    "check_base_url",
    "check_headers",
]

logger = logging.getLogger("clerk_async")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
QueryPairs = Sequence[tuple[str, str]]
#: Builds a fresh multipart body per attempt: aiohttp's FormData is single-use.
FormFactory = Callable[[], aiohttp.FormData]

#: 429s do not use up ``max_attempts``, but this many times it at most, so a
#: server that keeps refusing cannot hold a caller until the deadline.
RATE_LIMITED_ATTEMPTS_FACTOR = 5
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 64 * 1024

USER_AGENT = f"clerk-users-python/{__version__} aiohttp/{aiohttp.__version__}"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
#: Headers the SDK owns: a caller overriding them would break auth or decoding.
_RESERVED_HEADERS = frozenset({"authorization", "content-type", "content-length", "host"})


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: The API version segment every Backend API path starts with.
API_PREFIX = "/v1"


def check_base_url(base_url: str) -> URL:
    """Parse ``base_url``; plain http is allowed only to this machine.

    Clerk's own SDKs take the API root (``https://api.clerk.com``) and add the
    version themselves, while this SDK once took it with ``/v1``. Both are
    accepted: a path that does not already end in ``/v1`` gets it appended, so
    a root URL never sends every call to a 404 that reads like "no such user".
    """
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    url = URL(base_url.strip().rstrip("/"))
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ValueError(
            "base_url uses plain http:// to a non-loopback host; the secret key would "
            f"travel unencrypted. Use https:// (got host {url.host!r})"
        )
    if url.query_string or url.fragment:
        raise ValueError("base_url must not carry a query string or fragment")
    if not url.raw_path.endswith(API_PREFIX):
        url = URL(str(url).rstrip("/") + API_PREFIX, encoded=True)
    return url


#: RFC 9110 ``tchar``: a header name is one or more of these and nothing else,
#: so ``"Authorization "`` or ``"X: y"`` cannot pass as some other header.
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def _bad_value_char(value: str) -> str | None:
    """The first character RFC 9110 does not allow in a field value (HTAB is fine)."""
    for char in value:
        if (char < " " and char != "\t") or char == "\x7f":
            return char
    return None


def check_headers(name: str, headers: Mapping[str, str] | None) -> dict[str, str]:
    """Validate caller-supplied headers (``default_headers``, ``extra_headers``)."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"{name} must be a mapping of str to str, got {type(headers).__name__}")
    checked: dict[str, str] = {}
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"{name} keys and values must be str, got {key!r}: {value!r}")
        if not key or not _TOKEN_CHARS.issuperset(key):
            raise ValueError(
                f"{name} has an invalid header name {key!r}: letters, digits and "
                "!#$%&'*+-.^_`|~ only, no spaces or colons"
            )
        if key.lower() in _RESERVED_HEADERS:
            raise ValueError(f"{name} must not set {key!r}: the client sets it itself")
        bad = _bad_value_char(value)
        if bad is not None:
            raise ValueError(
                f"{name}[{key!r}] must not contain line breaks or control characters "
                f"(found {bad!r})"
            )
        checked[key] = value
    return checked


# -- one attempt -------------------------------------------------------------------------


class Request:
    """Everything one attempt needs; ``headers`` never holds the secret key.

    A plain slotted class, not attrs: built once per attempt, and an attrs class
    costs a compile at import, which every cold start pays.
    """

    __slots__ = ("body", "form", "headers", "log_path", "max_bytes", "method", "timeout", "url")

    def __init__(
        self,
        *,
        method: str,
        url: URL,
        log_path: str,
        body: bytes | None = None,
        form: FormFactory | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.method = method
        self.url = url
        self.log_path = log_path
        self.body = body
        self.form = form
        self.headers: Mapping[str, str] = {} if headers is None else headers
        self.timeout = timeout
        self.max_bytes = max_bytes


class Response:
    """One attempt's answer: status, headers and the whole (capped) body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, *, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class Sender(Protocol):
    """Makes one attempt. Transport failures raise :class:`ClerkConnectionError`."""

    @property
    def closed(self) -> bool: ...

    def ready(self) -> None:
        """Raise :class:`ClerkError` when no request can be made (closed, no key)."""

    async def send(self, request: Request) -> Response: ...

    async def aclose(self) -> None: ...


class TransportCause(Exception):
    """What aiohttp reported, as text only: the type and message, never its frames.

    Chained as ``__cause__`` of connection errors in place of aiohttp's own
    exception, whose traceback frames hold the request headers (the key).
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name


def _connection_error(
    cls: type[ClerkConnectionError], what: str, exc: BaseException, request: Request,
    *, sent: bool, permanent: bool = False,
) -> tuple[ClerkConnectionError, TransportCause]:
    reason = type(exc).__name__
    try:
        detail = str(exc)
    except Exception:  # some aiohttp errors cannot render when half-built
        detail = ""
    message = f"{what} [{request.method} {request.log_path}]: {reason}"
    if detail:
        message += f": {detail}"
    error = cls(message, method=request.method, path=request.log_path, request_sent=sent)
    # Read by the retry loop: retrying cannot help (e.g. a bad certificate).
    error._permanent = permanent  # type: ignore[attr-defined]
    return error, TransportCause(f"{type(exc).__module__}.{type(exc).__qualname__}", detail)


UNCLOSED = (
    "An AsyncClerk was not closed before it was garbage-collected: its connections "
    "were left open. Close it with `await clerk.aclose()` or use "
    "`async with AsyncClerk(...) as clerk:` (clerk_sync.Clerk: `clerk.close()` or `with`)"
)


class HttpSender:
    """The aiohttp session (created lazily in the running loop) and one attempt with it."""

    def __init__(
        self,
        *,
        secret: Secret | None,
        api_version: str,
        default_headers: Mapping[str, str] | None = None,
        connection_limit: int = 100,
    ) -> None:
        self._secret = secret
        self.api_version = api_version
        self._default_headers = dict(default_headers or {})
        self._connection_limit = connection_limit
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def key_kind(self) -> str | None:
        return self._secret.kind if self._secret else None

    @property
    def closed(self) -> bool:
        return self._closed

    def ready(self) -> None:
        if self._closed:
            raise ClerkError("This Clerk client is closed; create a new one to make requests")
        if self._secret is None:
            raise ClerkError(
                "No Clerk secret key: pass secret_key=... or set the CLERK_SECRET_KEY "
                "environment variable"
            )

    def _session_for_call(self) -> aiohttp.ClientSession:
        self.ready()
        assert self._secret is not None
        loop = asyncio.get_running_loop()
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connection_limit),
                # The key lives only in the session's defaults, never in a local
                # of a frame a traceback could render.
                headers={
                    "User-Agent": USER_AGENT,
                    "Accept": "application/json",
                    **self._default_headers,
                    "Authorization": "Bearer " + self._secret.reveal(),
                    "Clerk-API-Version": self.api_version,
                },
                raise_for_status=False,
                auto_decompress=True,
            )
            _no_hidden_retry(self._session)
            self._loop = loop
        elif self._loop is not loop:
            raise ClerkError(
                "This AsyncClerk was first used in another event loop; aiohttp sessions "
                "cannot cross loops. Create one client per loop (or use clerk_sync.Clerk)"
            )
        return self._session

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        # aiohttp's own "Unclosed client session" follows, naming nothing of
        # ours; say first which object was left open and how to close it.
        session = self._session
        if session is None or session.closed:
            return
        _warn(UNCLOSED, ResourceWarning, source=self, stacklevel=1)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # Where aiohttp reports too: printed even when ResourceWarning is ignored.
            loop.call_exception_handler({"message": UNCLOSED})

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def send(self, request: Request) -> Response:
        session = self._session_for_call()
        data: Any = request.form() if request.form is not None else request.body
        try:
            async with session.request(
                request.method,
                request.url,
                data=data,
                headers=dict(request.headers) or None,
                timeout=aiohttp.ClientTimeout(total=request.timeout),
                # Clerk never redirects API calls: following one would re-send
                # the body (passwords included) wherever the server says.
                allow_redirects=False,
            ) as response:
                status = response.status
                # Errors keep a plain copy; a success's headers are only read here.
                headers = response.headers if status < 300 else dict(response.headers)
                body = await _read_capped(response, request, status)
                return Response(status=status, headers=headers, body=body)
        except aiohttp.ConnectionTimeoutError as exc:
            failure = _connection_error(
                ClerkTimeoutError, "timed out connecting to Clerk", exc, request, sent=False
            )
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            failure = _connection_error(
                ClerkTimeoutError, "timed out waiting for Clerk", exc, request, sent=True
            )
        except aiohttp.ClientSSLError as exc:
            # Not retried: a certificate problem will not fix itself.
            failure = _connection_error(
                ClerkConnectionError, "TLS failure talking to Clerk", exc, request, sent=False,
                permanent=True,
            )
        except aiohttp.ClientConnectorError as exc:
            failure = _connection_error(
                ClerkConnectionError, "could not connect to Clerk", exc, request, sent=False
            )
        except (aiohttp.ClientError, OSError) as exc:
            failure = _connection_error(
                ClerkConnectionError, "connection to Clerk failed", exc, request, sent=True
            )
        # Raised here, outside the handlers, so that aiohttp's exception is
        # not even the implicit ``__context__``: only the sanitised cause is.
        raise failure[0] from failure[1]


def _no_hidden_retry(session: aiohttp.ClientSession) -> None:
    """Stop aiohttp from re-sending an idempotent request on a dropped connection.

    aiohttp repeats a GET once, at once and unseen, when the connection closes
    before the answer. Clerk counts both requests against the quota, whatever
    became of the first, while the limiter and the stats saw one: under
    dropped connections the client then overspends its window and meets the
    429s pacing exists to prevent. Our own retry loop takes over instead; it
    asks the limiter for every attempt. aiohttp's test client turns the retry
    off through the same attribute; versions without it have no such retry.
    """
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False


async def _read_capped(response: aiohttp.ClientResponse, request: Request, status: int) -> bytes:
    """The body, refusing it as soon as it is known to exceed ``request.max_bytes``."""
    limit = request.max_bytes
    declared = response.content_length
    if declared is not None and declared > limit:
        raise too_large(limit, status=status, method=request.method, path=request.log_path)
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await response.content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            # Leaving the ``async with`` drops the connection mid-body.
            raise too_large(
                limit, status=status, method=request.method, path=request.log_path,
                head=chunks[0] if chunks else chunk,
            )
        chunks.append(chunk)


# -- the loop ----------------------------------------------------------------------------


def _redirect_error(response: Response, method: str, path: str) -> ClerkAPIError:
    location = response.headers.get("Location") or response.headers.get("location") or "-"
    detail = ErrorDetail(
        code="unexpected_redirect",
        message=f"Clerk API calls are never redirected; not following Location: {location}",
    )
    return ClerkAPIError(
        status=response.status, errors=[detail], clerk_trace_id=None,
        headers=response.headers, body=response.body.decode("utf-8", errors="replace"),
        method=method, path=path,
    )


def _quota_error(wait: float, budget: float, method: str, path: str) -> RateLimitError:
    detail = ErrorDetail(
        code="quota_wait_exceeds_deadline",
        message=(
            f"the next request slot of the quota is {wait:.3f}s away, beyond the call's "
            f"{budget:g}s deadline; nothing was sent"
        ),
    )
    return RateLimitError(
        status=429, errors=[detail], clerk_trace_id=None, headers={}, body="",
        retry_after=wait, method=method, path=path,
    )


class CallOptions:
    """The per-call settings a :meth:`Transport.with_options` view overrides."""

    __slots__ = ("extra_headers", "max_response_bytes", "retry", "timeout")

    def __init__(
        self,
        *,
        timeout: float,
        retry: RetryPolicy | None,
        extra_headers: Mapping[str, str] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.timeout = timeout
        self.retry = retry
        self.extra_headers: Mapping[str, str] = {} if extra_headers is None else extra_headers
        self.max_response_bytes = max_response_bytes

    def replace(self, **changes: Any) -> CallOptions:
        """A copy with ``changes`` applied (an unknown name is a TypeError)."""
        values = {name: getattr(self, name) for name in self.__slots__}
        return CallOptions(**{**values, **changes})

    @property
    def budget(self) -> float:
        """Seconds one call may take in all, quota wait included."""
        return self.retry.deadline if self.retry is not None else self.timeout


class Transport:
    """The retry and pacing loop, shared by every resource of a client.

    A view made by :meth:`with_options` shares the sender (session), limiter
    and stats of its parent and differs only in its :class:`CallOptions`.
    """

    def __init__(
        self,
        *,
        base_url: URL,
        sender: Sender,
        options: CallOptions,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        log_bodies: bool = False,
        limiter: Limiter | None = None,
        instance_quota: Quota | None = None,
        stats: ClientStats | None = None,
    ) -> None:
        self._base = str(base_url)
        self._base_path = base_url.raw_path.rstrip("/")
        self.sender = sender
        self.options = options
        self._sleep: Sleep = sleep or asyncio.sleep
        self._clock: Clock = clock or time.monotonic
        self._log_bodies = log_bodies
        self._rng = random.Random()
        self.limiter = limiter
        #: The instance quota the limiter paces to (None: no pacing).
        self.instance_quota = instance_quota
        self.stats = stats if stats is not None else ClientStats()

    def with_options(self, **changes: Any) -> Transport:
        """A view with some :class:`CallOptions` changed; everything else is shared."""
        view = object.__new__(Transport)
        view.__dict__.update(self.__dict__)
        view.options = self.options.replace(**changes)
        return view

    @property
    def timeout(self) -> float:
        return self.options.timeout

    @property
    def retry(self) -> RetryPolicy | None:
        return self.options.retry

    @property
    def closed(self) -> bool:
        return self.sender.closed

    @property
    def _session(self) -> aiohttp.ClientSession | None:
        # For tests that check the pool is reused: the sender owns it.
        return getattr(self.sender, "_session", None)

    async def aclose(self) -> None:
        await self.sender.aclose()

    async def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: QueryPairs | None = None,
        body: bytes | None = None,
        form: FormFactory | None = None,
        idempotent: bool = False,
    ) -> bytes:
        """Send one logical request, retrying per policy; return the 2xx body.

        ``operation`` is Clerk's operationId: quotas, 429 blocks and stats are
        kept per operation. ``path`` is already percent-encoded and relative
        to the base URL. ``idempotent`` marks a POST that Clerk deduplicates
        (an idempotency key), so it may be repeated like a GET. The whole
        call, quota waits included, ends within the options' budget (the retry
        deadline, or the timeout when retries are off).
        """
        self.sender.ready()
        options = self.options
        policy = options.retry
        url = URL(self._base + path, encoded=True)
        if params:
            url = url.extend_query(params)
        headers = dict(options.extra_headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        log_path = self._base_path + path
        started = self._clock()
        deadline = started + options.budget
        stats = self.stats[operation]
        limiter = self.limiter
        attempt_no = rate_limited = 0
        while True:
            if limiter is not None:
                self.stats.begin_wait(self._clock())
                try:
                    # Awaited before adding: ``x += await ...`` would read x before
                    # the wait and lose the waits of requests finishing meanwhile.
                    waited = await limiter.acquire(
                        operation, max_wait=max(0.0, deadline - self._clock())
                    )
                    stats.quota_wait += waited
                except QuotaWaitTooLong as exc:
                    raise _quota_error(exc.wait, options.budget, method, log_path) from None
                finally:
                    self.stats.end_wait(self._clock())
            remaining = deadline - self._clock()
            stats.requests += 1
            stats.retries += attempt_no > 0
            attempt_no += 1
            attempt_started = time.perf_counter()
            request = Request(
                method=method, url=url, log_path=log_path, body=body, form=form,
                headers=headers, max_bytes=options.max_response_bytes,
                # Never past the call's deadline, however long one attempt may be.
                timeout=max(0.001, min(options.timeout, remaining)),
            )
            try:
                response = await self.sender.send(request)
            except ClerkConnectionError as exc:
                self._log(method, log_path, None, attempt_started, attempt_no, None, body)
                if getattr(exc, "_permanent", False):
                    raise
                error: ClerkError = exc
                attempt = Attempt(request_sent=exc.request_sent)
            else:
                status = response.status
                if status < 300:
                    self._log(method, log_path, status, attempt_started, attempt_no, None, body)
                    return response.body
                if status < 400:
                    api_error = _redirect_error(response, method, log_path)
                else:
                    api_error = error_for_response(
                        status, response.headers, response.body, method=method, path=log_path
                    )
                self._log(
                    method, log_path, status, attempt_started, attempt_no,
                    api_error.clerk_trace_id, body,
                )
                error = api_error
                attempt = Attempt(status=status, retry_after=api_error.retry_after)
            if attempt.status == 429:
                # Not the caller's fault and surely not acted on: a 429 does not
                # use up an attempt, only time (bounded by the deadline).
                stats.rate_limited += 1
                rate_limited += 1
            if (
                policy is None
                or attempt_no - rate_limited >= policy.max_attempts
                or rate_limited >= policy.max_attempts * RATE_LIMITED_ATTEMPTS_FACTOR
                or not attempt.retryable(policy, policy.may_repeat(method, idempotent))
            ):
                raise error
            delay = attempt.delay(policy, attempt_no - rate_limited or 1, self._rng)
            if self._clock() + delay > deadline:
                raise error
            if attempt.status == 429 and limiter is not None:
                # Every task of this client now waits out the block in acquire().
                await limiter.block(operation, delay)
            else:
                await self._sleep(delay)

    def _log(
        self,
        method: str,
        path: str,
        status: int | None,
        attempt_started: float,
        attempt_no: int,
        trace_id: str | None,
        body: bytes | None,
    ) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        elapsed_ms = (time.perf_counter() - attempt_started) * 1000
        extra = ""
        if self._log_bodies and body is not None:
            extra = " body=" + body.decode("utf-8", errors="replace")
        logger.debug(
            "%s %s -> %s in %.1f ms (attempt %d, trace_id=%s)%s",
            method, path, status if status is not None else "no response",
            elapsed_ms, attempt_no, trace_id or "-", extra,
        )
