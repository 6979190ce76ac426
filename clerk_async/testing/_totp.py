"""RFC 6238 time-based one-time passwords (SHA1, 6 digits, 30 s), as Clerk uses them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import struct
from urllib.parse import quote, urlencode

__all__ = ["new_secret", "otpauth_uri", "totp_code", "verify_code"]

STEP = 30
DIGITS = 6
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_secret(rng: random.Random, length: int = 32) -> str:
    return "".join(rng.choice(_B32) for _ in range(length))


def _key(secret: str) -> bytes:
    clean = secret.replace(" ", "").upper()
    # Authenticator apps drop the padding; b32decode insists on it.
    return base64.b32decode(clean + "=" * (-len(clean) % 8))


def totp_code(secret: str, at: float) -> str:
    counter = int(at // STEP)
    digest = hmac.new(_key(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def verify_code(secret: str, code: str, at: float, window: int = 1) -> bool:
    """Accept the current step and ``window`` steps either side (clock drift)."""
    if len(code) != DIGITS or not code.isdigit():
        return False
    return any(
        hmac.compare_digest(totp_code(secret, at + k * STEP), code)
        for k in range(-window, window + 1)
    )


def otpauth_uri(secret: str, account: str, issuer: str = "FakeClerk") -> str:
    label = quote(f"{issuer}:{account}")
    query = urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": STEP}
    )
    return f"otpauth://totp/{label}?{query}"
