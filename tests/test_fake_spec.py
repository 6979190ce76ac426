"""Every operation the fake serves answers with bodies that match Clerk's spec."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from clerk_async.testing import OPERATIONS, FakeClerk, totp_code

from spec_validation import Api, load_validator, validated_api


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeClerk]:
    async with FakeClerk(seed=7) as server:
        yield server


@pytest_asyncio.fixture
async def api(fake: FakeClerk) -> AsyncIterator[Api]:
    async with validated_api(fake.base_url, fake.secret_key) as client:
        yield client


def test_routes_match_spec_operations() -> None:
    spec = load_validator()
    assert len(OPERATIONS) == 38  # the 37 user operations and GetJWKS
    assert spec.operations.keys() >= OPERATIONS


async def test_tour_of_every_operation(api: Api, fake: FakeClerk) -> None:
    call = api.call
    user = (
        await call(
            "CreateUser",
            json={
                "email_address": ["ada@example.com", "ada2@example.com"],
                "phone_number": ["+15555550100"],
                "web3_wallet": ["0x" + "ab" * 20],
                "username": "ada_l",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "password": "correct horse",
                "external_id": "ext-1",
                "backup_codes": ["111111", "222222"],
                "public_metadata": {"a": 1},
            },
        )
    ).body
    uid = user["id"]
    other = (await call("CreateUser", json={"email_address": ["bob@example.com"]})).body
    await call("GetUserList", params={"limit": "5"})
    await call("GetUsersCount", params={"query": "ada"})
    await call("GetUser", uid)
    await call("UpdateUser", uid, json={"first_name": "Augusta", "username": None})
    await call("BanUser", uid)
    await call("UnbanUser", uid)
    await call("UsersBan", json={"user_ids": [uid, other["id"]]})
    await call("UsersUnban", json={"user_ids": [uid]})
    await call("LockUser", uid)
    await call("UnlockUser", uid)
    form = aiohttp.FormData()
    form.add_field("file", b"\x89PNG fake", filename="me.png", content_type="image/png")
    await call("SetUserProfileImage", uid, data=form)
    await call("DeleteUserProfileImage", uid)
    await call("UpdateUserMetadata", uid, json={"private_metadata": {"k": {"x": 1}}})
    await call("ReplaceUserMetadata", uid, json={"unsafe_metadata": {"z": True}})
    await call("GetUserBillingSubscription", uid)
    await call("GetUserBillingCreditBalance", uid)
    await call(
        "AdjustUserBillingCreditBalance",
        uid,
        json={"amount": 500, "action": "increase", "idempotency_key": "k1"},
    )
    fake.store.seed_oauth_access_token(uid, "oauth_google")
    await call("GetOAuthAccessToken", uid, "oauth_google")
    org = fake.store.seed_organization("Acme Inc")
    fake.store.seed_organization_membership(uid, org.id, role="org:admin")
    fake.store.seed_organization_invitation(uid, org.id)
    await call("UsersGetOrganizationMemberships", uid)
    await call("UsersGetOrganizationInvitations", uid, params={"status": "pending"})
    await call("InstanceGetOrganizationMemberships", params={"order_by": "-email_address"})
    await call("VerifyPassword", uid, json={"password": "correct horse"})
    await call("SetUserPasswordCompromised", uid, json={"revoke_all_sessions": True})
    await call("UnsetUserPasswordCompromised", uid)
    await call("RemoveUserPassword", uid, json={})
    totp = (await call("CreateUserTOTP", uid)).body
    code = totp_code(totp["secret"], fake.clock())
    assert (await call("VerifyTOTP", uid, json={"code": code})).body["code_type"] == "totp"
    await call("DeleteBackupCode", uid)
    await call("DeleteTOTP", uid)
    await call("DisableMFA", uid)
    passkey = fake.store.seed_passkey(uid)
    await call("UserPasskeyDelete", uid, passkey.id)
    await call("UserWeb3WalletDelete", uid, user["web3_wallets"][0]["id"])
    await call("DeleteExternalAccount", uid, fake.store.users[uid].external_accounts[0].id)
    device = fake.store.seed_trusted_device(uid, name="Ada's phone")
    await call("ListUserTrustedDevices", uid)
    await call("RevokeUserTrustedDevice", uid, device.id)
    await call("DeleteUser", other["id"])
    assert (await call("GetJWKS")).body["keys"][0]["kid"] == fake.tokens.kid

    successes = {op for op, status in api.spec.seen if status == 200}
    assert successes >= OPERATIONS, sorted(OPERATIONS - successes)


async def test_errors_of_every_operation_match_spec(api: Api) -> None:
    """Unknown ids give a Clerk-shaped 404 from every per-user operation."""
    for op in sorted(OPERATIONS):
        method, path, _ = api.spec.operations[op]
        if "{user_id}" not in path:
            continue
        args = ["user_missing"] + ["x"] * (path.count("{") - 1)
        reply = await api.call(op, *args, expect=None, json={} if method == "POST" else None)
        assert reply.status in (404, 422, 400), (op, reply)
        if reply.status == 404:
            assert reply.code == "resource_not_found"


async def test_unauthorized(api: Api) -> None:
    reply = await api.call("GetUserList", expect=401, headers={"Authorization": "Bearer nope"})
    assert reply.code == "authentication_invalid"
    async with aiohttp.ClientSession() as bare:
        reply = await Api(bare, api.base_url, api.spec).call("GetUsersCount", expect=401)
        assert reply.code == "authentication_invalid"
