"""examples/django_project: the real project against a FakeClerk served from a
background thread, through Django's test client, a threaded WSGI server and
``call_command``."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from django.core.management import CommandError, call_command
from django.test import Client
from django.test.utils import setup_test_environment, teardown_test_environment

from clerk_async.testing import FakeClerk
from clerk_sync import Clerk

PROJECT = Path(__file__).resolve().parent.parent / "examples" / "django_project"
PORTAL_THREAD = "clerk-sync-portal"  # the name clerk_sync gives its loop thread


class Served:
    """The FakeClerk, and a way to touch its store from its own loop thread."""

    def __init__(self, fake: FakeClerk, portal: BlockingPortal) -> None:
        self.fake = fake
        self.portal = portal

    def add_user(self, **fields: Any) -> str:
        user = self.portal.call(lambda: self.fake.store.add_user(**fields))
        return str(user.id)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with start_blocking_portal() as portal:
        # An sk_live_ key makes the clients pace to 1000 requests / 10 s instead
        # of a development instance's 100, which keeps this module quick.
        fake = FakeClerk(secret_key="sk_live_fake_django_example")
        portal.call(fake.start)
        try:
            yield Served(fake, portal)
        finally:
            portal.call(fake.aclose)


@pytest.fixture(scope="module")
def site(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clerk]:
    """The project set up as `manage.py` would, with the env pointing at the fake.

    The env must be set before the views are imported: their module-level
    `Clerk()` reads CLERK_SECRET_KEY and CLERK_API_URL at import time.
    """
    env = {
        "CLERK_SECRET_KEY": served.fake.secret_key,
        "CLERK_API_URL": served.fake.base_url,
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "DJANGO_DB_PATH": str(tmp_path_factory.mktemp("django_db") / "db.sqlite3"),
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    sys.path.insert(0, str(PROJECT))
    django.setup()
    setup_test_environment()  # lets the test client's "testserver" host in
    call_command("migrate", verbosity=0)  # the webhook-synced LocalUser table
    from clerkusers.clerk import clerk

    assert clerk.base_url == served.fake.base_url
    try:
        yield clerk
    finally:
        clerk.close()
        teardown_test_environment()
        sys.path.remove(str(PROJECT))
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def client(site: Clerk) -> Client:
    return Client()


def portal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == PORTAL_THREAD]


# -- views through the test client ----------------------------------------------------------


def test_create_list_and_get(client: Client, served: Served) -> None:
    created = client.post("/users/", {"email_address": "grace@example.com",
                                      "first_name": "Grace", "public_metadata": {"team": "a"}},
                          content_type="application/json")
    assert created.status_code == 201, created.content
    user = created.json()
    assert user["email_address"] == "grace@example.com" and user["first_name"] == "Grace"
    assert user["public_metadata"] == {"team": "a"}

    detail = client.get(f"/users/{user['id']}/")
    assert detail.status_code == 200 and detail.json() == user

    found = client.get("/users/", {"query": "grace@example.com", "limit": 5}).json()
    assert [u["id"] for u in found["data"]] == [user["id"]]
    assert found["limit"] == 5 and found["next_offset"] is None


def test_list_pages(client: Client, served: Served) -> None:
    ids = {served.add_user(email_address=f"page{i}@example.com") for i in range(3)}
    first = client.get("/users/", {"query": "page", "limit": 2}).json()
    assert first["next_offset"] == 2
    second = client.get("/users/", {"query": "page", "limit": 2, "offset": 2}).json()
    assert second["next_offset"] is None
    assert {u["id"] for u in first["data"] + second["data"]} == ids


def test_errors(client: Client, served: Served) -> None:
    missing = client.get("/users/user_missing/")
    assert missing.status_code == 404 and missing.json()["code"] == "resource_not_found"

    served.add_user(email_address="taken@example.com")
    taken = client.post("/users/", {"email_address": "taken@example.com"},
                        content_type="application/json")
    assert taken.status_code == 422 and taken.json()["code"] == "form_identifier_exists"

    assert client.get("/users/", {"limit": "abc"}).status_code == 400
    assert client.get("/users/", {"limit": 1000}).status_code == 400  # the SDK says 1..500
    assert client.get("/users/not an id/").status_code == 400
    assert client.post("/users/", "{", content_type="application/json").status_code == 400
    assert client.delete("/users/").status_code == 405

    served.fake.inject_fault("CreateUser", "500")  # not retried: Clerk may have acted
    failed = client.post("/users/", {"email_address": "f@example.com"},
                         content_type="application/json")
    assert failed.status_code == 502


def test_async_view_uses_a_per_request_async_client(client: Client, served: Served) -> None:
    newest = served.add_user(email_address="newest@example.com")
    for _ in range(2):  # each request runs in a new event loop: each needs its own client
        response = client.get("/users/overview/")
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == served.fake.stats.users
        assert body["newest"][0]["id"] == newest and len(body["newest"]) <= 5


# -- the WSGI app under a threaded server ----------------------------------------------------


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def fetch(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.load(err)


def test_threaded_wsgi_server_shares_one_portal(site: Clerk, served: Served) -> None:
    from mysite.wsgi import application

    ids = [served.add_user(email_address=f"wsgi{i}@example.com", first_name=f"W{i}")
           for i in range(24)]
    server = make_server("127.0.0.1", 0, application, server_class=ThreadingWSGIServer,
                         handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="wsgi-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    urls = [f"{base}/users/{user_id}/" for user_id in ids] + [f"{base}/users/overview/"] * 8
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            results = list(pool.map(fetch, urls))
            threads_during = len(portal_threads())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    assert len(results) == 32
    for user_id, (status, body) in zip(ids, results[:24], strict=True):
        assert status == 200 and body["id"] == user_id
    for status, body in results[24:]:
        assert status == 200 and body["total"] == served.fake.stats.users
    # 24 sync views on as many threads, one loop thread between them all.
    assert threads_during == 1
    assert len(portal_threads()) == 1
    assert site._runner._loop is not None


# -- the management command ------------------------------------------------------------------


def test_import_users_command(site: Clerk, served: Served, tmp_path: Path) -> None:
    rows = [{"external_id": f"cmd-{i}", "email_address": [f"cmd{i}@example.com"],
             "first_name": "Imported", "skip_password_requirement": True} for i in range(5)]
    file = tmp_path / "users.jsonl"
    file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    journal = tmp_path / "users.journal"
    out = io.StringIO()

    call_command("import_users", str(file), "--journal", str(journal), stdout=out)
    assert "created 5," in out.getvalue() and "5/5" in out.getvalue()
    for i in range(5):
        user = served.portal.call(served.fake.store.find, f"cmd{i}@example.com")
        assert user is not None and user.external_id == f"cmd-{i}"

    # A rerun with the journal sends nothing.
    requests = sum(served.fake.stats.requests.values())
    call_command("import_users", str(file), "--journal", str(journal), stdout=io.StringIO())
    assert sum(served.fake.stats.requests.values()) == requests


def test_import_users_command_reports_failed_rows(site: Clerk, tmp_path: Path) -> None:
    file = tmp_path / "bad.jsonl"
    file.write_text('{"email_address": ["ok@example.com"]}\n{"first_name": 5}\n')
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 of 2 rows failed"):
        call_command("import_users", str(file), stdout=io.StringIO(), stderr=err)
    assert "row 2" in err.getvalue()
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_users", str(tmp_path / "missing.jsonl"))


# -- signed in, and webhooks into the local table -----------------------------------------


def test_me_needs_a_valid_session_token(client: Client, served: Served) -> None:
    missing = client.get("/me/")
    assert missing.status_code == 401 and missing["WWW-Authenticate"] == "Bearer"
    bad = client.get("/me/", headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad["WWW-Authenticate"]
    empty = client.get("/me/", headers={"Authorization": "Bearer "})
    assert empty.status_code == 401
    user_id = served.add_user(email_address="me.django@example.com")
    token = served.portal.call(lambda: served.fake.session_token(user_id, session_id="sess_dj"))
    ok = client.get("/me/", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200, ok.content
    assert ok.json() == {"user_id": user_id, "session_id": "sess_dj", "org_id": None,
                         "local": None}
    client.cookies["__session"] = token
    try:
        assert client.get("/me/").json()["user_id"] == user_id
    finally:
        del client.cookies["__session"]


def test_webhooks_keep_the_local_table_in_step(
    site: Clerk, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fake -> real HTTP -> the project's threaded WSGI server -> LocalUser rows."""
    from clerkusers.models import LocalUser
    from django.core.wsgi import get_wsgi_application

    class Threaded(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=Threaded,
                         handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake = served.fake
    try:
        url = f"http://127.0.0.1:{server.server_port}/webhooks/clerk/"
        secret = served.portal.call(lambda: fake.add_webhook_endpoint(url))
        monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", secret)
        user = site.users.create(email_address=["hook.django@example.com"], first_name="Hook")
        site.users.update(user.id, last_name="Hopper")
        served.portal.call(fake.webhooks.drain)
        row = LocalUser.objects.get(clerk_id=user.id)
        assert (row.email_address, row.first_name, row.last_name) == (
            "hook.django@example.com", "Hook", "Hopper"
        )
        token = served.portal.call(lambda: fake.session_token(user.id))
        me = Client().get("/me/", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["local"] == {"email_address": "hook.django@example.com",
                               "first_name": "Hook", "last_name": "Hopper"}

        # Replaying a delivery (same svix-id, valid signature) changes nothing.
        created = [d for d in fake.webhooks.deliveries if d.type == "user.created"][-1]
        assert created.delivered
        body = json.dumps({"type": "session.created", "object": "event", "data": {}}).encode()
        from clerk_async._webhook_signature import secret_key, signature

        stamp = int(fake.clock())
        headers = {"svix-id": created.message_id, "svix-timestamp": str(stamp),
                   "svix-signature": "v1," + signature(secret_key(secret), created.message_id,
                                                       stamp, body)}
        replay = Client().post("/webhooks/clerk/", body, content_type="application/json",
                               headers=headers)
        assert replay.json() == {"status": "duplicate"}
        forged = Client().post("/webhooks/clerk/", body, content_type="application/json",
                               headers={**headers, "svix-id": "msg_new"})
        assert forged.status_code == 400

        site.users.delete(user.id)
        served.portal.call(fake.webhooks.drain)
        assert not LocalUser.objects.filter(clerk_id=user.id).exists()
        statuses = [d.statuses[-1] for d in fake.webhooks.deliveries if d.url == url]
        assert statuses == [200, 200, 200]
    finally:
        fake.webhooks.endpoints.clear()
        server.shutdown()
        server.server_close()


# -- clerk_sync.django itself, on the project's settings ----------------------------------


def _token(served: Served, user_id: str = "user_mw", **options: Any) -> str:
    return str(served.portal.call(lambda: served.fake.session_token(user_id, **options)))


def test_the_middleware_verifies_only_when_asked(
    site: Clerk, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.http import HttpResponse
    from django.test import RequestFactory

    import clerk_sync.django as integration

    calls: list[str] = []
    real = integration._verify
    monkeypatch.setattr(integration, "_verify", lambda r, t: calls.append(t) or real(r, t))
    seen: dict[str, Any] = {}

    def view(request: Any) -> HttpResponse:
        seen["session"] = request.clerk_session
        return HttpResponse("ok")

    middleware = integration.ClerkSessionMiddleware(view)
    factory = RequestFactory()
    middleware(factory.get("/", headers={"Authorization": f"Bearer {_token(served)}"}))
    assert calls == []  # never looked at, never verified
    assert seen["session"].user_id == "user_mw" and len(calls) == 1
    assert bool(seen["session"]) and len(calls) == 1  # verified once

    middleware(factory.get("/"))
    assert seen["session"] is None

    expired = _token(served, expires_in=-60)
    request = factory.get("/", headers={"Authorization": f"Bearer {expired}"})
    middleware(request)
    assert not seen["session"]
    assert request.clerk_session_error.reason == "expired"
    assert expired not in repr(request.clerk_session_error)


def test_the_decorator_guards_async_views_too(site: Clerk, served: Served) -> None:
    import asyncio

    from django.http import HttpResponse
    from django.test import RequestFactory

    from clerk_sync.django import ClerkSessionMiddleware, clerk_session_required

    @clerk_session_required
    async def view(request: Any) -> HttpResponse:
        return HttpResponse(request.clerk_session.user_id)

    def through_middleware(request: Any) -> Any:
        ClerkSessionMiddleware(lambda r: HttpResponse())(request)
        return asyncio.run(view(request))

    factory = RequestFactory()
    ok = through_middleware(factory.get("/", HTTP_AUTHORIZATION=f"Bearer {_token(served)}"))
    assert (ok.status_code, ok.content) == (200, b"user_mw")
    assert through_middleware(factory.get("/")).status_code == 401
    with pytest.raises(RuntimeError, match="ClerkSessionMiddleware"):
        asyncio.run(view(factory.get("/")))


def test_the_drf_authentication_class(site: Clerk, served: Served) -> None:
    from django.test import RequestFactory
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework.request import Request

    from clerk_sync.django import ClerkAuthentication

    auth = ClerkAuthentication()
    factory = RequestFactory()
    signed = Request(factory.get("/", HTTP_AUTHORIZATION=f"Bearer {_token(served, 'user_drf')}"))
    found = auth.authenticate(signed)
    assert found is not None
    user, claims = found
    assert (user.id, user.is_authenticated, claims.user_id) == ("user_drf", True, "user_drf")
    assert auth.authenticate(Request(factory.get("/"))) is None
    with pytest.raises(AuthenticationFailed, match="malformed"):
        auth.authenticate(Request(factory.get("/", HTTP_AUTHORIZATION="Bearer garbage")))
    assert auth.authenticate_header(signed) == "Bearer"
