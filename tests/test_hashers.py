"""FakeClerk checks imported password digests: published vectors for every
documented hasher, independent implementations (Django's own hashers, hashlib)
where no vector is published, and round trips through ``verify_password``."""

from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import AsyncIterator

import pytest

from clerk_async import AsyncClerk, UnprocessableEntityError
from clerk_async.testing import FakeClerk
from clerk_async.testing._hashers import PARSERS, check_digest

FIREBASE_KEY = ("jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvp"
                "jeJ9WmXA==")
FIREBASE_TAIL = f"42xEC+ixf3L2lw==${FIREBASE_KEY}$Bw==$8$14"


def _django(hasher_path: str, password: str, salt: str, iterations: int | None = None) -> str:
    """A digest made by Django itself, an implementation independent of the fake's."""
    # The hasher classes need no Django settings (configuring them here would
    # leak into the Django example's tests).
    from django.utils.module_loading import import_string

    hasher = import_string(hasher_path)()
    if iterations is not None:
        hasher.iterations = iterations
    if "BCrypt" in hasher_path:
        import bcrypt

        hasher.salt = lambda: bcrypt.gensalt(4)  # type: ignore[method-assign]
        return str(hasher.encode(password, hasher.salt()))
    return str(hasher.encode(password, salt))


def _symfony(password: str, salt: str, iterations: int) -> str:
    # Symfony's MessageDigestPasswordEncoder, written from its PHP source.
    salted = f"{password}{{{salt}}}".encode()
    digest = hashlib.sha512(salted).digest()
    for _ in range(1, iterations):
        digest = hashlib.sha512(digest + salted).digest()
    return f"sha512_symfony${iterations}${salt}${base64.b64encode(digest).decode()}"


def _ssha(password: str, salt: bytes) -> str:
    raw = hashlib.sha1(password.encode() + salt).digest() + salt
    return "{SSHA}" + base64.b64encode(raw).decode()


def _werkzeug(password: str, salt: str) -> str:
    # werkzeug.security's scrypt: scrypt:N:r:p$salt$hex(scrypt(password, salt)).
    n, r, p = 2**14, 8, 1
    raw = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, dklen=64)
    return f"scrypt:{n}:{r}:{p}${salt}${raw.hex()}"


# (hasher, digest, password, where the vector comes from)
VECTORS: list[tuple[str, str, str, str]] = [
    ("bcrypt", "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm", "Kk4DQuMMfZL9o",
     "pyca/bcrypt tests"),
    ("bcrypt", "$2b$10$U4C0ZY8OG8y41F9LusfKyu3HRMBL0rCZcKBVsXhgr.n8Ou6FPhzO2",
     "Kk4aPMeiaRpAs2OeX1NE", "clerk/migration-tool README"),
    ("argon2id", "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434"
     "IimaPqxwCo", "password", "argon2-cffi tests (reference CLI)"),
    ("scrypt_firebase", "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo"
     f"78198JAdRuid5lQ==${FIREBASE_TAIL}", "user1password", "firebase/scrypt README"),
    ("scrypt_firebase", "70k8Vg5B3/OrvJOiqusnasv0dLcBHoDAqJrJr7TRLBfMw4MitWx51YXJYFdGiyMbMeKtWtL"
     f"f5HiBDcN0SUOm4A==${FIREBASE_TAIL}", "hunter2", "firebase/scrypt tests/01-known-value.sh"),
    ("md5", "5f4dcc3b5aa765d61d8327deb882cf99", "password", "Clerk docs example"),
    ("sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "test",
     "Clerk docs example"),
    ("phpass", "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0", "test12345", "openwall phpass test"),
    ("md5_phpass", "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0", "test12345", "openwall phpass test"),
    # RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64).
    ("pbkdf2_sha256", "pbkdf2_sha256$1$c2FsdA==$" + base64.b64encode(bytes.fromhex(
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991"
        "664b39d77ef317c71b845b1e30bd509112041d3a19783")).decode(), "passwd", "RFC 7914"),
    # RFC 6070 PBKDF2-HMAC-SHA1 vectors in Clerk's documented pbkdf2_sha1 form: hex hash,
    # and the key length written out because it is not the default 32.
    ("pbkdf2_sha1", "pbkdf2_sha1$1$salt$0c60c80f961f0e71f3a9b524af6012062fe037a6$20",
     "password", "RFC 6070 c=1"),
    ("pbkdf2_sha1", "pbkdf2_sha1$4096$salt$4b007901b765489abead49d926f721d065a429c1$20",
     "password", "RFC 6070 c=4096"),
    ("pbkdf2_sha1", "pbkdf2_sha1$4096$saltSALTsaltSALTsaltSALTsaltSALTsalt$3d2eec4fe41c849b80c8"
     "d83662c0e44a8b291a964cf2f07038$25", "passwordPASSWORDpassword", "RFC 6070 dkLen=25"),
]


