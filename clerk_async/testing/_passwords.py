"""Password storage for the fake: salted PBKDF2 with few rounds for plaintext
passwords (speed over strength, it is test data), and imported digests kept as
given and checked by :mod:`._hashers`."""

from __future__ import annotations

import hashlib
import hmac
import os

from ._hashers import Outcome, check_digest

__all__ = ["check_password", "hash_password", "imported_digest"]

_ROUNDS = 1_000
_OWN = "fake"  # the prefix of digests the fake made itself; no Clerk hasher has this name


def hash_password(password: str) -> str:
    salt = os.urandom(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ROUNDS)
    return f"{_OWN}${salt.hex()}${digest.hex()}"


def imported_digest(hasher: str, digest: str) -> str:
    return f"{hasher}${digest}"


def check_password(stored: str, password: str) -> tuple[Outcome, str]:
    """``("verified" | "mismatch" | "unverifiable", why)`` for a stored password."""
    hasher, _, rest = stored.partition("$")
    if hasher == _OWN:
        salt_hex, _, digest_hex = rest.partition("$")
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt_hex),
                                     _ROUNDS)
        return ("verified" if hmac.compare_digest(digest.hex(), digest_hex) else "mismatch"), ""
    return check_digest(hasher, rest, password)
