"""verify_token / authenticate_request against FakeClerk's tokens, over real sockets.

Each rejection reason has its case; time is FakeClerk's ManualClock (which
mints) shared with the client's ``wall_clock`` (which checks), and the JWKS
cache runs on a VirtualClock, so nothing here sleeps or races the wall clock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from clerk_async import AsyncClerk, ClerkError, SessionClaims, TokenVerificationError
from clerk_async._jwks import JWKS_TTL, REFRESH_INTERVAL
from clerk_async.testing import FakeClerk, ManualClock

from factories import VirtualClock

APP = "https://app.example.com"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, object], payload: dict[str, object], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(payload).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _parts(token: str) -> tuple[dict[str, object], dict[str, object]]:
    head, body, _ = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(head + "==")),
        json.loads(base64.urlsafe_b64decode(body + "==")),
    )


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeClerk]:
    async with FakeClerk(clock=ManualClock()) as server:
        yield server


@pytest.fixture
def monotonic() -> VirtualClock:
    return VirtualClock()


@pytest_asyncio.fixture
async def client(fake: FakeClerk, monotonic: VirtualClock) -> AsyncIterator[AsyncClerk]:
    async with AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None,
        clock=monotonic, sleep=monotonic.sleep, wall_clock=fake.clock,
    ) as c:
        yield c


async def _reason(client: AsyncClerk, token: str, **options: object) -> str:
    with pytest.raises(TokenVerificationError) as caught:
        await client.verify_token(token, **options)  # type: ignore[arg-type]
    error = caught.value
    # Error trackers record message and repr: neither may carry the token.
    for shown in (str(error), repr(error)):
        assert not token or token not in shown
        signature = token.split(".")[-1]
        assert len(signature) < 16 or signature not in shown
    return error.reason


# -- accepted ------------------------------------------------------------------------


async def test_a_minted_token_verifies_through_the_jwks(
    fake: FakeClerk, client: AsyncClerk
) -> None:
    user = fake.store.add_user(email_address="ada@example.com")
    token = fake.session_token(user.id, session_id="sess_1", authorized_party=APP)
    claims = await client.verify_token(token, authorized_parties=[APP])
    assert isinstance(claims, SessionClaims)
    assert (claims.user_id, claims.session_id, claims.authorized_party) == (user.id, "sess_1", APP)
    assert claims.issuer == fake.tokens.issuer
    assert claims.issued_at == int(fake.clock())
    assert claims.expires_at == int(fake.clock()) + 60
    assert claims.version == 2 and claims.raw["sub"] == user.id
    assert fake.stats.requests["GetJWKS"] == 1


async def test_jwt_key_verifies_without_any_network(fake: FakeClerk) -> None:
    token = fake.session_token("user_1")
    # Port 9 is closed: a request would fail, and none is made.
    async with AsyncClerk(
        base_url="http://127.0.0.1:9/v1", jwt_key=fake.tokens.public_pem, wall_clock=fake.clock
    ) as offline:
        assert (await offline.verify_token(token)).user_id == "user_1"
        assert offline.stats.requests == 0
    assert fake.stats.requests["GetJWKS"] == 0


async def test_jwt_key_from_the_environment_with_escaped_newlines(
    fake: FakeClerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLERK_JWT_KEY", fake.tokens.public_pem.replace("\n", "\\n"))
    async with AsyncClerk(base_url="http://127.0.0.1:9/v1", wall_clock=fake.clock) as offline:
        assert (await offline.verify_token(fake.session_token("user_env"))).user_id == "user_env"


def test_a_jwt_key_that_is_not_pem_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="jwt_key"):
        AsyncClerk(jwt_key="not a key")
    with pytest.raises(TypeError, match="jwt_key"):
        AsyncClerk(jwt_key=b"-----BEGIN PUBLIC KEY-----")  # type: ignore[arg-type]


async def test_a_thousand_concurrent_verifications_make_one_jwks_request(
    fake: FakeClerk, client: AsyncClerk
) -> None:
    token = fake.session_token("user_many")
    results = await asyncio.gather(*(client.verify_token(token) for _ in range(1000)))
    assert {r.user_id for r in results} == {"user_many"}
    assert fake.stats.requests["GetJWKS"] == 1


async def test_the_key_set_is_refetched_after_its_ttl(
    fake: FakeClerk, client: AsyncClerk, monotonic: VirtualClock
) -> None:
    token = fake.session_token("user_ttl", expires_in=3600)
    await client.verify_token(token)
    monotonic.now += JWKS_TTL - 1
    await client.verify_token(token)
    assert fake.stats.requests["GetJWKS"] == 1
    monotonic.now += 2
    await client.verify_token(token)
    assert fake.stats.requests["GetJWKS"] == 2


async def test_views_share_the_cache_and_clients_do_not(
    fake: FakeClerk, client: AsyncClerk
) -> None:
    token = fake.session_token("user_view")
    await client.verify_token(token)
    await client.with_options(timeout=2.0).verify_token(token)
    assert fake.stats.requests["GetJWKS"] == 1
    async with AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None, wall_clock=fake.clock
    ) as other:
        await other.verify_token(token)
    assert fake.stats.requests["GetJWKS"] == 2


async def test_clock_skew_lets_a_just_expired_token_pass(
    fake: FakeClerk, client: AsyncClerk
) -> None:
    token = fake.session_token("user_skew", expires_in=60)
    assert isinstance(fake.clock, ManualClock)
    fake.clock.advance(64)
    assert (await client.verify_token(token)).user_id == "user_skew"
    assert await _reason(client, token, clock_skew=0) == "expired"


# -- rejected: one case per reason ----------------------------------------------------


async def test_expired_beyond_the_skew(fake: FakeClerk, client: AsyncClerk) -> None:
    token = fake.session_token("user_old", expires_in=60)
    assert isinstance(fake.clock, ManualClock)
    fake.clock.advance(66)
    assert await _reason(client, token) == "expired"
    assert await _reason(client, fake.session_token("user_old", expires_in=-10)) == "expired"


async def test_not_before_ahead(fake: FakeClerk, client: AsyncClerk) -> None:
    now = int(fake.clock())
    assert await _reason(client, fake.session_token("u", claims={"nbf": now + 60})) == (
        "not_active_yet"
    )
    assert await _reason(client, fake.session_token("u", claims={"iat": now + 60})) == (
        "not_active_yet"
    )
    # Within the skew, a slightly fast issuer clock is forgiven.
    assert await client.verify_token(fake.session_token("u", claims={"nbf": now + 4}))


async def test_wrong_authorized_party(fake: FakeClerk, client: AsyncClerk) -> None:
    token = fake.session_token("u", authorized_party="https://evil.example")
    assert await _reason(client, token, authorized_parties=[APP]) == "unauthorized_party"
    # No azp (the browser sent no Origin): nothing to compare, as Clerk's SDKs do.
    assert await client.verify_token(fake.session_token("u"), authorized_parties=[APP])
    assert await client.verify_token(token)  # no parties asked for: not checked


async def test_audience(fake: FakeClerk, client: AsyncClerk) -> None:
    token = fake.session_token("u", claims={"aud": ["api-a", "api-b"]})
    assert (await client.verify_token(token, audience="api-b")).user_id == "u"
    assert await _reason(client, token, audience=["api-c"]) == "bad_audience"
    assert await _reason(client, fake.session_token("u"), audience="api-a") == "bad_audience"


async def test_alg_none_is_refused(fake: FakeClerk, client: AsyncClerk) -> None:
    header, payload = _parts(fake.session_token("u"))
    forged = _forge({**header, "alg": "none"}, {**payload, "sub": "user_admin"})
    assert await _reason(client, forged) == "bad_algorithm"
    assert fake.stats.requests["GetJWKS"] == 0  # refused before any key was looked up


async def test_hs256_keyed_with_the_public_key_is_refused(fake: FakeClerk) -> None:
    header, payload = _parts(fake.session_token("u"))
    header["alg"] = "HS256"
    unsigned = _forge(header, {**payload, "sub": "user_admin"}).rsplit(".", 1)[0]
    pem = fake.tokens.public_pem.encode()
    signature = hmac.new(pem, unsigned.encode(), hashlib.sha256).digest()
    forged = f"{unsigned}.{_b64(signature)}"
    async with AsyncClerk(
        base_url="http://127.0.0.1:9/v1", jwt_key=fake.tokens.public_pem, wall_clock=fake.clock
    ) as offline:
        assert await _reason(offline, forged) == "bad_algorithm"


async def test_tampered_payload(fake: FakeClerk, client: AsyncClerk) -> None:
    token = fake.session_token("user_plain")
    head, _, signature = token.split(".")
    _, payload = _parts(token)
    body = _b64(json.dumps({**payload, "sub": "user_admin"}).encode())
    assert await _reason(client, f"{head}.{body}.{signature}") == "bad_signature"


async def test_another_instances_key(fake: FakeClerk, client: AsyncClerk) -> None:
    other = FakeClerk(seed=1, clock=fake.clock)
    foreign = other.session_token("user_elsewhere")
    # Through the JWKS its kid is unknown here; with a PEM key its signature fails.
    assert await _reason(client, foreign) == "unknown_key"
    async with AsyncClerk(
        base_url="http://127.0.0.1:9/v1", jwt_key=fake.tokens.public_pem, wall_clock=fake.clock
    ) as offline:
        assert await _reason(offline, foreign) == "bad_signature"
    # The foreign token relabelled with this instance's kid still fails its signature.
    _, body, signature = foreign.split(".")
    header, _ = _parts(foreign)
    relabelled = _b64(json.dumps({**header, "kid": fake.tokens.kid}).encode())
    assert await _reason(client, f"{relabelled}.{body}.{signature}") == "bad_signature"


async def test_unknown_kid_refetches_once_per_interval(
    fake: FakeClerk, client: AsyncClerk, monotonic: VirtualClock
) -> None:
    await client.verify_token(fake.session_token("u"))
    assert fake.stats.requests["GetJWKS"] == 1
    foreign = FakeClerk(seed=2, clock=fake.clock).session_token("u")
    # Right after a fetch, an unknown kid is not worth another one.
    assert await _reason(client, foreign) == "unknown_key"
    assert fake.stats.requests["GetJWKS"] == 1
    monotonic.now += REFRESH_INTERVAL
    assert await _reason(client, foreign) == "unknown_key"
    assert fake.stats.requests["GetJWKS"] == 2  # exactly one refetch
    results = await asyncio.gather(
        *(client.verify_token(foreign) for _ in range(50)), return_exceptions=True
    )
    assert all(isinstance(r, TokenVerificationError) for r in results)
    assert fake.stats.requests["GetJWKS"] == 2  # a flood of unknown kids costs nothing more
    monotonic.now += REFRESH_INTERVAL
    assert await _reason(client, foreign) == "unknown_key"
    assert fake.stats.requests["GetJWKS"] == 3


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        ("", "malformed"),
        ("garbage", "malformed"),
        ("a.b.c", "malformed"),
        ("eyJhbGciOiJSUzI1NiJ9.e30.", "malformed"),  # RS256 but no kid
        ("W10.e30.", "malformed"),  # a header that is a JSON list
        ("eyJhbGciOiJIUzI1NiJ9.e30.", "bad_algorithm"),
        ("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.!!!.x", "unknown_key"),  # kid "k": not ours
    ],
)
async def test_garbage(client: AsyncClerk, garbage: str, reason: str) -> None:
    assert await _reason(client, garbage) == reason


async def test_garbage_with_a_known_kid_is_malformed(fake: FakeClerk, client: AsyncClerk) -> None:
    head = _b64(json.dumps({"alg": "RS256", "kid": fake.tokens.kid}).encode())
    assert await _reason(client, f"{head}.!!!.x") == "malformed"
    assert await _reason(client, f"{head}") == "malformed"
    assert await _reason(client, fake.session_token("u", claims={"sub": None})) == "malformed"
    assert await _reason(client, fake.session_token("u", claims={"exp": None})) == "malformed"
    assert await _reason(client, fake.session_token("u", claims={"exp": "soon"})) == "malformed"


async def test_a_token_that_is_not_a_str_is_a_type_error(client: AsyncClerk) -> None:
    with pytest.raises(TypeError, match="token must be a str"):
        await client.verify_token(b"abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="clock_skew"):
        await client.verify_token("x", clock_skew=-1)
    with pytest.raises(TypeError, match="authorized_parties"):
        await client.verify_token("x", authorized_parties=[""])


async def test_jwks_unavailable_when_the_api_cannot_be_reached(fake: FakeClerk) -> None:
    async with AsyncClerk(
        secret_key=fake.secret_key, base_url="http://127.0.0.1:9/v1", retry=None,
        rate_limit=None, wall_clock=fake.clock,
    ) as unreachable:
        assert await _reason(unreachable, fake.session_token("u")) == "jwks_unavailable"
        # The failure is remembered for the refresh interval: no second connection attempt.
        assert await _reason(unreachable, fake.session_token("u")) == "jwks_unavailable"
        assert unreachable._verifier.keys.fetches == 1


async def test_a_wrong_secret_key_is_jwks_unavailable(fake: FakeClerk) -> None:
    async with AsyncClerk(
        secret_key="sk_test_wrong", base_url=fake.base_url, retry=None, rate_limit=None,
        wall_clock=fake.clock,
    ) as wrong:
        assert await _reason(wrong, fake.session_token("u")) == "jwks_unavailable"


async def test_no_secret_key_and_no_jwt_key_is_a_configuration_error(
    fake: FakeClerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLERK_SECRET_KEY", raising=False)
    monkeypatch.delenv("CLERK_JWT_KEY", raising=False)
    async with AsyncClerk(base_url=fake.base_url, wall_clock=fake.clock) as unconfigured:
        with pytest.raises(ClerkError, match="No Clerk secret key") as caught:
            await unconfigured.verify_token(fake.session_token("u"))
        assert not isinstance(caught.value, TokenVerificationError)


# -- authenticate_request --------------------------------------------------------------


async def test_authenticate_request_reads_bearer_then_cookie(
    fake: FakeClerk, client: AsyncClerk
) -> None:
    bearer, cookie = fake.session_token("user_bearer"), fake.session_token("user_cookie")
    both = {"Authorization": f"Bearer {bearer}", "Cookie": f"theme=dark; __session={cookie}"}
    assert (await client.authenticate_request(both)).user_id == "user_bearer"  # type: ignore[union-attr]
    only_cookie = {"cookie": f"__session={cookie}"}
    assert (await client.authenticate_request(only_cookie)).user_id == "user_cookie"  # type: ignore[union-attr]
    assert await client.authenticate_request({}) is None
    assert await client.authenticate_request({"Authorization": "Basic dXNlcjpwdw=="}) is None
    with pytest.raises(TokenVerificationError) as caught:
        await client.authenticate_request({"Authorization": "Bearer  "})
    assert caught.value.reason == "malformed"


async def test_authenticate_request_takes_framework_requests(
    fake: FakeClerk, client: AsyncClerk
) -> None:
    class Request:  # the shape of Starlette's, Django's and aiohttp's requests
        def __init__(self, headers: dict[str, str], cookies: dict[str, str]) -> None:
            self.headers, self.cookies = headers, cookies

    token = fake.session_token("user_req")
    got = await client.authenticate_request(Request({}, {"__session": token}))
    assert got is not None and got.user_id == "user_req"
    with pytest.raises(TokenVerificationError):
        await client.authenticate_request(Request({"authorization": "Bearer nope"}, {}))
    with pytest.raises(TypeError, match="request_or_headers"):
        await client.authenticate_request(42)


# -- claims ----------------------------------------------------------------------------


async def test_organization_claims_in_both_versions(fake: FakeClerk, client: AsyncClerk) -> None:
    v2 = fake.session_token("u", claims={
        "o": {"id": "org_1", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3,1"},
        "fea": "o:articles,u:profile,o:billing",
    })
    claims = await client.verify_token(v2)
    assert (claims.org_id, claims.org_slug, claims.org_role) == ("org_1", "acme", "org:admin")
    assert claims.org_permissions == (
        "org:articles:read", "org:articles:manage", "org:billing:read"
    )
    assert claims.has_permission("org:articles:manage") and claims.has_org
    v1 = fake.session_token("u", claims={
        "v": None, "org_id": "org_2", "org_slug": "beta", "org_role": "org:member",
        "org_permissions": ["org:articles:read"],
    })
    claims = await client.verify_token(v1)
    assert (claims.version, claims.org_id, claims.org_slug) == (1, "org_2", "beta")
    assert (claims.org_role, claims.org_permissions) == ("org:member", ("org:articles:read",))
    plain = await client.verify_token(fake.session_token("u"))
    assert (plain.org_id, plain.org_permissions, plain.has_org) == (None, (), False)


async def test_claims_are_frozen_and_their_repr_hides_raw(
    fake: FakeClerk, client: AsyncClerk
) -> None:
    import attrs

    claims = await client.verify_token(fake.session_token("u", claims={"secret_claim": "s3"}))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        claims.user_id = "other"  # type: ignore[misc]
    assert "s3" not in repr(claims) and claims.raw["secret_claim"] == "s3"


def test_the_sync_twin_verifies(fake_clerk_sync: FakeClerk) -> None:
    from clerk_sync import Clerk

    token = fake_clerk_sync.session_token("user_sync")
    with Clerk(
        secret_key=fake_clerk_sync.secret_key, base_url=fake_clerk_sync.base_url, rate_limit=None
    ) as clerk:
        assert clerk.verify_token(token).user_id == "user_sync"
        got = clerk.authenticate_request({"Authorization": f"Bearer {token}"})
        assert got is not None and got.user_id == "user_sync"
        with pytest.raises(TokenVerificationError):
            clerk.verify_token(token + "x")
    assert fake_clerk_sync.stats.requests["GetJWKS"] == 1


# -- the pytest plugin's fixtures ------------------------------------------------------


async def test_session_headers_fixture(
    clerk_session_headers: dict[str, str], fake_clerk: FakeClerk
) -> None:
    user_id = clerk_session_headers.user_id  # type: ignore[attr-defined]
    assert user_id in fake_clerk.store.users
    assert clerk_session_headers.token not in repr(clerk_session_headers)  # type: ignore[attr-defined]
    async with AsyncClerk(
        secret_key=fake_clerk.secret_key, base_url=fake_clerk.base_url, rate_limit=None
    ) as c:
        claims = await c.authenticate_request(clerk_session_headers)
    assert claims is not None and claims.user_id == user_id


def test_session_headers_sync_fixture(
    clerk_session_headers_sync: dict[str, str], fake_clerk_sync: FakeClerk
) -> None:
    from clerk_sync import Clerk

    with Clerk(secret_key=fake_clerk_sync.secret_key, base_url=fake_clerk_sync.base_url) as c:
        claims = c.authenticate_request(clerk_session_headers_sync)
    assert claims is not None
    assert claims.user_id == clerk_session_headers_sync.user_id  # type: ignore[attr-defined]


def test_fake_minting_refuses_bad_arguments() -> None:
    fake = FakeClerk(seed=3)
    with pytest.raises(ValueError, match="user_id"):
        fake.session_token("")
    with pytest.raises(ValueError, match="session_id"):
        fake.session_token("user_1", session_id="")
    with pytest.raises(TypeError, match="expires_in"):
        fake.session_token("user_1", expires_in="60")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="claims"):
        fake.session_token("user_1", claims=[("o", 1)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="secret"):
        fake.add_webhook_endpoint("http://127.0.0.1:1/", secret="whsec_not base64!")


def test_a_fetch_left_in_flight_by_another_loop_is_not_awaited(fake_clerk_sync: FakeClerk) -> None:
    """As after a fork mid-fetch: the key set starts a fetch of its own in the new loop."""
    import asyncio

    async def verify_in_a_new_loop() -> str:
        async with AsyncClerk(
            secret_key=fake_clerk_sync.secret_key, base_url=fake_clerk_sync.base_url,
            rate_limit=None,
        ) as c:
            stale_loop = asyncio.new_event_loop()
            try:
                c._verifier.keys._inflight = stale_loop.create_future()
                claims = await c.verify_token(fake_clerk_sync.session_token("user_fork"))
            finally:
                stale_loop.close()
            return claims.user_id

    assert asyncio.run(verify_in_a_new_loop()) == "user_fork"


# -- edges: the key set's parsing, PEM keys, missing PyJWT, odd header containers -----------


async def test_the_key_set_keeps_only_rs256_signing_keys(fake: FakeClerk) -> None:
    from clerk_async._jwks import KeySet

    good = fake.tokens.jwk()
    listed = [
        "not a key",
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
        {**good, "kid": "enc", "use": "enc"},
        {**good, "kid": "rs512", "alg": "RS512"},
        {key: value for key, value in good.items() if key != "kid"},
        {**good, "kid": "broken", "n": "!!"},
        good,
    ]
    bodies = [b"<html>", json.dumps({"no": "keys"}).encode(), json.dumps({"keys": listed}).encode()]
    monotonic = VirtualClock()

    async def fetch() -> bytes:
        return bodies.pop(0)

    keys = KeySet(fetch, monotonic)
    for expected in ("not JSON", "no 'keys' list"):
        with pytest.raises(TokenVerificationError, match=expected) as caught:
            await keys.get(good["kid"])
        assert caught.value.reason == "jwks_unavailable"
        monotonic.now += keys.refresh_interval
    assert await keys.get(good["kid"]) is not None
    for kid in ("ec", "enc", "rs512", "broken"):
        with pytest.raises(TokenVerificationError, match="does not publish"):
            await keys.get(kid)
    assert keys.fetches == 3


async def test_a_jwt_key_that_does_not_parse_fails_on_first_use() -> None:
    pem = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----"
    client = AsyncClerk(jwt_key=pem)
    async with client:
        with pytest.raises(ValueError, match="jwt_key is not a valid PEM RSA public key"):
            await client.verify_token("x.y.z")


def test_without_pyjwt_verification_says_what_to_install() -> None:
    import subprocess
    import sys

    probe = (
        "import asyncio, sys; sys.modules['jwt'] = None\n"
        "from clerk_async import AsyncClerk\n"
        "async def main():\n"
        "    async with AsyncClerk(secret_key='sk_test_x') as c:\n"
        "        await c.verify_token('x.y.z')\n"
        "try:\n    asyncio.run(main())\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout
    assert "pip install 'clerk-users[auth]'" in out


async def test_odd_header_containers(fake: FakeClerk, client: AsyncClerk) -> None:
    token = fake.session_token("user_odd")
    as_bytes = {b"Authorization": f"Bearer {token}".encode()}
    assert await client.authenticate_request({"authorization": f"Bearer {token}".encode()})
    assert await client.authenticate_request(as_bytes) is None  # bytes names: not a header
    assert await client.authenticate_request({"Cookie": 'bad"cookie; =;;'}) is None
    with pytest.raises(TypeError, match="request_or_headers"):
        await client.authenticate_request(type("NoHeaders", (), {"headers": None})())