def _generated() -> list[tuple[str, str, str, str]]:
    """Digests for hashers without a published vector, made independently of the fake."""
    pw = "Zürich, 4 o'clock"
    return [
        ("pbkdf2_sha256_django", _django("django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                         pw, "s4ltS4lt", 1000), pw, "Django"),
        ("pbkdf2_sha1", "pbkdf2_sha1$1000$0a1b2c3d$" + hashlib.pbkdf2_hmac(
            "sha1", pw.encode(), bytes.fromhex("0a1b2c3d"), 1000, 32).hex() + "$32", pw,
         "hex salt, hex hash, key length"),
        ("bcrypt_sha256_django", _django("django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
                                         pw, ""), pw, "Django"),
        ("pbkdf2_sha512", "pbkdf2_sha512$1000$rawsalt$" + hashlib.pbkdf2_hmac(
            "sha512", pw.encode(), b"rawsalt", 1000).hex(), pw, "hashlib"),
        ("pbkdf2_sha512_hex", "pbkdf2_sha512_hex$1000$00ff10$" + hashlib.pbkdf2_hmac(
            "sha512", pw.encode(), b"\x00\xff\x10", 1000).hex(), pw, "hashlib"),
        ("md5_salted", "NaCl$" + hashlib.md5(b"NaCl" + pw.encode()).hexdigest(), pw, "hashlib"),
        ("md5_salted", "NaCl$" + hashlib.md5(pw.encode() + b"NaCl").hexdigest(), pw,
         "hashlib, salt after"),
        ("sha256_salted", "NaCl$" + hashlib.sha256(b"NaCl" + pw.encode()).hexdigest(), pw,
         "hashlib"),
        ("ldap_ssha", _ssha(pw, b"\x01\x02\x03\x04"), pw, "RFC 2307 construction"),
        ("sha512_symfony", _symfony(pw, "pepper", 5000), pw, "Symfony's algorithm"),
        ("scrypt_werkzeug", _werkzeug(pw, "aSaltForW"), pw, "Werkzeug's format"),
        ("scrypt_werkzeug", "$" + _werkzeug(pw, "aSaltForW"), pw, "Clerk docs' leading $"),
        ("argon2i", _argon2i(pw), pw, "argon2-cffi"),
        ("bcrypt_peppered", _peppered(pw), pw, "bcrypt over password + pepper"),
    ]


def _argon2i(password: str) -> str:
    from argon2 import low_level

    return low_level.hash_secret(password.encode(), b"somesaltsomesalt", time_cost=1,
                                 memory_cost=1024, parallelism=1, hash_len=32,
                                 type=low_level.Type.I).decode()


def _peppered(password: str) -> str:
    import bcrypt

    return bcrypt.hashpw(password.encode() + b"devise-pepper", bcrypt.gensalt(4)).decode() \
        + "$devise-pepper"


ALL = VECTORS + _generated()


def test_every_documented_hasher_is_covered() -> None:
    from clerk_async.migrate._hashes import HASHERS

    covered = {hasher for hasher, *_ in ALL}
    assert covered == set(PARSERS) - {"awscognito"}
    # --password-hasher accepts exactly the hashers the fake knows how Clerk reads.
    assert set(HASHERS) == set(PARSERS)


@pytest.mark.parametrize(("hasher", "digest", "password", "origin"), ALL,
                         ids=[f"{h}-{o}" for h, _, _, o in ALL])
def test_vectors_verify_and_reject_other_passwords(
    hasher: str, digest: str, password: str, origin: str
) -> None:
    assert check_digest(hasher, digest, password) == ("verified", "")
    assert check_digest(hasher, digest, password + "x")[0] == "mismatch"


def test_malformed_digests_and_wrong_variants_do_not_verify() -> None:
    for hasher, digest in [("bcrypt", "$2b$10$short"), ("md5", "xyz"),
                           ("argon2i", VECTORS[2][1]),  # an argon2id digest
                           ("scrypt_firebase", "a$b$c"), ("pbkdf2_sha256", "pbkdf2_sha256$0$a$b"),
                           ("phpass", "$Q$..."), ("ldap_ssha", "{SHA}abc"),
                           ("sha512_symfony", "sha512_symfony$x$s$h")]:
        outcome, why = check_digest(hasher, digest, "pw")
        assert outcome == "mismatch" and why, hasher


def test_pbkdf2_sha1_is_as_strict_as_clerk_documents_it() -> None:
    # Clerk: pbkdf2_sha1$<iterations>$<salt>$<hash-as-hex-string>, key length 32 unless
    # given. Django's own string (base64 hash of 20 bytes) is not that format, and a
    # 20-byte hex hash without its length is not either: Clerk would refuse both.
    django = _django("django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher", "pw", "s4ltS4lt",
                     1000)
    outcome, why = check_digest("pbkdf2_sha1", django, "pw")
    assert outcome == "mismatch" and "not hex" in why
    rfc = "pbkdf2_sha1$1$salt$0c60c80f961f0e71f3a9b524af6012062fe037a6"
    outcome, why = check_digest("pbkdf2_sha1", rfc, "password")
    assert outcome == "mismatch" and "key length is 32" in why
    default = hashlib.pbkdf2_hmac("sha1", b"password", b"salt", 2, 32).hex()
    assert check_digest("pbkdf2_sha1", f"pbkdf2_sha1$2$salt${default}", "password") == (
        "verified", "")


def test_unknown_hasher_and_cognito_are_unverifiable() -> None:
    assert check_digest("rot13", "x", "y") == (
        "unverifiable", "the fake does not know the 'rot13' hasher")
    outcome, why = check_digest("awscognito", "awscognito#us-east-1_Ab1#client#ana", "pw")
    assert outcome == "unverifiable" and "Cognito" in why


@pytest.mark.parametrize("module", ["bcrypt", "argon2", "cryptography"])
def test_without_the_testing_extra_library_digests_are_unverifiable(
    module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(sys.modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    hasher, digest, password, _ = {"bcrypt": VECTORS[0], "argon2": VECTORS[2],
                                   "cryptography": VECTORS[3]}[module]
    outcome, why = check_digest(hasher, digest, password)
    assert outcome == "unverifiable" and "clerk-users[testing]" in why


# --------------------------------------------------------------------------- over loopback


@pytest.fixture
async def clerk() -> AsyncIterator[tuple[FakeClerk, AsyncClerk]]:
    async with FakeClerk() as fake, AsyncClerk(secret_key=fake.secret_key,
                                               base_url=fake.base_url, rate_limit=None) as c:
        yield fake, c


async def test_round_trip_of_every_hasher_through_verify_password(
    clerk: tuple[FakeClerk, AsyncClerk],
) -> None:
    _, api = clerk
    for number, (hasher, digest, password, origin) in enumerate(ALL):
        user = await api.users.create(username=f"user{number}", password_digest=digest,
                                      password_hasher=hasher)
        assert user.password_enabled, (hasher, origin)
        assert (await api.users.verify_password(user.id, password)).verified
        with pytest.raises(UnprocessableEntityError) as wrong:
            await api.users.verify_password(user.id, password + "!")
        assert wrong.value.errors[0].code == "incorrect_password"


async def test_fake_refuses_a_malformed_digest_and_accepts_unknown_hashers(
    clerk: tuple[FakeClerk, AsyncClerk],
) -> None:
    _, api = clerk
    with pytest.raises(UnprocessableEntityError) as bad:
        await api.users.create(username="baduser", password_digest="$2b$10$tooshort",
                               password_hasher="bcrypt")
    assert bad.value.errors[0].meta.get("param_name") == "password_digest"
    user = await api.users.create(username="future", password_digest="opaque",
                                  password_hasher="future_hash_9")
    with pytest.raises(UnprocessableEntityError) as unverifiable:
        await api.users.verify_password(user.id, "anything")
    assert unverifiable.value.errors[0].code == "password_unverifiable"
    assert "future_hash_9" in (unverifiable.value.errors[0].long_message or "")


async def test_awscognito_checks_against_the_stand_in_pool_then_keeps_its_own_hash(
    clerk: tuple[FakeClerk, AsyncClerk],
) -> None:
    fake, api = clerk
    fake.store.cognito_users[("eu-west-1_Pool1", "client9", "omar@example.com")] = "Beirut-1987"
    user = await api.users.create(
        email_address=["omar@example.com"],
        password_digest="awscognito#eu-west-1_Pool1#client9#omar@example.com",
        password_hasher="awscognito")
    with pytest.raises(UnprocessableEntityError):
        await api.users.verify_password(user.id, "wrong")
    assert (await api.users.verify_password(user.id, "Beirut-1987")).verified
    # Migrated at the first success: the pool is no longer asked.
    fake.store.cognito_users.clear()
    assert (await api.users.verify_password(user.id, "Beirut-1987")).verified
    with pytest.raises(UnprocessableEntityError) as bad:
        await api.users.create(username="nopool", password_digest="awscognito#nopool",
                               password_hasher="awscognito")
    assert bad.value.errors[0].code == "form_param_format_invalid"
