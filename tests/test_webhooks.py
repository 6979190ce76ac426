"""verify_webhook against the reference Standard Webhooks implementation, and
FakeClerk's signed deliveries to a receiver on loopback."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import pytest
import pytest_asyncio
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from clerk_async import (
    AsyncClerk,
    ClerkDecodeError,
    DeletedObject,
    User,
    WebhookVerificationError,
)
from clerk_async.testing import FakeClerk
from clerk_async.webhooks import WebhookEvent, verify_webhook

SECRET = "whsec_" + base64.b64encode(b"a test signing secret, 32 bytes!").decode()
OTHER = "whsec_" + base64.b64encode(b"another secret entirely, 32 byte").decode()
NOW = 1_800_000_000.0

USER = {
    "id": "user_1", "object": "user", "username": None, "first_name": "Ada", "last_name": None,
    "image_url": "https://img.example/u.png", "has_image": False,
    "primary_email_address_id": None, "primary_phone_number_id": None,
    "primary_web3_wallet_id": None, "password_enabled": False, "two_factor_enabled": False,
    "totp_enabled": False, "backup_code_enabled": False, "email_addresses": [],
    "phone_numbers": [], "web3_wallets": [], "passkeys": [], "external_accounts": [],
    "saml_accounts": [], "enterprise_accounts": [], "public_metadata": {},
    "private_metadata": {}, "unsafe_metadata": {}, "external_id": None,
    "last_sign_in_at": None, "banned": False, "locked": False,
    "lockout_expires_in_seconds": None, "verification_attempts_remaining": 100,
    "created_at": 1, "updated_at": 2, "delete_self_enabled": True,
    "create_organization_enabled": True, "last_active_at": None, "mfa_enabled_at": None,
    "mfa_disabled_at": None, "legal_accepted_at": None, "profile_image_url": "",
}


def _signed(
    payload: dict[str, object], *, secret: str = SECRET, at: float = NOW, msg_id: str = "msg_1",
    prefix: str = "webhook-",
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    stamp = datetime.fromtimestamp(at, timezone.utc)
    sig = Webhook(secret).sign(msg_id, stamp, body)
    return body, {f"{prefix}id": msg_id, f"{prefix}timestamp": str(int(at)),
                  f"{prefix}signature": sig}


def _event(event_type: str, data: object) -> dict[str, object]:
    return {"type": event_type, "object": "event", "data": data, "timestamp": 1_799_999_999_000,
            "instance_id": "ins_1"}


def _verify(body: bytes, headers: object, **options: object) -> WebhookEvent:
    return verify_webhook(body, headers, secret=SECRET, clock=lambda: NOW, **options)  # type: ignore[arg-type]


def _rejected(body: bytes, headers: object, **options: object) -> str:
    with pytest.raises(WebhookVerificationError) as caught:
        _verify(body, headers, **options)
    message = str(caught.value) + repr(caught.value)
    assert SECRET not in message and SECRET[6:] not in message
    return str(caught.value)


@pytest.mark.parametrize("prefix", ["webhook-", "svix-", "SVIX-"])
def test_reference_signatures_verify_under_either_header_names(prefix: str) -> None:
    body, headers = _signed(_event("user.created", USER), prefix=prefix)
    event = _verify(body, headers)
    assert (event.type, event.id, event.timestamp, event.instance_id) == (
        "user.created", "msg_1", 1_799_999_999_000, "ins_1"
    )
    assert isinstance(event.data, User) and event.data.id == "user_1"


def test_data_is_a_user_a_deleted_object_or_a_dict() -> None:
    body, headers = _signed(_event("user.updated", USER))
    assert isinstance(_verify(body, headers).data, User)
    gone = {"object": "user", "id": "user_1", "deleted": True}
    body, headers = _signed(_event("user.deleted", gone))
    deleted = _verify(body, headers).data
    assert isinstance(deleted, DeletedObject) and (deleted.id, deleted.deleted) == ("user_1", True)
    session = {"object": "session", "id": "sess_1", "user_id": "user_1"}
    body, headers = _signed(_event("session.created", session))
    assert _verify(body, headers).data == session


def test_a_signed_user_event_that_is_not_a_user_is_a_decode_error() -> None:
    body, headers = _signed(_event("user.created", {"object": "user", "id": 5}))
    with pytest.raises(ClerkDecodeError):
        _verify(body, headers)


def test_one_of_several_signatures_is_enough() -> None:
    body, headers = _signed(_event("user.created", USER))
    _, wrong = _signed(_event("user.created", USER), secret=OTHER)
    headers["webhook-signature"] = f"v1,bm9wZQ== {wrong['webhook-signature']} " + (
        headers["webhook-signature"]
    )
    assert _verify(body, headers).type == "user.created"
    headers["webhook-signature"] = f"v2,x {wrong['webhook-signature']}"
    assert "no webhook signature matches" in _rejected(body, headers)


def test_tampered_body_wrong_secret_missing_headers() -> None:
    body, headers = _signed(_event("user.created", USER))
    assert "no webhook signature" in _rejected(body.replace(b"Ada", b"Eve"), headers)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, secret=OTHER, clock=lambda: NOW)
    for name in list(headers):
        partial = {k: v for k, v in headers.items() if k != name}
        assert "lacks" in _rejected(body, partial)
    assert "integer" in _rejected(body, {**headers, "webhook-timestamp": "soon"})


def test_the_timestamp_tolerance_holds_both_ways() -> None:
    for offset in (-299, 299):
        body, headers = _signed(_event("user.created", USER), at=NOW + offset)
        assert _verify(body, headers).type == "user.created"
    body, headers = _signed(_event("user.created", USER), at=NOW - 301)
    assert "old" in _rejected(body, headers)
    body, headers = _signed(_event("user.created", USER), at=NOW + 301)
    assert "future" in _rejected(body, headers)
    assert _verify(body, headers, tolerance=400).type == "user.created"


def test_secret_from_the_environment_and_bad_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    body, headers = _signed(_event("user.created", USER))
    monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)
    assert verify_webhook(body, headers, clock=lambda: NOW).id == "msg_1"
    monkeypatch.delenv("CLERK_WEBHOOK_SIGNING_SECRET")
    with pytest.raises(ValueError, match="secret"):
        verify_webhook(body, headers)
    with pytest.raises(TypeError, match="body"):
        verify_webhook(json.loads(body), headers, secret=SECRET)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tolerance"):
        verify_webhook(body, headers, secret=SECRET, tolerance=-1)
    with pytest.raises(WebhookVerificationError, match="base64"):
        verify_webhook(body, headers, secret="whsec_not base64!", clock=lambda: NOW)
    # A str body is taken as its UTF-8 bytes, as the reference does.
    assert _verify(body.decode(), headers).type == "user.created"


# -- FakeClerk's deliveries ---------------------------------------------------------------


class Receiver:
    """An aiohttp endpoint on loopback that records deliveries, failing the first N."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[bytes, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((await request.read(), dict(request.headers)))
        if self.fail_first:
            self.fail_first -= 1
            return web.Response(status=503)
        return web.Response(status=204)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/clerk", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield rec, f"http://127.0.0.1:{port}/hooks/clerk"
    await runner.cleanup()


