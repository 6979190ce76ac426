"""``AsyncClerk``: configuration, lifecycle, and the resources hanging off it."""

from __future__ import annotations

import asyncio
import os
import time
from types import TracebackType
from typing import Literal

from ._ratelimit import (
    Limiter,
    LocalLimiter,
    Quota,
    QuotaBackend,
    RateLimits,
    instance_key_id,
    parse_quota,
)
from ._retry import RetryPolicy
from ._stats import ClientStats
from ._transport import Clock, Sleep, Transport, check_base_url, key_kind
from .resources.users import Users

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
    pacing off).
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
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        log_bodies: bool = False,
    ) -> None:
        if secret_key is None:
            secret_key = os.environ.get("CLERK_SECRET_KEY") or None
        if base_url is None:
            base_url = os.environ.get("CLERK_API_URL") or DEFAULT_BASE_URL
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy or None, got {type(retry).__name__}")
        if not isinstance(api_version, str) or not api_version:
            raise ValueError("api_version must be a non-empty str such as '2025-11-10'")
        url = check_base_url(base_url)
        self.base_url = str(url)
        self.rate_limit = rate_limit
        limits = _rate_limits(rate_limit)

        quota = limits.resolve_instance(key_kind(secret_key)) if limits else None
        limiter: Limiter | None = None
        if limits is not None:
            if isinstance(limits.backend, QuotaBackend):
                # A shared backend needs the quotas, and an identity for this
                # Clerk instance that is not the key itself.
                limits.backend.configure(
                    quota, limits.resolve_operations(), instance_key_id(secret_key)
                )
            limiter = limits.backend or LocalLimiter(
                quota,
                limits.resolve_operations(),
                clock=clock or time.monotonic,
                sleep=sleep or asyncio.sleep,
            )
        self._transport = Transport(
            base_url=url,
            secret_key=secret_key,
            api_version=api_version,
            timeout=float(timeout),
            retry=retry,
            sleep=sleep,
            clock=clock,
            log_bodies=log_bodies,
            limiter=limiter,
            instance_quota=quota,
        )
        self.users = Users(self._transport)

    @property
    def api_version(self) -> str:
        return self._transport.api_version

    @property
    def timeout(self) -> float:
        return self._transport.timeout

    @property
    def retry(self) -> RetryPolicy | None:
        return self._transport.retry

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
        key = self._transport.key_kind
        shown = f"{key}…" if key else "missing"
        return f"<AsyncClerk base_url={self.base_url!r} secret_key={shown}>"

    async def aclose(self) -> None:
        """Close the HTTP session. Safe to call twice; later calls raise."""
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
