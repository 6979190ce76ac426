"""``AsyncClerk``: configuration, lifecycle, and the resources hanging off it."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from ._auth import Secret, secret_from
from ._ratelimit import Limiter, LocalLimiter, Quota, QuotaBackend, RateLimits, parse_quota
from ._request_token import token_from
from ._retry import RetryPolicy
from ._stats import ClientStats
from ._tokens import TokenVerifier, check_jwt_key, parties, skew
from ._transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    CallOptions,
    Clock,
    HttpSender,
    Sleep,
    Transport,
    check_base_url,
    check_headers,
)
from ._types import UNSET, UnsetType
from .resources.users import Users

if TYPE_CHECKING:
    from ._session_claims import SessionClaims

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_BASE_URL", "AsyncClerk"]

DEFAULT_BASE_URL = "https://api.clerk.com/v1"
DEFAULT_API_VERSION = "2025-11-10"

RateLimitSetting = Literal["auto"] | str | Quota | RateLimits | None


def _rate_limits(setting: RateLimitSetting) -> RateLimits | None:
    if setting is None:
        return None
    if isinstance(setting, RateLimits):
        return setting
    if setting == "auto":
        return RateLimits()
    if isinstance(setting, str | Quota):
        return RateLimits(instance=parse_quota(setting))
    raise TypeError(
        "rate_limit must be 'auto', a quota string like '100/10s', a Quota, RateLimits or None"
    )


class AsyncClerk:
    """An async client for Clerk's Backend API.

    Create one per process (e.g. in a FastAPI lifespan) and share it: it holds
    a pooled aiohttp session, created on first use inside the running loop.
    Close it with ``await clerk.aclose()`` or ``async with AsyncClerk() as clerk``.

    ``secret_key`` defaults to ``$CLERK_SECRET_KEY``, ``base_url`` to
    ``$CLERK_API_URL`` or Clerk's production API. ``timeout`` is per attempt,
    in seconds. ``retry=None`` disables retries. ``rate_limit`` paces requests
    under Clerk's quota (``"auto"`` picks it from the key kind; ``None`` turns
    pacing off). ``default_headers`` go with every request;
    ``max_response_bytes`` caps a response body (64 MiB by default), enforced
    while it streams in. :meth:`with_options` makes a view with other
    per-call settings.

    ``jwt_key`` (default ``$CLERK_JWT_KEY``) is the instance's PEM public key:
    with it, :meth:`verify_token` never touches the network; without it, the
    keys come from the instance's JWKS. ``wall_clock`` (epoch seconds) is what
    token expiry is checked against; tests inject one.
    """

    def __init__(
        self,
        secret_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = RetryPolicy(),  # noqa: B008 - immutable
        rate_limit: RateLimitSetting = "auto",
        api_version: str = DEFAULT_API_VERSION,
        *,
        default_headers: Mapping[str, str] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        log_bodies: bool = False,
        jwt_key: str | None = None,
        wall_clock: Clock | None = None,
    ) -> None:
        secret = secret_from(secret_key)
        pem = check_jwt_key(jwt_key)
        if base_url is None:
            base_url = os.environ.get("CLERK_API_URL") or DEFAULT_BASE_URL
        if not isinstance(api_version, str) or not api_version:
            raise ValueError("api_version must be a non-empty str such as '2025-11-10'")
        options = CallOptions(
            timeout=_check_timeout(timeout),
            retry=_check_retry(retry),
            max_response_bytes=_check_max_bytes(max_response_bytes),
        )
        url = check_base_url(base_url)
        self.base_url = str(url)
        self.rate_limit = rate_limit
        limits = _rate_limits(rate_limit)
        quota = limits.resolve_instance(secret.kind if secret else None) if limits else None
        self._transport = Transport(
            base_url=url,
            sender=HttpSender(
                secret=secret,
                api_version=api_version,
                default_headers=check_headers("default_headers", default_headers),
            ),
            options=options,
            sleep=sleep,
            clock=clock,
            log_bodies=log_bodies,
            limiter=_limiter(limits, quota, secret, clock, sleep),
            instance_quota=quota,
        )
        self.users = Users(self._transport)
        self._parent: AsyncClerk | None = None
        self._verifier = TokenVerifier(
            jwt_key=pem,
            fetch_jwks=self._fetch_jwks,
            monotonic=clock or time.monotonic,
            wall_clock=wall_clock or time.time,
        )

    def with_options(
        self,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | UnsetType | None = UNSET,
        extra_headers: Mapping[str, str] | None = None,
        max_response_bytes: int | None = None,
    ) -> AsyncClerk:
        """A view of this client with other per-call settings.

        The view shares the session, the rate limiter and ``stats`` with this
        client and costs next to nothing to make, so make one per route or
        call, e.g. ``clerk.with_options(timeout=2.0).users.get(user_id)``.
        Settings not given are inherited; ``retry=None`` turns retries off.
        ``extra_headers`` are added to the client's ``default_headers``. A
        call's deadline (``retry.deadline``, or ``timeout`` when retries are
        off) bounds the whole call, waiting for the quota included: a call
        whose slot lies beyond it raises :class:`RateLimitError` at once,
        without sending. Closing a view closes nothing; close the client.
        """
        changes: dict[str, Any] = {}
        if timeout is not None:
            changes["timeout"] = _check_timeout(timeout)
        if retry is not UNSET:
            changes["retry"] = _check_retry(retry)
        if extra_headers is not None:
            changes["extra_headers"] = {
                **self._transport.options.extra_headers,
                **check_headers("extra_headers", extra_headers),
            }
        if max_response_bytes is not None:
            changes["max_response_bytes"] = _check_max_bytes(max_response_bytes)
        view = object.__new__(AsyncClerk)
        view.__dict__.update(self.__dict__)
        view._transport = self._transport.with_options(**changes)
        view.users = Users(view._transport)
        view._parent = self._parent or self
        return view

    async def verify_token(
        self,
        token: str,
        *,
        authorized_parties: Iterable[str] | None = None,
        audience: str | Iterable[str] | None = None,
        clock_skew: float = 5.0,
    ) -> SessionClaims:
        """Verify a Clerk session token and return its claims.

        The token must be an RS256 JWT signed by this instance: with the
        ``jwt_key`` the client was given (no network), else with a key from the
        instance's JWKS (``GET /jwks`` through this client, cached for five
        minutes; an unknown key id refetches at most once every few seconds,
        and concurrent verifications share one fetch). ``exp``, ``nbf`` and
        ``iat`` are checked with ``clock_skew`` seconds of leeway; ``azp``
        must be one of ``authorized_parties`` (origins such as
        ``"https://example.com"``) when those are given, and ``aud`` must name
        one of ``audience`` when that is given. Anything else raises
        :class:`TokenVerificationError`, whose ``reason`` says what failed
        and whose message never contains the token.
        """
        return await self._verifier.verify(
            token, parties(authorized_parties), _audience(audience), skew(clock_skew)
        )

    async def authenticate_request(
        self,
        request_or_headers: Any,
        *,
        authorized_parties: Iterable[str] | None = None,
        audience: str | Iterable[str] | None = None,
        clock_skew: float = 5.0,
    ) -> SessionClaims | None:
        """The verified session of an incoming request, or None when it carries no token.

        The token is read from ``Authorization: Bearer …`` first, then from the
        ``__session`` cookie. ``request_or_headers`` is a framework request
        (FastAPI/Starlette, Django, aiohttp…) or its headers mapping. A token
        that is present but fails :meth:`verify_token` raises
        :class:`TokenVerificationError`.
        """
        checked = parties(authorized_parties), _audience(audience), skew(clock_skew)
        token = token_from(request_or_headers)
        if token is None:
            return None
        return await self._verifier.verify(token, *checked)

    async def _fetch_jwks(self) -> bytes:
        self._transport.sender.ready()
        return await self._transport.request("GetJWKS", "GET", "/jwks")

    @property
    def api_version(self) -> str:
        return self._transport.sender.api_version  # type: ignore[attr-defined, no-any-return]

    @property
    def timeout(self) -> float:
        return self._transport.timeout

    @property
    def retry(self) -> RetryPolicy | None:
        return self._transport.retry

    @property
    def max_response_bytes(self) -> int:
        return self._transport.options.max_response_bytes

    @property
    def quota(self) -> Quota | None:
        """The instance quota requests are paced to, or None when pacing is off."""
        return self._transport.instance_quota

    @property
    def limiter(self) -> Limiter | None:
        return self._transport.limiter

    @property
    def stats(self) -> ClientStats:
        """Requests, retries, 429s and seconds spent waiting for quota, per operation."""
        return self._transport.stats

    @property
    def closed(self) -> bool:
        return self._transport.closed

    def __repr__(self) -> str:
        key = getattr(self._transport.sender, "key_kind", None)
        shown = f"{key}…" if key else "missing"
        view = " (options view)" if self._parent is not None else ""
        return f"<AsyncClerk base_url={self.base_url!r} secret_key={shown}{view}>"

    async def aclose(self) -> None:
        """Close the HTTP session. Safe to call twice; later calls raise.

        On a :meth:`with_options` view this does nothing: the view only
        borrows its client's session.
        """
        if self._parent is not None:
            return
        await self._transport.aclose()
        if isinstance(self.limiter, QuotaBackend):
            # Its connections belong to this loop (the sync facade's thread, say).
            await self.limiter.aclose()

    async def __aenter__(self) -> AsyncClerk:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _audience(audience: str | Iterable[str] | None) -> frozenset[str] | None:
    if audience is None:
        return None
    found = frozenset([audience] if isinstance(audience, str) else audience)
    if not found or not all(isinstance(a, str) and a for a in found):
        raise TypeError("audience must be a non-empty str or an iterable of them")
    return found


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def _check_retry(retry: object) -> RetryPolicy | None:
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise TypeError(f"retry must be a RetryPolicy or None, got {type(retry).__name__}")
    return retry


def _check_max_bytes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_response_bytes must be a positive int, got {value!r}")
    return value


def _limiter(
    limits: RateLimits | None,
    quota: Quota | None,
    secret: Secret | None,
    clock: Clock | None,
    sleep: Sleep | None,
) -> Limiter | None:
    if limits is None:
        return None
    if isinstance(limits.backend, QuotaBackend):
        # A shared backend needs the quotas, and an identity for this Clerk
        # instance that is not the key itself.
        limits.backend.configure(
            quota, limits.resolve_operations(), secret.instance_id if secret else "nokey"
        )
    return limits.backend or LocalLimiter(
        quota,
        limits.resolve_operations(),
        clock=clock or time.monotonic,
        sleep=sleep or asyncio.sleep,
    )
