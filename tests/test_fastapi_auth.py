"""clerk_async.fastapi: the dependencies on a small app, with FakeClerk's tokens."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import Depends, FastAPI

from clerk_async import AsyncClerk, SessionClaims
from clerk_async.fastapi import OptionalSession, RequireSession, session_dependency
from clerk_async.testing import FakeClerk

APP_ORIGIN = "https://app.example.com"


@pytest_asyncio.fixture
async def setup() -> AsyncIterator[tuple[FakeClerk, httpx.AsyncClient, AsyncClerk]]:
    async with FakeClerk() as fake, AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None
    ) as clerk:
        app = FastAPI()
        app.state.clerk = clerk
        strict = session_dependency(authorized_parties=[APP_ORIGIN], clerk=clerk)

        @app.get("/required")
        async def required(session: RequireSession) -> dict[str, str]:
            return {"user_id": session.user_id}

        @app.get("/optional")
        async def optional(session: OptionalSession) -> dict[str, str | None]:
            return {"user_id": session.user_id if session else None}

        @app.get("/strict")
        async def strict_route(
            session: SessionClaims = Depends(strict),  # noqa: B008 - FastAPI's idiom
        ) -> dict[str, str]:
            return {"user_id": session.user_id}

        per_request = session_dependency(clerk=lambda request: request.app.state.clerk)

        @app.get("/per-request")
        async def per_request_route(
            session: SessionClaims = Depends(per_request),  # noqa: B008
        ) -> dict[str, str]:
            return {"user_id": session.user_id}

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            yield fake, http, clerk


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_required_and_optional(
    setup: tuple[FakeClerk, httpx.AsyncClient, AsyncClerk],
) -> None:
    fake, http, _ = setup
    token = fake.session_token("user_fa")
    assert (await http.get("/required", headers=_bearer(token))).json() == {"user_id": "user_fa"}
    missing = await http.get("/required")
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
    assert (await http.get("/optional")).json() == {"user_id": None}
    assert (await http.get("/optional", headers=_bearer(token))).json() == {"user_id": "user_fa"}
    # Optional means "no token is fine", not "a bad token is fine".
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    bad = await http.get("/optional", headers=_bearer(forged))
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="bad_signature"'
    )
    assert token not in bad.text


async def test_options_and_an_explicit_client(
    setup: tuple[FakeClerk, httpx.AsyncClient, AsyncClerk],
) -> None:
    fake, http, _ = setup
    ours = fake.session_token("user_a", authorized_party=APP_ORIGIN)
    theirs = fake.session_token("user_b", authorized_party="https://evil.example")
    assert (await http.get("/strict", headers=_bearer(ours))).status_code == 200
    refused = await http.get("/strict", headers=_bearer(theirs))
    assert refused.status_code == 401 and "unauthorized_party" in refused.json()["detail"]
    # A client chosen per request, by a function of it.
    assert (await http.get("/per-request", headers=_bearer(theirs))).json() == {
        "user_id": "user_b"
    }


async def test_jwks_outage_is_503_not_401(fake_clerk: FakeClerk) -> None:
    async with AsyncClerk(
        secret_key=fake_clerk.secret_key, base_url="http://127.0.0.1:9/v1", retry=None,
        rate_limit=None,
    ) as unreachable:
        app = FastAPI()
        app.state.clerk = unreachable

        @app.get("/required")
        async def required(session: RequireSession) -> dict[str, str]:
            return {"user_id": session.user_id}

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://app"
        ) as http:
            reply = await http.get("/required", headers=_bearer(fake_clerk.session_token("u")))
    assert reply.status_code == 503 and reply.headers["retry-after"] == "5"


def test_bad_options_fail_when_the_dependency_is_made() -> None:
    with pytest.raises(ValueError, match="clock_skew"):
        session_dependency(clock_skew=-1)
    with pytest.raises(TypeError, match="authorized_parties"):
        session_dependency(authorized_parties=[""])


def test_importable_without_fastapi() -> None:
    probe = (
        "import sys; sys.modules['fastapi'] = None\n"
        "import clerk_async.fastapi as f\n"
        "try:\n    f.RequireSession\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout
    assert "pip install 'clerk-users[fastapi]'" in out


async def test_an_app_without_a_client_says_where_to_put_one() -> None:
    app = FastAPI()

    @app.get("/required")
    async def required(session: RequireSession) -> dict[str, str]:
        return {"user_id": session.user_id}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app"
    ) as http:
        with pytest.raises(RuntimeError, match=r"app\.state\.clerk"):
            await http.get("/required", headers=_bearer("x.y.z"))
