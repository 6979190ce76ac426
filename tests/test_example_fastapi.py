"""examples/fastapi_app: the real app, lifespan and all, over httpx's ASGI transport
against a FakeClerk in the same event loop."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asgi_lifespan
import httpx
import pytest

from clerk_async import AsyncClerk
from clerk_async.testing import FakeClerk

from polling import at_most

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `examples` is not installed; import it from the checkout
    sys.path.insert(0, str(ROOT))

from examples.fastapi_app.main import app  # noqa: E402


@asynccontextmanager
async def serve(fake: FakeClerk, monkeypatch: pytest.MonkeyPatch
                ) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncClerk]]:
    """Start the app (its lifespan reads the env) and give an HTTP client to it."""
    monkeypatch.setenv("CLERK_SECRET_KEY", fake.secret_key)
    monkeypatch.setenv("CLERK_API_URL", fake.base_url)
    async with asgi_lifespan.LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            yield http, app.state.clerk


@pytest.fixture
async def fake() -> AsyncIterator[FakeClerk]:
    async with FakeClerk() as server:
        yield server


@pytest.fixture
async def http(fake: FakeClerk, monkeypatch: pytest.MonkeyPatch
               ) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(fake, monkeypatch) as (client, _):
        yield client


async def test_lifespan_opens_one_client_and_closes_it(
    fake: FakeClerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.store.add_user(email_address="a@example.com")
    async with serve(fake, monkeypatch) as (http, clerk):
        assert clerk.base_url == fake.base_url  # from CLERK_API_URL
        assert (await http.get("/users")).status_code == 200
        assert (await http.get("/users")).status_code == 200
        assert app.state.clerk is clerk and not clerk.closed
        session = clerk._transport._session
        assert session is not None
    assert clerk.closed and session.closed


async def test_create_get_list_and_update_metadata(
    http: httpx.AsyncClient, fake: FakeClerk
) -> None:
    created = await http.post("/users", json={
        "email_address": "ada@example.com", "first_name": "Ada",
        "public_metadata": {"plan": "pro"},
    })
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email_address"] == "ada@example.com"
    assert user["first_name"] == "Ada" and user["last_name"] is None
    assert user["public_metadata"] == {"plan": "pro"}
    assert "private_metadata" not in user
    assert fake.store.get(user["id"]).first_name == "Ada"

    fetched = await http.get(f"/users/{user['id']}")
    assert fetched.status_code == 200 and fetched.json() == user

    patched = await http.patch(f"/users/{user['id']}/metadata", json={
        "public_metadata": {"seats": 3}, "private_metadata": {"crm": "x1"},
    })
    assert patched.status_code == 200, patched.text
    assert patched.json()["public_metadata"] == {"plan": "pro", "seats": 3}  # merged
    assert fake.store.get(user["id"]).private_metadata == {"crm": "x1"}


async def test_list_pages_through_users(http: httpx.AsyncClient, fake: FakeClerk) -> None:
    for i in range(5):
        fake.store.add_user(email_address=f"user{i}@example.com")
    first = (await http.get("/users", params={"limit": 2})).json()
    assert first["limit"] == 2 and first["offset"] == 0 and first["next_offset"] == 2
    seen = [u["id"] for u in first["data"]]
    offset = first["next_offset"]
    for _ in at_most(5, "the offset walk"):
        if offset is None:
            break
        page = (await http.get("/users", params={"limit": 2, "offset": offset})).json()
        seen += [u["id"] for u in page["data"]]
        offset = page["next_offset"]
    assert sorted(seen) == sorted(fake.store.users) and len(seen) == 5
    found = (await http.get("/users", params={"query": "user3"})).json()
    assert [u["email_address"] for u in found["data"]] == ["user3@example.com"]


async def test_unknown_user_is_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/users/user_missing")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "resource_not_found" and body["clerk_trace_id"]
    patched = await http.patch("/users/user_missing/metadata", json={"public_metadata": {}})
    assert patched.status_code == 404


async def test_validation_errors_are_422(http: httpx.AsyncClient, fake: FakeClerk) -> None:
    # FastAPI's own request validation.
    assert (await http.get("/users", params={"limit": 1000})).status_code == 422
    assert (await http.post("/users", json={"first_name": "No email"})).status_code == 422
    assert (await http.patch("/users/u/metadata", json={"public_metadata": 1})).status_code == 422

    # The SDK's argument checks: nothing reaches Clerk.
    before = sum(fake.stats.requests.values())
    response = await http.get("/users/not%20an%20id")
    assert response.status_code == 422
    assert "user_id" in response.json()["detail"]
    assert sum(fake.stats.requests.values()) == before

    # Clerk's own 422, with its code passed on.
    assert (await http.post("/users", json={"email_address": "dup@example.com"})).is_success
    duplicate = await http.post("/users", json={"email_address": "dup@example.com"})
    assert duplicate.status_code == 422
    assert duplicate.json()["code"] == "form_identifier_exists"


async def test_rate_limit_is_503_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # One GetUser a minute: the second call is refused for ~60 s, longer than the
    # app's retry deadline, so the SDK gives up at once and the app answers 503.
    async with FakeClerk(operation_limits={"GetUser": "1/60s"}) as fake:
        user = fake.store.add_user(email_address="busy@example.com")
        async with serve(fake, monkeypatch) as (http, _):
            assert (await http.get(f"/users/{user.id}")).status_code == 200
            response = await http.get(f"/users/{user.id}")
            assert response.status_code == 503
            assert 50 <= int(response.headers["Retry-After"]) <= 60
            assert response.json()["code"] == "too_many_requests"
            assert fake.stats.rate_limited == 1


async def test_clerk_failure_is_502(http: httpx.AsyncClient, fake: FakeClerk) -> None:
    # A create is not retried after a 500 (Clerk may have acted on it).
    fake.inject_fault("CreateUser", "500")
    response = await http.post("/users", json={"email_address": "e@example.com"})
    assert response.status_code == 502
    assert response.json()["code"] == "internal_clerk_error"


# --------------------------------------------------------------------------- signed in


async def test_me_needs_a_valid_session_token(http: httpx.AsyncClient, fake: FakeClerk) -> None:
    missing = await http.get("/me")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    bad = await http.get("/me", headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    expired = fake.session_token("user_1", expires_in=-60)
    late = await http.get("/me", headers={"Authorization": f"Bearer {expired}"})
    assert late.status_code == 401 and late.json()["detail"] == "Invalid session token: expired"
    user = fake.store.add_user(email_address="me@example.com")
    token = fake.session_token(user.id, session_id="sess_me")
    ok = await http.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert ok.json() == {"user_id": user.id, "session_id": "sess_me", "org_id": None,
                         "local": None}
    by_cookie = await http.get("/me", headers={"Cookie": f"__session={token}"})
    assert by_cookie.status_code == 200 and by_cookie.json()["user_id"] == user.id


async def test_me_with_the_plugin_headers(
    fake_clerk: FakeClerk, clerk_session_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serve(fake_clerk, monkeypatch) as (http, _):
        reply = await http.get("/me", headers=clerk_session_headers)
    assert reply.status_code == 200
    assert reply.json()["user_id"] == clerk_session_headers.user_id  # type: ignore[attr-defined]


async def test_webhooks_keep_the_local_table_in_step(
    fake: FakeClerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fake -> (loopback HTTP) -> the app's /webhooks/clerk -> its SQLite table."""
    from aiohttp import web

    from polling import wait_until

    async with serve(fake, monkeypatch) as (http, clerk):
        received: list[tuple[bytes, dict[str, str], int, dict[str, str]]] = []

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            headers = {k: v for k, v in request.headers.items() if k.lower().startswith("svix-")}
            reply = await http.post("/webhooks/clerk", content=body, headers=headers)
            received.append((body, headers, reply.status_code, reply.json()))
            return web.Response(status=reply.status_code, body=reply.content)

        hook_app = web.Application()
        hook_app.router.add_post("/", forward)
        runner = web.AppRunner(hook_app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        try:
            secret = fake.add_webhook_endpoint(f"http://127.0.0.1:{runner.addresses[0][1]}/")
            monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", secret)
            created = (await http.post("/users", json={"email_address": "hook@example.com",
                                                       "first_name": "Hook"})).json()
            await fake.webhooks.drain()
            token = fake.session_token(created["id"])
            me = (await http.get("/me", headers={"Authorization": f"Bearer {token}"})).json()
            assert me["local"] == {"id": created["id"], "email_address": "hook@example.com",
                                   "first_name": "Hook", "last_name": None}

            await clerk.users.update(created["id"], last_name="Lovelace")
            await fake.webhooks.drain()
            me = (await http.get("/me", headers={"Authorization": f"Bearer {token}"})).json()
            assert me["local"]["last_name"] == "Lovelace"

            # A retried delivery (same svix-id) is skipped, not applied twice.
            body, headers, _, _ = received[0]
            again = await http.post("/webhooks/clerk", content=body, headers=headers)
            assert again.json() == {"status": "duplicate"}
            me = (await http.get("/me", headers={"Authorization": f"Bearer {token}"})).json()
            assert me["local"]["last_name"] == "Lovelace"  # the old "created" did not win

            forged = await http.post("/webhooks/clerk", content=body.replace(b"Hook", b"Evil"),
                                     headers={**headers, "svix-id": "msg_forged"})
            assert forged.status_code == 400

            await clerk.users.delete(created["id"])
            await fake.webhooks.drain()
            await wait_until(lambda: len(received) == 3, what="three deliveries")
            assert [r[3]["status"] for r in received] == ["processed"] * 3
            assert app.state.local_users.get(created["id"]) is None
        finally:
            await runner.cleanup()
