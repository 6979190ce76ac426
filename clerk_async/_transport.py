"""The one place that talks HTTP: session lifecycle, attempts, retries, logging.

Everything above this module deals in paths, query pairs and body bytes;
everything below is aiohttp. Retry decisions come from :mod:`._retry`; error
objects from :mod:`._errors`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import attrs
from yarl import URL

from ._errors import (
    ClerkAPIError,
    ClerkConnectionError,
    ClerkError,
    ClerkTimeoutError,
    error_for_response,
)
from ._ratelimit import Limiter, Quota
from ._retry import Attempt, RetryPolicy
from ._stats import ClientStats
from ._version import __version__

__all__ = ["Clock", "Sleep", "Transport", "check_base_url", "key_kind"]

logger = logging.getLogger("clerk_async")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
QueryPairs = Sequence[tuple[str, str]]
#: Builds a fresh multipart body per attempt: aiohttp's FormData is single-use.
FormFactory = Callable[[], aiohttp.FormData]

#: 429s do not use up ``max_attempts``, but this many times it at most, so a
#: server that keeps refusing cannot hold a caller until the deadline.
RATE_LIMITED_ATTEMPTS_FACTOR = 5

USER_AGENT = f"clerk-users-python/{__version__} aiohttp/{aiohttp.__version__}"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class _Secret:
    """Holds the key so that no repr, log line or rendered local can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'" + self.kind + "…'"

    @property
    def kind(self) -> str:
        return key_kind(self._value) or "sk_"


def key_kind(secret_key: str | None) -> str | None:
    """``"sk_live_"`` / ``"sk_test_"`` for a key of that kind; never more of the key."""
    for prefix in ("sk_live_", "sk_test_"):
        if secret_key and secret_key.startswith(prefix):
            return prefix
    return None


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str) -> URL:
    """Parse ``base_url``; plain http is allowed only to this machine."""
    url = URL(base_url.rstrip("/"))
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ValueError(
            "base_url uses plain http:// to a non-loopback host; the secret key would "
            f"travel unencrypted. Use https:// (got host {url.host!r})"
        )
    if url.query_string or url.fragment:
        raise ValueError("base_url must not carry a query string or fragment")
    return url


@attrs.define(kw_only=True)
class _Outcome:
    error: ClerkError
    attempt: Attempt


