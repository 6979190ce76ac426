"""FakeClerk's session tokens: an RS256 key per seed, ``GET /v1/jwks``, and minting.

Tokens carry Clerk's version 2 session claims (``azp``, ``exp``, ``fva``,
``iat``, ``iss``, ``nbf``, ``sid``, ``sts``, ``sub``, ``v``), signed with a
2048-bit RSA key whose ``kid`` the JWKS publishes. Generating a key takes
~0.1 s, so each seed's key is made once per process and only when first
needed: two fakes with the same seed are the same instance (they share the
secret key too), two seeds are two instances whose tokens do not cross.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ._clock import Clock
from ._web import Route, json_response

__all__ = ["ISSUER", "ROUTES", "TokenIssuer"]

#: Clerk issues session tokens valid for 60 s and refreshes them in the browser.
DEFAULT_EXPIRES_IN = 60.0
_NBF_LEEWAY = 10


@functools.cache
def _private_key(seed: int) -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:
        raise ImportError(
            "FakeClerk's session tokens need cryptography and PyJWT: "
            "pip install 'clerk-users[testing]'"
        ) from None
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class TokenIssuer:
    """The signing side of one fake instance (see the module doc)."""

    def __init__(self, seed: int, clock: Clock) -> None:
        self.seed = seed
        self.clock = clock
        self.issuer = f"https://fake-{seed & 0xFFFF:04x}.clerk.accounts.dev"
        self._rng = random.Random(f"sessions-{seed}")

    @property
    def private_key(self) -> Any:
        return _private_key(self.seed)

    @functools.cached_property
    def kid(self) -> str:
        numbers = self.private_key.public_key().public_numbers()
        digest = hashlib.sha256(numbers.n.to_bytes(256, "big")).hexdigest()
        return "ins_" + digest[:27]

    @property
    def public_pem(self) -> str:
        """The PEM public key, as the dashboard shows it (``AsyncClerk(jwt_key=...)``)."""
        from cryptography.hazmat.primitives import serialization

        pem: bytes = self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem.decode()

    def jwk(self) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"use": "sig", "kty": "RSA", "kid": self.kid, "alg": "RS256",
                "n": jwk["n"], "e": jwk["e"]}

    def mint(
        self,
        user_id: str,
        *,
        session_id: str | None = None,
        authorized_party: str | None = None,
        expires_in: float = DEFAULT_EXPIRES_IN,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        import jwt

        if not isinstance(user_id, str) or not user_id:
            raise ValueError("user_id must be a non-empty str such as 'user_2abc'")
        if session_id is not None and (not isinstance(session_id, str) or not session_id):
            raise ValueError("session_id must be a non-empty str or None")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            raise TypeError("expires_in must be a number of seconds")
        if claims is not None and not isinstance(claims, Mapping):
            raise TypeError(f"claims must be a mapping, got {type(claims).__name__}")
        now = int(self.clock())
        payload: dict[str, Any] = {
            "exp": now + int(expires_in),
            "fva": [0, -1],
            "iat": now,
            "iss": self.issuer,
            "nbf": now - _NBF_LEEWAY,
            "sid": session_id or "sess_" + "".join(
                self._rng.choices("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                                  k=27)
            ),
            "sts": "active",
            "sub": user_id,
            "v": 2,
        }
        if authorized_party is not None:
            payload["azp"] = authorized_party
        for name, value in (claims or {}).items():
            # None removes a default claim, to build tokens Clerk would not send.
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        return jwt.encode(
            payload, self.private_key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"}
        )


ISSUER = web.AppKey("clerk_fake_token_issuer", TokenIssuer)


async def get_jwks(request: web.Request) -> web.StreamResponse:
    return json_response({"keys": [request.app[ISSUER].jwk()]})


ROUTES: list[Route] = [("GET", "/jwks", "GetJWKS", get_jwks)]
