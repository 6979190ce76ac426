"""Passwords, TOTP and backup codes, and billing credits in FakeClerk."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator

import pytest_asyncio

from clerk_async.testing import FakeClerk, ManualClock, totp_code

from spec_validation import Api, validated_api


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeClerk]:
    async with FakeClerk(require_identifier=False, seed=11, clock=ManualClock()) as server:
        yield server


@pytest_asyncio.fixture
async def api(fake: FakeClerk) -> AsyncIterator[Api]:
    async with validated_api(fake.base_url, fake.secret_key) as client:
        yield client


def test_totp_matches_rfc6238_vectors() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    # RFC 6238 appendix B (SHA1), last six digits.
    assert totp_code(secret, 59) == "287082"
    assert totp_code(secret, 1111111109) == "081804"
    assert totp_code(secret, 2000000000) == "279037"


async def test_verify_password(api: Api, fake: FakeClerk) -> None:
    uid = (await api.call("CreateUser", json={"password": "s3cret-pass"})).body["id"]
    assert fake.store.users[uid].password_hash != "s3cret-pass"
    reply = await api.call("VerifyPassword", uid, json={"password": "s3cret-pass"})
    assert reply.body == {"verified": True}
    reply = await api.call("VerifyPassword", uid, json={"password": "wrong"}, expect=422)
    assert reply.code == "incorrect_password"
    await api.call("VerifyPassword", uid, json={}, expect=422)
    await api.call("RemoveUserPassword", uid, json={"sign_out_of_other_sessions": True})
    reply = await api.call("VerifyPassword", uid, json={"password": "s3cret-pass"}, expect=400)
    assert reply.code == "password_not_set"


async def test_imported_password_digests(api: Api) -> None:
    salt, rounds = "pepper", 1000
    raw = hashlib.pbkdf2_hmac("sha256", b"imported!", salt.encode(), rounds)
    django = f"pbkdf2_sha256${rounds}${salt}${base64.b64encode(raw).decode()}"
    for hasher, digest in [
        ("pbkdf2_sha256_django", django),
        ("sha256", hashlib.sha256(b"imported!").hexdigest()),
        ("md5", hashlib.md5(b"imported!").hexdigest()),
    ]:
        body = (
            await api.call(
                "CreateUser", json={"password_digest": digest, "password_hasher": hasher}
            )
        ).body
        assert body["password_enabled"] is True
        await api.call("VerifyPassword", body["id"], json={"password": "imported!"})
        await api.call("VerifyPassword", body["id"], json={"password": "other"}, expect=422)
    # Clerk adds hashers over time: an unknown one is accepted, and the fake says
    # it cannot check it instead of calling the password wrong.
    body = (
        await api.call("CreateUser", json={"password_digest": "x", "password_hasher": "rot13"})
    ).body
    reply = await api.call("VerifyPassword", body["id"], json={"password": "x"}, expect=422)
    assert reply.code == "password_unverifiable"
    # A known hasher's digest must have the documented shape.
    reply = await api.call(
        "CreateUser", json={"password_digest": "abc", "password_hasher": "md5"}, expect=422
    )
    assert reply.code == "form_param_format_invalid"
    assert reply.body["errors"][0]["meta"] == {"param_name": "password_digest"}


async def test_totp_and_backup_codes(api: Api, fake: FakeClerk) -> None:
    secret = "JBSWY3DPEHPK3PXP"
    user = (
        await api.call(
            "CreateUser", json={"totp_secret": secret, "backup_codes": ["a1b2c3", "d4e5f6"]}
        )
    ).body
    uid = user["id"]
    assert user["totp_enabled"] and user["backup_code_enabled"] and user["two_factor_enabled"]
    assert user["mfa_enabled_at"] is not None
    now = fake.clock()
    for at in (now, now - 30, now + 30):  # one step of drift either way is accepted
        reply = await api.call("VerifyTOTP", uid, json={"code": totp_code(secret, at)})
        assert reply.body == {"verified": True, "code_type": "totp"}
    reply = await api.call(
        "VerifyTOTP", uid, json={"code": totp_code(secret, now - 90)}, expect=422
    )
    assert reply.code == "form_code_incorrect"
    reply = await api.call("VerifyTOTP", uid, json={"code": "a1b2c3"})
    assert reply.body["code_type"] == "backup_code"
    await api.call("VerifyTOTP", uid, json={"code": "a1b2c3"}, expect=422)  # used up
    await api.call("DeleteBackupCode", uid)
    assert (await api.call("GetUser", uid)).body["backup_code_enabled"] is False
    await api.call("VerifyTOTP", uid, json={"code": "d4e5f6"}, expect=422)
    body = (await api.call("DeleteTOTP", uid)).body
    assert body == {"user_id": uid}
    user = (await api.call("GetUser", uid)).body
    assert not user["totp_enabled"] and not user["two_factor_enabled"]
    assert user["mfa_disabled_at"] is not None
    reply = await api.call("VerifyTOTP", uid, json={"code": "123456"}, expect=400)
    assert reply.code == "totp_not_enabled"


async def test_create_totp_then_verify(api: Api, fake: FakeClerk) -> None:
    uid = (await api.call("CreateUser", json={"email_address": ["t@example.com"]})).body["id"]
    totp = (await api.call("CreateUserTOTP", uid)).body
    assert totp["object"] == "totp" and totp["verified"] is False
    assert totp["uri"].startswith("otpauth://totp/") and totp["secret"] in totp["uri"]
    assert (await api.call("GetUser", uid)).body["totp_enabled"] is False
    code = totp_code(totp["secret"], fake.clock())
    await api.call("VerifyTOTP", uid, json={"code": code})
    assert (await api.call("GetUser", uid)).body["totp_enabled"] is True
    await api.call("DisableMFA", uid)
    assert (await api.call("GetUser", uid)).body["two_factor_enabled"] is False


async def test_password_compromised(api: Api, fake: FakeClerk) -> None:
    uid = (await api.call("CreateUser", json={"password": "long enough"})).body["id"]
    await api.call("SetUserPasswordCompromised", uid, json={})
    assert fake.store.users[uid].password_compromised
    await api.call("UnsetUserPasswordCompromised", uid)
    assert not fake.store.users[uid].password_compromised


async def test_credit_adjustments_are_idempotent(api: Api) -> None:
    uid = (await api.call("CreateUser", json={})).body["id"]
    add = {"amount": 1250, "action": "increase", "idempotency_key": "grant-1", "note": "hi"}
    first = (await api.call("AdjustUserBillingCreditBalance", uid, json=add)).body
    again = (await api.call("AdjustUserBillingCreditBalance", uid, json=add)).body
    assert first == again
    balance = (await api.call("GetUserBillingCreditBalance", uid)).body
    assert balance["balance"]["amount"] == 1250
    reply = await api.call(
        "AdjustUserBillingCreditBalance", uid, expect=409, json={**add, "amount": 1}
    )
    assert reply.code == "idempotency_key_reused"
    await api.call(
        "AdjustUserBillingCreditBalance",
        uid,
        expect=422,
        json={"amount": 5000, "action": "decrease", "idempotency_key": "k2"},
    )
    await api.call(
        "AdjustUserBillingCreditBalance", uid, expect=422, json={"amount": 5, "action": "increase"}
    )
    await api.call(
        "AdjustUserBillingCreditBalance",
        uid,
        json={"amount": 250, "action": "decrease", "idempotency_key": "k3"},
    )
    balance = (await api.call("GetUserBillingCreditBalance", uid)).body
    assert balance["balance"]["amount_formatted"] == "10.00"
    sub = (await api.call("GetUserBillingSubscription", uid)).body
    assert sub["status"] == "active" and sub["subscription_items"]


async def test_oauth_devices_and_orgs(api: Api, fake: FakeClerk) -> None:
    uid = (await api.call("CreateUser", json={"email_address": ["o@example.com"]})).body["id"]
    assert (await api.call("GetOAuthAccessToken", uid, "oauth_github")).body == []
    token = fake.store.seed_oauth_access_token(uid, "oauth_github", token="gho_abc")
    body = (await api.call("GetOAuthAccessToken", uid, "oauth_github")).body
    assert [t["token"] for t in body] == ["gho_abc"]
    assert body[0]["external_account_id"] == token.external_account_id
    user = (await api.call("GetUser", uid)).body
    assert user["external_accounts"][0]["provider"] == "oauth_github"
    await api.call("DeleteExternalAccount", uid, token.external_account_id)
    assert (await api.call("GetOAuthAccessToken", uid, "oauth_github")).body == []
    devices = [fake.store.seed_trusted_device(uid) for _ in range(2)]
    revoked = (await api.call("RevokeUserTrustedDevice", uid, devices[0].id)).body
    assert revoked["status"] == "revoked"
    listed = (await api.call("ListUserTrustedDevices", uid)).body
    assert listed["total_count"] == 1 and listed["data"][0]["id"] == devices[1].id
    await api.call("RevokeUserTrustedDevice", uid, devices[0].id, expect=404)
    orgs = [fake.store.seed_organization(f"Org {i}") for i in range(3)]
    for org in orgs:
        fake.store.seed_organization_membership(uid, org.id)
    page = (await api.call("UsersGetOrganizationMemberships", uid, params={"limit": "2"})).body
    assert page["total_count"] == 3 and len(page["data"]) == 2
    fake.store.seed_organization_invitation(uid, orgs[0].id, status="accepted")
    invites = await api.call("UsersGetOrganizationInvitations", uid, params={"status": "pending"})
    assert invites.body["total_count"] == 0
    everyone = (await api.call("InstanceGetOrganizationMemberships")).body
    assert everyone["total_count"] == 3
    await api.call("InstanceGetOrganizationMemberships", params={"order_by": "x"}, expect=422)
    await api.call("DeleteUser", uid)
    assert (await api.call("InstanceGetOrganizationMemberships")).body["total_count"] == 0