def _as_standard(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower().replace("svix-", "webhook-"): v for k, v in headers.items()}


async def test_fake_deliveries_verify_with_the_reference_and_with_ours(
    receiver: tuple[Receiver, str],
) -> None:
    rec, url = receiver
    async with FakeClerk() as fake:
        secret = fake.add_webhook_endpoint(url)
        assert secret.startswith("whsec_")
        async with AsyncClerk(
            secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None
        ) as clerk:
            user = await clerk.users.create(email_address=["ada@example.com"])
            await clerk.users.update(user.id, first_name="Ada")
            await clerk.users.delete(user.id)
        await fake.webhooks.drain()
    types = []
    for body, headers in rec.received:
        reference = Webhook(secret).verify(body, _as_standard(headers))
        ours = verify_webhook(body, headers, secret=secret)
        assert ours.type == reference["type"] and ours.id == headers["svix-id"]
        types.append(ours.type)
        if ours.type == "user.deleted":
            assert isinstance(ours.data, DeletedObject) and ours.data.id == user.id
        else:
            assert isinstance(ours.data, User) and ours.data.id == user.id
    assert types == ["user.created", "user.updated", "user.deleted"]
    assert rec.received[1][0] and json.loads(rec.received[1][0])["data"]["first_name"] == "Ada"


