"""Imported password digests, checked the way Clerk's docs describe each ``password_hasher``.

Each hasher has a *parser*: it reads a digest cheaply (no hashing) and either
rejects it as malformed or returns a *checker* that takes the password's
bytes. The fake parses at create time, so an import with a mis-assembled
digest fails on the row at fault, and runs the checker only when someone calls
``verify_password``.

bcrypt, argon2 and Firebase's AES step need ``bcrypt``, ``argon2-cffi`` and
``cryptography`` (the ``testing`` extra). They are imported on first use: without
them such a digest is still accepted, and checking it answers "unverifiable".
So does any hasher this module does not know (Clerk adds hashers over time)
and ``awscognito``, whose "digest" only names the Cognito pool to ask.

Where Clerk's docs leave a detail open, the choice is written next to the
parser (``md5_salted`` concatenation order, ``ldap_ssha``, ``md5_phpass``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from typing import Literal

__all__ = [
    "PARSERS",
    "Checker",
    "DigestFormatError",
    "Outcome",
    "Unverifiable",
    "check_digest",
    "parse_digest",
]

Outcome = Literal["verified", "mismatch", "unverifiable"]
Checker = Callable[[bytes], bool]

#: Above this, an iteration count is a typo or an attempt to stall the fake.
_MAX_ITERATIONS = 10_000_000


class DigestFormatError(ValueError):
    """The digest does not have the shape its hasher documents."""


class Unverifiable(Exception):
    """The digest is well formed but the fake cannot check it (library missing, not a hash)."""


def _require(condition: bool, why: str) -> None:
    if not condition:
        raise DigestFormatError(why)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise DigestFormatError(f"{what} is not base64") from None


def _hex(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise DigestFormatError(f"{what} is not hex") from None


def _is_hex(text: str) -> bool:
    return bool(text) and len(text) % 2 == 0 and re.fullmatch(r"[0-9a-fA-F]+", text) is not None


def _iterations(text: str) -> int:
    _require(text.isdigit() and 0 < int(text) <= _MAX_ITERATIONS,
             f"iterations must be an integer in 1..{_MAX_ITERATIONS}")
    return int(text)


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


# --------------------------------------------------------------------------- libraries


def _bcrypt_check(modular: bytes, secret: bytes) -> bool:
    try:
        import bcrypt
    except ImportError:
        raise Unverifiable("bcrypt digests need the 'bcrypt' package "
                           "(pip install 'clerk-users[testing]')") from None
    # bcrypt reads at most 72 bytes; bcrypt 5 raises instead of truncating.
    return bool(bcrypt.checkpw(secret[:72], modular))


_BCRYPT = re.compile(r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}")


def _bcrypt(digest: str) -> Checker:
    _require(_BCRYPT.fullmatch(digest) is not None, "expected $2b$<cost>$<53 characters>")
    return lambda pw: _bcrypt_check(digest.encode(), pw)


def _bcrypt_peppered(digest: str) -> Checker:
    # Devise-style: bcrypt over the password with the pepper appended.
    _require(_BCRYPT.fullmatch(digest[:60]) is not None and digest[60:61] == "$",
             "expected $2b$<cost>$<53 characters>$<pepper>")
    modular, pepper = digest[:60].encode(), digest[61:].encode()
    return lambda pw: _bcrypt_check(modular, pw + pepper)


def _bcrypt_sha256_django(digest: str) -> Checker:
    prefix = "bcrypt_sha256$"
    _require(digest.startswith(prefix) and _BCRYPT.fullmatch(digest[len(prefix):]) is not None,
             "expected bcrypt_sha256$$2b$<cost>$<53 characters>")
    modular = digest[len(prefix):].encode()
    # Django hashes the password with SHA-256 first and feeds bcrypt its hex digest.
    return lambda pw: _bcrypt_check(modular, hashlib.sha256(pw).hexdigest().encode())


_ARGON2 = re.compile(
    r"\$(argon2i|argon2id)\$(v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")


def _argon2(variant: str) -> Callable[[str], Checker]:
    def parse(digest: str) -> Checker:
        match = _ARGON2.fullmatch(digest)
        _require(match is not None, f"expected a PHC string $${variant}$$v=19$$m=..,t=..,p=..$$..")
        assert match is not None
        _require(match.group(1) == variant, f"the digest is {match.group(1)}, not {variant}")

        def check(pw: bytes) -> bool:
            try:
                from argon2 import exceptions, low_level
            except ImportError:
                raise Unverifiable("argon2 digests need the 'argon2-cffi' package "
                                   "(pip install 'clerk-users[testing]')") from None
            kind = low_level.Type.ID if variant == "argon2id" else low_level.Type.I
            try:
                return low_level.verify_secret(digest.encode(), pw, kind)
            except exceptions.VerificationError:  # includes VerifyMismatchError
                return False

        return check

    return parse


def _scrypt_firebase(digest: str) -> Checker:
    parts = digest.split("$")
    _require(len(parts) == 6,
             "expected <hash>$<salt>$<signer key>$<salt separator>$<rounds>$<mem cost>")
    hash_, salt, key, separator = (_b64(p, n) for p, n in zip(
        parts[:4], ("hash", "salt", "signer key", "salt separator"), strict=True))
    _require(parts[4].isdigit() and 1 <= int(parts[4]) <= 64, "rounds must be 1..64")
    _require(parts[5].isdigit() and 1 <= int(parts[5]) <= 20,
             "mem cost is an exponent (N = 2**mem_cost) and must be 1..20")
    rounds, mem_cost = int(parts[4]), int(parts[5])

    def check(pw: bytes) -> bool:
        try:
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        except ImportError:
            raise Unverifiable("scrypt_firebase digests need the 'cryptography' package "
                               "(pip install 'clerk-users[testing]')") from None
        n = 2**mem_cost
        derived = hashlib.scrypt(pw, salt=salt + separator, n=n, r=rounds, p=1, dklen=64,
                                 maxmem=256 * rounds * n)
        encryptor = Cipher(algorithms.AES(derived[:32]), modes.CTR(bytes(16))).encryptor()
        return _same(encryptor.update(key) + encryptor.finalize(), hash_)

    return check


# --------------------------------------------------------------------------- stdlib only


def _scrypt_werkzeug(digest: str) -> Checker:
    # Werkzeug writes "scrypt:N:r:p$salt$<hex>"; Clerk's docs show "$<args>$<salt>$<hash>"
    # with a base64 hash. Both shapes are read; a 128-character hex hash is hex.
    parts = digest.removeprefix("$").split("$")
    _require(len(parts) == 3, "expected scrypt:<N>:<r>:<p>$<salt>$<hash>")
    args, salt, hash_text = parts
    fields = args.split(":")
    _require(fields[0] == "scrypt" and len(fields) in (1, 4)
             and all(f.isdigit() and int(f) > 0 for f in fields[1:]),
             "the method must be scrypt or scrypt:<N>:<r>:<p>")
    n, r, p = (int(f) for f in fields[1:]) if len(fields) == 4 else (2**15, 8, 1)
    _require(n & (n - 1) == 0 and n <= 2**20 and r * p < 2**30, "impossible scrypt parameters")
    expected = _hex(hash_text, "hash") if _is_hex(hash_text) else _b64(hash_text, "hash")

    def check(pw: bytes) -> bool:
        derived = hashlib.scrypt(pw, salt=salt.encode(), n=n, r=r, p=p,
                                 dklen=len(expected), maxmem=256 * n * r * p)
        return _same(derived, expected)

    return check


def _pbkdf2(name: str, algorithm: str, salt_as: str, hash_as: str) -> Callable[[str], Checker]:
    """A PBKDF2 family member: ``<name>$<iterations>$<salt>$<hash>``.

    ``salt_as``: "raw" (the text's UTF-8 bytes), "b64", "hex", or "hex_or_raw"
    (pbkdf2_sha1: hex when it decodes, else raw). ``hash_as``: "b64" or "hex".
    pbkdf2_sha1 alone may end with ``$<key length>``, which Clerk's docs default
    to 32 bytes: a 20-byte hash (Django's) needs it written out.
    """

    def parse(digest: str) -> Checker:
        parts = digest.split("$")
        extra = 1 if name == "pbkdf2_sha1" else 0
        _require(parts[0] == name and 4 <= len(parts) <= 4 + extra,
                 f"expected {name}$<iterations>$<salt>$<hash>")
        rounds = _iterations(parts[1])
        salt_text, hash_text = parts[2], parts[3]
        if salt_as == "b64":
            salt = _b64(salt_text, "salt")
        elif salt_as == "hex" or (salt_as == "hex_or_raw" and _is_hex(salt_text)):
            salt = _hex(salt_text, "salt")
        else:
            salt = salt_text.encode()
        expected = _hex(hash_text, "hash") if hash_as == "hex" else _b64(hash_text, "hash")
        _require(len(expected) >= 16, "the hash is too short")
        if extra:
            length = parts[4] if len(parts) == 5 else "32"
            _require(length.isdigit() and int(length) == len(expected),
                     f"the hash is {len(expected)} bytes but the key length is {length} "
                     "(32 unless given as $<key length>)")
        return lambda pw: _same(
            hashlib.pbkdf2_hmac(algorithm, pw, salt, rounds, len(expected)), expected)

    return parse


def _plain(algorithm: str, size: int) -> Callable[[str], Checker]:
    def parse(digest: str) -> Checker:
        _require(len(digest) == size * 2 and _is_hex(digest), f"expected {size * 2} hex digits")
        expected = bytes.fromhex(digest)
        return lambda pw: _same(hashlib.new(algorithm, pw).digest(), expected)

    return parse


def _salted(algorithm: str, size: int) -> Callable[[str], Checker]:
    # Clerk documents "salt$hash" but not which side the salt goes on. Legacy PHP
    # apps use both, so either order verifies.
    def parse(digest: str) -> Checker:
        salt_text, sep, hash_text = digest.rpartition("$")
        _require(sep == "$" and len(hash_text) == size * 2 and _is_hex(hash_text),
                 f"expected <salt>$<{size * 2} hex digits>")
        salt, expected = salt_text.encode(), bytes.fromhex(hash_text)
        return lambda pw: any(_same(hashlib.new(algorithm, data).digest(), expected)
                              for data in (salt + pw, pw + salt))

    return parse


_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _phpass_encode(raw: bytes) -> str:
    out, i = [], 0
    while i < len(raw):
        value = raw[i]
        i += 1
        out.append(_ITOA64[value & 0x3F])
        if i < len(raw):
            value |= raw[i] << 8
        out.append(_ITOA64[(value >> 6) & 0x3F])
        if i >= len(raw):
            break
        i += 1
        if i < len(raw):
            value |= raw[i] << 16
        out.append(_ITOA64[(value >> 12) & 0x3F])
        if i >= len(raw):
            break
        i += 1
        out.append(_ITOA64[(value >> 18) & 0x3F])
    return "".join(out)


def _phpass(digest: str) -> Checker:
    # "$P$" (WordPress, phpass) and "$H$" (phpBB) are the same MD5 portable hash;
    # both hasher names read both. md5_phpass has no documented format of its own.
    _require(len(digest) == 34 and digest[:3] in ("$P$", "$H$") and digest[3] in _ITOA64
             and all(c in _ITOA64 for c in digest[4:]),
             "expected $P$<rounds character><8 salt characters><22 hash characters>")
    exponent = _ITOA64.index(digest[3])
    _require(7 <= exponent <= 30, "the rounds character is out of range")
    salt = digest[4:12].encode()

    def check(pw: bytes) -> bool:
        value = hashlib.md5(salt + pw).digest()
        for _ in range(1 << exponent):
            value = hashlib.md5(value + pw).digest()
        return hmac.compare_digest(digest[12:], _phpass_encode(value))

    return check


def _ldap_ssha(digest: str) -> Checker:
    # RFC 2307 style (OpenLDAP FAQ 347): "{SSHA}" + base64(sha1(password + salt) + salt).
    _require(digest[:6].upper() == "{SSHA}", "expected {SSHA}<base64>")
    raw = _b64(digest[6:], "the value after {SSHA}")
    _require(len(raw) > 20, "the value holds no salt")
    expected, salt = raw[:20], raw[20:]
    return lambda pw: _same(hashlib.sha1(pw + salt).digest(), expected)


def _sha512_symfony(digest: str) -> Checker:
    # Symfony's MessageDigestPasswordEncoder: sha512 of "password{salt}", then
    # iterations-1 rounds of sha512(previous + "password{salt}"), base64.
    parts = digest.split("$")
    _require(parts[0] == "sha512_symfony" and len(parts) >= 4,
             "expected sha512_symfony$<iterations>$<salt>$<base64 hash>")
    rounds = _iterations(parts[1])
    salt, expected = "$".join(parts[2:-1]), _b64(parts[-1], "hash")

    def check(pw: bytes) -> bool:
        merged = pw + (b"{" + salt.encode() + b"}" if salt else b"")
        value = hashlib.sha512(merged).digest()
        for _ in range(rounds - 1):
            value = hashlib.sha512(value + merged).digest()
        return _same(value, expected)

    return check


def _awscognito(digest: str) -> Checker:
    parts = digest.split("#")
    _require(len(parts) == 4 and parts[0] == "awscognito" and all(parts[1:]),
             "expected awscognito#<user pool id>#<app client id>#<identifier>")
    _require(re.fullmatch(r"[\w-]+_[0-9A-Za-z]+", parts[1]) is not None,
             "the user pool id looks like <region>_<id>, e.g. us-east-1_AbC123")

    def check(pw: bytes) -> bool:
        raise Unverifiable("awscognito is not a hash: Clerk asks the Cognito pool at sign-in")

    return check


#: Parsers for every hasher whose digest format Clerk documents.
PARSERS: dict[str, Callable[[str], Checker]] = {
    "argon2i": _argon2("argon2i"),
    "argon2id": _argon2("argon2id"),
    "awscognito": _awscognito,
    "bcrypt": _bcrypt,
    "bcrypt_peppered": _bcrypt_peppered,
    "bcrypt_sha256_django": _bcrypt_sha256_django,
    "ldap_ssha": _ldap_ssha,
    "md5": _plain("md5", 16),
    "md5_phpass": _phpass,
    "md5_salted": _salted("md5", 16),
    "pbkdf2_sha1": _pbkdf2("pbkdf2_sha1", "sha1", "hex_or_raw", "hex"),
    "pbkdf2_sha256": _pbkdf2("pbkdf2_sha256", "sha256", "b64", "b64"),
    "pbkdf2_sha256_django": _pbkdf2("pbkdf2_sha256", "sha256", "raw", "b64"),
    "pbkdf2_sha512": _pbkdf2("pbkdf2_sha512", "sha512", "raw", "hex"),
    "pbkdf2_sha512_hex": _pbkdf2("pbkdf2_sha512_hex", "sha512", "hex", "hex"),
    "phpass": _phpass,
    "scrypt_firebase": _scrypt_firebase,
    "scrypt_werkzeug": _scrypt_werkzeug,
    "sha256": _plain("sha256", 32),
    "sha256_salted": _salted("sha256", 32),
    "sha512_symfony": _sha512_symfony,
}


def parse_digest(hasher: str, digest: str) -> Checker | None:
    """The checker for a digest; None for a hasher without a documented format.

    Raises :class:`DigestFormatError` when a known hasher's digest is malformed.
    """
    parser = PARSERS.get(hasher)
    return None if parser is None else parser(digest)


def check_digest(hasher: str, digest: str, password: str) -> tuple[Outcome, str]:
    """Check ``password`` against an imported digest: the outcome and, if unverifiable, why."""
    try:
        checker = parse_digest(hasher, digest)
    except DigestFormatError as exc:
        return "mismatch", str(exc)
    if checker is None:
        return "unverifiable", f"the fake does not know the {hasher!r} hasher"
    try:
        return ("verified" if checker(password.encode()) else "mismatch"), ""
    except Unverifiable as exc:
        return "unverifiable", str(exc)
