"""Password storage for the fake: salted PBKDF2 with few rounds (speed over strength,
it is test data), plus checking of a few imported digest formats."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

__all__ = ["HASHERS", "check_password", "hash_password", "imported_digest"]

_ROUNDS = 1_000

#: The hasher names Clerk accepts for ``password_digest``. Only md5, sha256 and
#: pbkdf2_sha256_django digests can actually be checked by the fake; a user
#: imported with another hasher never verifies.
HASHERS = frozenset(
    {
        "argon2i",
        "argon2id",
        "awscognito",
        "bcrypt",
        "bcrypt_peppered",
        "bcrypt_sha256_django",
        "hmac_sha256_utf16_b64",
        "ldap_ssha",
        "md5",
        "md5_phpass",
        "md5_salted",
        "pbkdf2_sha1",
        "pbkdf2_sha256",
        "pbkdf2_sha256_django",
        "pbkdf2_sha512",
        "phpass",
        "scrypt_firebase",
        "scrypt_werkzeug",
        "sha256",
        "sha256_salted",
        "sha512_symfony",
    }
)


def hash_password(password: str) -> str:
    salt = os.urandom(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ROUNDS)
    return f"fake${salt.hex()}${digest.hex()}"


def imported_digest(hasher: str, digest: str) -> str:
    return f"{hasher}${digest}"


def check_password(stored: str, password: str) -> bool:
    hasher, _, rest = stored.partition("$")
    raw = password.encode()
    if hasher == "fake":
        salt_hex, _, digest_hex = rest.partition("$")
        digest = hashlib.pbkdf2_hmac("sha256", raw, bytes.fromhex(salt_hex), _ROUNDS)
        return hmac.compare_digest(digest.hex(), digest_hex)
    if hasher == "md5":
        return hmac.compare_digest(hashlib.md5(raw).hexdigest(), rest.lower())
    if hasher == "sha256":
        return hmac.compare_digest(hashlib.sha256(raw).hexdigest(), rest.lower())
    if hasher == "pbkdf2_sha256_django":
        # Django's format: pbkdf2_sha256$<iterations>$<salt>$<base64 digest>
        parts = rest.split("$")
        if len(parts) != 4 or not parts[1].isdigit():
            return False
        digest = hashlib.pbkdf2_hmac("sha256", raw, parts[2].encode(), int(parts[1]))
        return hmac.compare_digest(base64.b64encode(digest).decode(), parts[3])
    return False
