"""Verifying Clerk session tokens (RS256 JWTs) for ``AsyncClerk.verify_token``.

PyJWT checks the signature; this module decides which key (the PEM
``jwt_key`` when one is configured, else the instance's JWKS), insists on
RS256 before any key is touched, and checks the time claims against an
injectable wall clock with a skew, then ``azp`` and ``aud``. PyJWT,
cryptography and the claims class load on the first verification only, so
clients that never verify (CLIs, workers) do not pay for them.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ._jwks import KeySet
from ._verify_errors import TokenFailure, TokenVerificationError

if TYPE_CHECKING:
    from ._session_claims import SessionClaims

__all__ = ["JWT_KEY_ENV_VAR", "TokenVerifier", "check_jwt_key", "parties", "skew"]

JWT_KEY_ENV_VAR = "CLERK_JWT_KEY"
_PEM_HEAD = "-----BEGIN PUBLIC KEY-----"
# The signature only: time claims are checked here against the injected clock,
# audience and party after that, each with its own reason.
_SIGNATURE_ONLY = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}
_ALGORITHMS = ["RS256"]


def check_jwt_key(jwt_key: str | None) -> str | None:
    """The PEM public key passed in, else ``$CLERK_JWT_KEY``; None when neither is set.

    Environment variables often carry the PEM on one line with literal ``\\n``
    escapes; those become newlines. Only the shape is checked here (parsing
    needs cryptography, loaded on the first verification).
    """
    if jwt_key is None:
        jwt_key = os.environ.get(JWT_KEY_ENV_VAR) or None
    if jwt_key is None:
        return None
    if not isinstance(jwt_key, str):
        raise TypeError(f"jwt_key must be a PEM public key str, got {type(jwt_key).__name__}")
    pem = jwt_key.strip().replace("\\n", "\n")
    if not pem.startswith(_PEM_HEAD):
        raise ValueError(
            "jwt_key must be the instance's PEM public key, starting with "
            f"{_PEM_HEAD!r} (Clerk dashboard: API keys, 'Show JWT public key')"
        )
    return pem


def parties(authorized_parties: Iterable[str] | str | None) -> frozenset[str] | None:
    """``authorized_parties`` as a set of origins, checked before any verification."""
    if authorized_parties is None:
        return None
    if isinstance(authorized_parties, str):
        authorized_parties = [authorized_parties]
    found = frozenset(authorized_parties)
    if not all(isinstance(p, str) and p for p in found):
        raise TypeError("authorized_parties must be origins (non-empty str), e.g. 'https://example.com'")
    return found


def skew(clock_skew: object) -> float:
    if isinstance(clock_skew, bool) or not isinstance(clock_skew, int | float) or clock_skew < 0:
        raise ValueError(f"clock_skew must be a non-negative number of seconds, got {clock_skew!r}")
    return float(clock_skew)


def _fail(reason: TokenFailure, message: str) -> TokenVerificationError:
    return TokenVerificationError(reason, message)


def _header(token: str) -> dict[str, Any]:
    head, dot, _ = token.partition(".")
    if not dot:
        raise _fail("malformed", "the session token is not a JWT (no '.' separators)")
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        raise _fail("malformed", "the session token's header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise _fail("malformed", "the session token's header is not a JSON object")
    return header


def _number(payload: dict[str, Any], name: str) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail("malformed", f"the session token's {name!r} claim is not a number")
    return float(value)


class TokenVerifier:
    """Verifies tokens for one client: a PEM key, or that client's JWKS."""

    def __init__(
        self,
        *,
        jwt_key: str | None,
        fetch_jwks: Callable[[], Any],
        monotonic: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self._pem = jwt_key
        self._pem_key: Any = None
        self.keys = KeySet(fetch_jwks, monotonic)
        self._now = wall_clock
        self._decode: Callable[..., dict[str, Any]] | None = None

    def _load(self) -> Callable[..., dict[str, Any]]:
        try:
            import jwt
        except ImportError:
            raise ImportError(
                "verifying session tokens needs PyJWT and cryptography: "
                "pip install 'clerk-users[auth]'"
            ) from None
        if self._pem is not None:
            from jwt.algorithms import RSAAlgorithm

            try:
                self._pem_key = RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(self._pem)
            except (ValueError, TypeError, jwt.InvalidKeyError):
                raise ValueError("jwt_key is not a valid PEM RSA public key") from None
        self._decode = jwt.decode
        return jwt.decode

    async def verify(
        self,
        token: str,
        authorized_parties: frozenset[str] | None,
        audience: frozenset[str] | None,
        clock_skew: float,
    ) -> SessionClaims:
        decode = self._decode or self._load()
        if not isinstance(token, str):
            raise TypeError(f"token must be a str, got {type(token).__name__}")
        header = _header(token)
        alg = header.get("alg")
        if alg != "RS256":
            # Before any key is used: "none", and HS256 keyed with the public key, end here.
            raise _fail("bad_algorithm", f"the session token's algorithm is {alg!r}, not 'RS256'")
        if self._pem_key is not None:
            key = self._pem_key
        else:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise _fail("malformed", "the session token's header names no key id ('kid')")
            key = await self.keys.get(kid)
        payload = _signed_payload(decode, token, key)
        return _check_claims(payload, self._now(), authorized_parties, audience, clock_skew)


def _signed_payload(
    decode: Callable[..., dict[str, Any]], token: str, key: Any
) -> dict[str, Any]:
    import jwt  # loaded by now: a dictionary look-up

    # The header's alg was checked to be RS256 already, and PyJWT reads the same header.
    try:
        payload = decode(token, key, algorithms=_ALGORITHMS, options=_SIGNATURE_ONLY)
    except jwt.InvalidSignatureError:
        raise _fail("bad_signature", "the session token's signature does not verify") from None
    except jwt.PyJWTError:
        raise _fail("malformed", "the session token is not a well-formed JWT") from None
    return payload


def _check_claims(
    payload: dict[str, Any],
    now: float,
    authorized_parties: frozenset[str] | None,
    audience: frozenset[str] | None,
    clock_skew: float,
) -> SessionClaims:
    from ._session_claims import claims_from_payload

    exp = _number(payload, "exp")
    if exp is None:
        raise _fail("malformed", "the session token has no 'exp' claim")
    if exp <= now - clock_skew:
        raise _fail(
            "expired",
            f"the session token expired {now - exp:.0f} s ago "
            f"(allowed clock skew {clock_skew:g} s)",
        )
    for name in ("nbf", "iat"):
        stamp = _number(payload, name)
        if stamp is not None and stamp > now + clock_skew:
            raise _fail(
                "not_active_yet",
                f"the session token's {name!r} is {stamp - now:.0f} s in the future "
                f"(allowed clock skew {clock_skew:g} s)",
            )
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _fail("malformed", "the session token has no 'sub' (user id) claim")
    if authorized_parties is not None:
        azp = payload.get("azp")
        # Clerk leaves azp out when the browser sent no Origin: nothing to compare then.
        if azp is not None and azp not in authorized_parties:
            raise _fail(
                "unauthorized_party",
                f"the session token was issued to {azp!r}, not one of the authorized parties",
            )
    if audience is not None:
        aud = payload.get("aud")
        listed = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not audience.intersection(a for a in listed if isinstance(a, str)):
            raise _fail("bad_audience", "the session token's 'aud' names none of the audiences")
    return claims_from_payload(payload)