async def test_fake_retries_a_failed_delivery_with_the_same_id(
    receiver: tuple[Receiver, str],
) -> None:
    rec, url = receiver
    rec.fail_first = 2
    async with FakeClerk() as fake:
        fake.webhooks.retry_delays = (0, 0, 0)
        secret = fake.add_webhook_endpoint(url, secret=SECRET)
        assert secret == SECRET
        async with AsyncClerk(
            secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None
        ) as clerk:
            await clerk.users.create(email_address=["retry@example.com"])
        await fake.webhooks.drain()
        (delivery,) = fake.webhooks.deliveries
        assert delivery.statuses == [503, 503, 204] and delivery.delivered
    assert len({h["svix-id"] for _, h in rec.received}) == 1 and len(rec.received) == 3


async def test_fake_gives_up_after_its_retries_and_reads_nothing_back(
    receiver: tuple[Receiver, str],
) -> None:
    rec, url = receiver
    rec.fail_first = 99
    async with FakeClerk() as fake:
        fake.webhooks.retry_delays = (0,)
        fake.add_webhook_endpoint(url)
        fake.add_webhook_endpoint("http://127.0.0.1:9/closed")
        with pytest.raises(ValueError, match="url"):
            fake.add_webhook_endpoint("ftp://example.com")
        async with AsyncClerk(
            secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None
        ) as clerk:
            await clerk.users.create(email_address=["down@example.com"])
        await fake.webhooks.drain()
        statuses = {d.url: d.statuses for d in fake.webhooks.deliveries}
    assert statuses == {"http://127.0.0.1:9/closed": [None, None], url: [503, 503]}


async def test_cli_serve_with_a_webhook(receiver: tuple[Receiver, str]) -> None:
    import asyncio
    import os
    import subprocess
    import sys

    import aiohttp

    from polling import wait_until

    rec, url = receiver
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clerk_async.testing", "serve", "--port", "0",
        "--secret-key", "sk_test_cli_hooks_1", "--webhook", url,
        stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 10)).decode() for _ in range(4)]
        base_url = lines[0].split("base_url: ")[1].strip()
        (hook,) = [line for line in lines if "webhook:" in line]
        secret = hook.split("secret: ")[1].strip()
        headers = {"Authorization": "Bearer sk_test_cli_hooks_1"}
        async with aiohttp.ClientSession(headers=headers) as client, client.post(
            base_url + "/users", json={"email_address": ["cli@example.com"]}
        ) as resp:
            assert resp.status == 200
        await wait_until(lambda: bool(rec.received), what="the CLI fake's delivery")
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    body, sent = rec.received[0]
    assert verify_webhook(body, sent, secret=secret).type == "user.created"


def test_bodies_of_other_shapes() -> None:
    body, headers = _signed(_event("user.created", USER))
    assert _verify(bytearray(body), headers).type == "user.created"
    assert _verify(memoryview(body), headers).type == "user.created"
    for raw in (b"not json", b"[1, 2]", b'{"data": {}}'):
        _, signed = _signed({}, msg_id="msg_shape")
        signed["webhook-signature"] = _signed_raw(raw)
        with pytest.raises(WebhookVerificationError, match="body"):
            _verify(raw, signed)


def _signed_raw(raw: bytes) -> str:
    return Webhook(SECRET).sign("msg_shape", datetime.fromtimestamp(NOW, timezone.utc), raw)


def test_secrets_that_cannot_be_keys() -> None:
    body, headers = _signed(_event("user.created", USER))
    with pytest.raises(TypeError, match="secret"):
        verify_webhook(body, headers, secret=b"whsec_x", clock=lambda: NOW)  # type: ignore[arg-type]
    with pytest.raises(WebhookVerificationError, match="empty"):
        verify_webhook(body, headers, secret="whsec_", clock=lambda: NOW)