class Transport:
    """An aiohttp session plus the retry loop, shared by every resource of a client."""

    def __init__(
        self,
        *,
        base_url: URL,
        secret_key: str | None,
        api_version: str,
        timeout: float,
        retry: RetryPolicy | None,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        log_bodies: bool = False,
        connection_limit: int = 100,
        limiter: Limiter | None = None,
        instance_quota: Quota | None = None,
    ) -> None:
        self._base = str(base_url)
        self._base_path = base_url.raw_path.rstrip("/")
        self._secret = _Secret(secret_key) if secret_key else None
        self.api_version = api_version
        self.timeout = timeout
        self.retry = retry
        self._sleep: Sleep = sleep or asyncio.sleep
        self._clock: Clock = clock or time.monotonic
        self._log_bodies = log_bodies
        self._connection_limit = connection_limit
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._rng = random.Random()
        self.limiter = limiter
        #: The instance quota the limiter paces to (None: no pacing).
        self.instance_quota = instance_quota
        self.stats = ClientStats()

    @property
    def key_kind(self) -> str | None:
        """``"sk_test_"`` / ``"sk_live_"`` (never the key itself), or None if unset."""
        return self._secret.kind if self._secret else None

    @property
    def closed(self) -> bool:
        return self._closed

    def _session_for_call(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClerkError("This Clerk client is closed; create a new one to make requests")
        if self._secret is None:
            raise ClerkError(
                "No Clerk secret key: pass secret_key=... or set the CLERK_SECRET_KEY "
                "environment variable"
            )
        loop = asyncio.get_running_loop()
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connection_limit),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={
                    "Authorization": "Bearer " + self._secret.reveal(),
                    "Clerk-API-Version": self.api_version,
                    "User-Agent": USER_AGENT,
                    "Accept": "application/json",
                },
                raise_for_status=False,
                auto_decompress=True,
            )
            self._loop = loop
        elif self._loop is not loop:
            raise ClerkError(
                "This AsyncClerk was first used in another event loop; aiohttp sessions "
                "cannot cross loops. Create one client per loop (or use clerk_sync.Clerk)"
            )
        return self._session

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

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
        (an idempotency key), so it may be repeated like a GET.
        """
        session = self._session_for_call()
        policy = self.retry
        url = URL(self._base + path, encoded=True)
        if params:
            url = url.extend_query(params)
        headers = {"Content-Type": "application/json"} if body is not None else None
        log_path = self._base_path + path
        started = self._clock()
        stats = self.stats[operation]
        limiter = self.limiter
        attempt_no = rate_limited = 0
        while True:
            if limiter is not None:
                stats.quota_wait += await limiter.acquire(operation)
            stats.requests += 1
            stats.retries += attempt_no > 0
            attempt_no += 1
            attempt_started = time.perf_counter()
            outcome = await self._attempt(session, method, url, log_path, body, form, headers)
            if isinstance(outcome, tuple):
                self._log(method, log_path, outcome[0], attempt_started, attempt_no, None, body)
                return outcome[1]
            error = outcome.error
            self._log(
                method, log_path,
                error.status if isinstance(error, ClerkAPIError) else None,
                attempt_started, attempt_no,
                error.clerk_trace_id if isinstance(error, ClerkAPIError) else None,
                body,
            )
            if outcome.attempt.status == 429:
                # Not the caller's fault and surely not acted on: a 429 does not
                # use up an attempt, only time (bounded by the deadline).
                stats.rate_limited += 1
                rate_limited += 1
            if (
                policy is None
                or attempt_no - rate_limited >= policy.max_attempts
                or rate_limited >= policy.max_attempts * RATE_LIMITED_ATTEMPTS_FACTOR
                or not outcome.attempt.retryable(policy, policy.may_repeat(method, idempotent))
            ):
                raise error
            delay = outcome.attempt.delay(policy, attempt_no - rate_limited or 1, self._rng)
            if self._clock() - started + delay > policy.deadline:
                raise error
            if outcome.attempt.status == 429 and limiter is not None:
                # Every task of this client now waits out the block in acquire().
                await limiter.block(operation, delay)
            else:
                await self._sleep(delay)

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        log_path: str,
        body: bytes | None,
        form: FormFactory | None,
        headers: dict[str, str] | None,
    ) -> tuple[int, bytes] | _Outcome:
        data: Any = form() if form is not None else body
        try:
            async with session.request(method, url, data=data, headers=headers) as response:
                payload = await response.read()
                status = response.status
                if status < 300:
                    return status, payload
                # Copy: aiohttp's header view dies with the response.
                error = error_for_response(
                    status, dict(response.headers), payload, method=method, path=log_path
                )
                return _Outcome(
                    error=error, attempt=Attempt(status=status, retry_after=error.retry_after)
                )
        except aiohttp.ConnectionTimeoutError as exc:
            return self._transport_failure(
                ClerkTimeoutError, "timed out connecting to Clerk", exc, method, log_path,
                sent=False,
            )
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            return self._transport_failure(
                ClerkTimeoutError, "timed out waiting for Clerk", exc, method, log_path, sent=True
            )
        except aiohttp.ClientSSLError:
            raise  # a certificate problem will not fix itself on retry
        except aiohttp.ClientConnectorError as exc:
            return self._transport_failure(
                ClerkConnectionError, "could not connect to Clerk", exc, method, log_path,
                sent=False,
            )
        except (aiohttp.ClientError, OSError) as exc:
            return self._transport_failure(
                ClerkConnectionError, "connection to Clerk failed", exc, method, log_path,
                sent=True,
            )

    @staticmethod
    def _transport_failure(
        cls: type[ClerkConnectionError],
        what: str,
        exc: BaseException,
        method: str,
        path: str,
        *,
        sent: bool,
    ) -> _Outcome:
        reason = type(exc).__name__
        try:
            detail = str(exc)
        except Exception:  # some aiohttp errors cannot render when half-built
            detail = ""
        message = f"{what} [{method} {path}]: {reason}" + (f": {detail}" if detail else "")
        error = cls(message, method=method, path=path, request_sent=sent)
        error.__cause__ = exc
        return _Outcome(error=error, attempt=Attempt(request_sent=sent))

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
