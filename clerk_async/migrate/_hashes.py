"""Turning a source's stored password hash into Clerk's ``password_digest`` + ``password_hasher``.

Pure string work, shared by the readers; the digest formats are the ones
Clerk documents for each hasher.
"""

from __future__ import annotations

import base64
import binascii
import re

import attrs

from ._base import MigrationError, RowProblem

__all__ = ["FirebaseParams", "by_prefix", "firebase_digest"]

#: Stored-hash prefix → Clerk hasher, for sources that hold hashes of mixed origin.
PREFIXES: tuple[tuple[str, str], ...] = (
    ("$2a$", "bcrypt"),
    ("$2b$", "bcrypt"),
    ("$2y$", "bcrypt"),
    ("$argon2id$", "argon2id"),
    ("$argon2i$", "argon2i"),
    ("pbkdf2_sha256$", "pbkdf2_sha256_django"),  # Django's own string, salt unencoded
    ("bcrypt_sha256$", "bcrypt_sha256_django"),
    ("$fbscrypt$", "scrypt_firebase"),
)

_FBSCRYPT = re.compile(r"\$fbscrypt\$v=1,n=(\d+),r=(\d+),p=(\d+),ss=([^,$]+),sk=([^,$]+)"
                       r"\$([^$]+)\$([^$]+)")


@attrs.frozen
class FirebaseParams:
    """A Firebase project's scrypt settings (Console → Users → Password hash parameters)."""

    signer_key: str
    salt_separator: str
    rounds: int
    mem_cost: int

    @classmethod
    def from_options(cls, signer_key: str | None, salt_separator: str | None,
                     rounds: int | str | None, mem_cost: int | str | None,
                     ) -> FirebaseParams | None:
        """All four, or None when none is given; a partial set is refused, never completed."""
        given = {"signer_key": signer_key, "salt_separator": salt_separator,
                 "rounds": rounds, "mem_cost": mem_cost}
        if all(v is None for v in given.values()):
            return None
        missing = [k for k, v in given.items() if v is None]
        if missing:
            raise MigrationError(
                "Firebase hash parameters are all needed together; missing "
                + ", ".join(f"--firebase-{k.replace('_', '-')}" for k in missing))
        for name in ("signer_key", "salt_separator"):
            try:
                base64.b64decode(str(given[name]), validate=True)
            except (binascii.Error, ValueError):
                raise MigrationError(f"--firebase-{name.replace('_', '-')} is not base64 "
                                     "(copy it as the console shows it)") from None
        try:
            rounds_i, mem_i = int(str(rounds)), int(str(mem_cost))
        except ValueError:
            raise MigrationError("--firebase-rounds and --firebase-mem-cost are integers") from None
        if not 1 <= rounds_i <= 64:
            raise MigrationError("--firebase-rounds must be 1..64 (the console shows e.g. 8)")
        if not 1 <= mem_i <= 20:
            raise MigrationError("--firebase-mem-cost is the exponent the console shows "
                                 "(e.g. 14), not 2**14")
        return cls(str(signer_key), str(salt_separator), rounds_i, mem_i)


def firebase_digest(password_hash: str, salt: str, params: FirebaseParams) -> str:
    """Clerk's scrypt_firebase digest: the user's hash and salt plus the project's settings."""
    return (f"{password_hash}${salt}${params.signer_key}${params.salt_separator}"
            f"${params.rounds}${params.mem_cost}")


def by_prefix(stored: str) -> tuple[str, str]:
    """(hasher, digest) for a hash recognised by its prefix; :class:`RowProblem` otherwise."""
    for prefix, hasher in PREFIXES:
        if stored.startswith(prefix):
            if hasher == "scrypt_firebase":
                return hasher, _from_fbscrypt(stored)
            return hasher, stored
    raise RowProblem(f"unrecognised password hash format ({stored[:6]}...); "
                     "it would be lost, so the file is refused")


def _from_fbscrypt(stored: str) -> str:
    # Supabase keeps imported Firebase hashes as
    # $fbscrypt$v=1,n=<exponent>,r=..,p=..,ss=<separator>,sk=<signer key>$<salt>$<hash>.
    match = _FBSCRYPT.fullmatch(stored)
    if match is None:
        raise RowProblem("malformed $fbscrypt$ hash")
    n, r, p, ss, sk, salt, hash_ = match.groups()
    if int(p) != 1:
        raise RowProblem("$fbscrypt$ hash with p != 1 has no Clerk equivalent")
    if int(n) > 20:
        raise RowProblem(f"$fbscrypt$ n={n} must be Firebase's mem_cost exponent (<= 20)")
    return firebase_digest(hash_, salt, FirebaseParams(sk, ss, int(r), int(n)))
