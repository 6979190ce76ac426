"""Turning a source's stored password hash into Clerk's ``password_digest`` + ``password_hasher``.

Pure string work, shared by the readers; the digest formats are the ones
Clerk documents for each hasher. Sources that hold hashes of mixed origin
(Supabase, Auth.js apps, Django) are routed by the hash's own shape; a value
that matches no format fails its row, and no message quotes any part of it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

import attrs

from ._base import MigrationError, RowProblem

__all__ = ["HASHERS", "FirebaseParams", "by_content", "check_hasher_name", "firebase_digest"]

#: Every ``password_hasher`` Clerk documents (API description and CreateUser docs).
HASHERS = (
    "argon2i", "argon2id", "awscognito", "bcrypt", "bcrypt_peppered", "bcrypt_sha256_django",
    "ldap_ssha", "md5", "md5_phpass", "md5_salted", "pbkdf2_sha1", "pbkdf2_sha256",
    "pbkdf2_sha256_django", "pbkdf2_sha512", "pbkdf2_sha512_hex", "phpass", "scrypt_firebase",
    "scrypt_werkzeug", "sha256", "sha256_salted", "sha512_symfony",
)

_FBSCRYPT = re.compile(r"\$fbscrypt\$v=1,n=(\d+),r=(\d+),p=(\d+),ss=([^,$]+),sk=([^,$]+)"
                       r"\$([^$]+)\$([^$]+)")
_B64 = r"[A-Za-z0-9+/]+={0,2}"


def _keep(stored: str) -> str:
    return stored


def _strip(prefix: str) -> Callable[[str], str]:
    return lambda stored: stored[len(prefix):]


def _django_pbkdf2_sha1(stored: str) -> str:
    # Django: pbkdf2_sha1$<iterations>$<salt>$<base64 hash of 20 bytes>. Clerk's
    # pbkdf2_sha1 takes the hash in hex, with the key length when it is not 32.
    _, iterations, salt, hash_b64 = stored.split("$")
    raw = base64.b64decode(hash_b64)
    return f"pbkdf2_sha1${iterations}${salt}${raw.hex()}${len(raw)}"


def _werkzeug_pbkdf2(stored: str) -> str:
    # Werkzeug: pbkdf2:sha256:<iterations>$<salt text>$<hex>. Clerk's pbkdf2_sha256
    # takes base64 salt and hash; werkzeug hashes the salt text's bytes.
    method, salt, hash_hex = stored.split("$")
    fields = method.split(":")
    iterations = fields[2] if len(fields) > 2 else "600000"
    salt_b64 = base64.b64encode(salt.encode()).decode()
    hash_b64 = base64.b64encode(bytes.fromhex(hash_hex)).decode()
    return f"pbkdf2_sha256${iterations}${salt_b64}${hash_b64}"


#: (shape, Clerk hasher, conversion) in the order tried; the shape is the whole value.
_FORMATS: tuple[tuple[re.Pattern[str], str, Callable[[str], str]], ...] = tuple(
    (re.compile(pattern), hasher, convert) for pattern, hasher, convert in (
        (r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}", "bcrypt", _keep),
        (r"\$argon2id\$.+", "argon2id", _keep),
        (r"\$argon2i\$.+", "argon2i", _keep),
        # Django's hashers: "<algorithm>$" in front of the library's own string.
        (r"argon2\$argon2id\$.+", "argon2id", _strip("argon2")),
        (r"argon2\$argon2i\$.+", "argon2i", _strip("argon2")),
        (r"bcrypt\$\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}", "bcrypt", _strip("bcrypt$")),
        (r"bcrypt_sha256\$\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}", "bcrypt_sha256_django",
         _keep),
        (rf"pbkdf2_sha256\$\d+\$[^$]+\${_B64}", "pbkdf2_sha256_django",
         _keep),
        (rf"pbkdf2_sha1\$\d+\$[^$]+\${_B64}", "pbkdf2_sha1", _django_pbkdf2_sha1),
        (r"unsalted_md5\$\$[0-9a-f]{32}", "md5", _strip("unsalted_md5$$")),
        (r"md5\$[^$]+\$[0-9a-f]{32}", "md5_salted", _strip("md5$")),
        (r"\$[PH]\$[./0-9A-Za-z]{31}", "phpass", _keep),
        (r"scrypt(:\d+:\d+:\d+)?\$[^$]+\$[0-9a-f]+", "scrypt_werkzeug", _keep),
        (r"pbkdf2:sha256(:\d+)?\$[^$]+\$[0-9a-f]+", "pbkdf2_sha256", _werkzeug_pbkdf2),
        (rf"\{{SSHA\}}{_B64}", "ldap_ssha", _keep),
        (r"sha512_symfony\$\d+\$.*\$" + _B64, "sha512_symfony", _keep),
        (r"\$fbscrypt\$.*", "scrypt_firebase", lambda stored: _from_fbscrypt(stored)),
    ))


def check_hasher_name(name: str | None) -> str | None:
    """``--password-hasher``: one of Clerk's hasher names, or None (route by content)."""
    if name is not None and name not in HASHERS:
        raise MigrationError(f"password_hasher: {name!r} is not a Clerk hasher; choose one "
                             f"of {', '.join(HASHERS)}")
    return name


def by_content(stored: str) -> tuple[str, str]:
    """(hasher, digest) for a hash recognised by its whole shape; :class:`RowProblem` (which
    quotes nothing of the value) otherwise."""
    for shape, hasher, convert in _FORMATS:
        if shape.fullmatch(stored):
            try:
                return hasher, convert(stored)
            except RowProblem:
                raise
            except (ValueError, binascii.Error):  # e.g. a base64 part that is not
                break
    raise RowProblem("password hash matches no format Clerk accepts (a plain md5/sha256 hex "
                     "digest needs --password-hasher); this user must reset their password")


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
