"""The instance's signing keys, fetched from ``GET /jwks`` and cached per client.

One :class:`KeySet` belongs to one client, so to one base URL and secret key:
a token of another Clerk instance can never be checked against keys cached
for this one. Keys live for ``ttl`` seconds; a token naming a key id the set
does not hold triggers a refetch, at most once per ``refresh_interval`` (so a
flood of forged key ids costs one request, not one each). Concurrent callers
that need a fetch share one request (single flight).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from ._errors import ClerkAPIError, ClerkConnectionError
from ._verify_errors import TokenVerificationError

__all__ = ["JWKS_TTL", "REFRESH_INTERVAL", "KeySet", "rsa_public_key"]

#: Seconds a fetched key set is trusted without asking again.
JWKS_TTL = 300.0
#: Least seconds between two fetches caused by unknown key ids or failures.
REFRESH_INTERVAL = 5.0


def rsa_public_key(jwk: dict[str, Any]) -> Any:
    """A cryptography RSA public key from one JWK (PyJWT does the parsing)."""
    from jwt.algorithms import RSAAlgorithm

    return RSAAlgorithm.from_jwk(jwk)


def _parse(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        raise TokenVerificationError("jwks_unavailable", "the JWKS response is not JSON") from None
    listed = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(listed, list):
        raise TokenVerificationError("jwks_unavailable", "the JWKS response has no 'keys' list")
    keys: dict[str, Any] = {}
    for jwk in listed:
        # Only RSA signing keys can verify an RS256 token; anything else is skipped.
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str):
            continue
        try:
            keys[kid] = rsa_public_key(jwk)
        except Exception:  # a malformed key must not hide the good ones
            continue
    return keys


class KeySet:
    """Key id -> public key, refreshed from ``fetch`` as described in the module doc."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[bytes]],
        clock: Callable[[], float],
        *,
        ttl: float = JWKS_TTL,
        refresh_interval: float = REFRESH_INTERVAL,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self.ttl = ttl
        self.refresh_interval = refresh_interval
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._inflight: asyncio.Future[None] | None = None
        #: Fetches started, for tests and diagnostics.
        self.fetches = 0

    async def get(self, kid: str) -> Any:
        """The key named ``kid``; raises :class:`TokenVerificationError` when there is none."""
        key = self._keys.get(kid)
        now = self._clock()
        fresh = self._fetched_at is not None and now - self._fetched_at < self.ttl
        if key is not None and fresh:
            return key
        if self._inflight is not None and self._inflight.get_loop() is not (
            asyncio.get_running_loop()
        ):
            # Started in a loop that is gone (the sync client's, before a fork): forget it.
            self._inflight = None
        if self._inflight is None and (
            self._attempted_at is None or now - self._attempted_at >= self.refresh_interval
        ):
            self._attempted_at = now
            self.fetches += 1
            self._inflight = asyncio.ensure_future(self._load())
            self._inflight.add_done_callback(self._landed)
        if self._inflight is not None:
            try:
                # Shielded: a caller that gives up must not cancel the fetch others wait for.
                await asyncio.shield(self._inflight)
            except TokenVerificationError:
                # Clerk rotates keys rarely: a key we already hold outlives a failed refresh.
                if kid not in self._keys:
                    raise
        elif self._fetched_at is None:
            raise TokenVerificationError(
                "jwks_unavailable",
                "the instance's JWKS could not be fetched moments ago; "
                f"the next try is at most {self.refresh_interval:g} s away",
            )
        key = self._keys.get(kid)
        if key is None:
            raise TokenVerificationError(
                "unknown_key", "the token is signed with a key this Clerk instance does not publish"
            )
        return key

    def _landed(self, future: asyncio.Future[None]) -> None:
        self._inflight = None
        if not future.cancelled():
            future.exception()  # retrieved here, so a fetch nobody awaited stays quiet

    async def _load(self) -> None:
        try:
            body = await self._fetch()
        except (ClerkAPIError, ClerkConnectionError) as exc:
            # A missing secret key or a closed client is a configuration error, not
            # a bad token: those ClerkErrors reach the caller as they are.
            raise TokenVerificationError(
                "jwks_unavailable", f"could not fetch the instance's JWKS: {exc}"
            ) from None
        keys = _parse(body)
        self._keys = keys
        self._fetched_at = self._clock()
