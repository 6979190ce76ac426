"""AsyncClerk end to end against FakeClerk over real loopback sockets."""

from __future__ import annotations

import time

import pytest

from clerk_async import (
    AsyncClerk,
    AuthenticationError,
    ClerkConnectionError,
    NotFoundError,
    RetryPolicy,
    UnprocessableEntityError,
    User,
)
from clerk_async.testing import FakeClerk, totp_code


async def test_create_get_list_count_update_delete(clerk: AsyncClerk) -> None:
    created = await clerk.users.create(
        email_address=["ada@example.com"], first_name="Ada", last_name="Lovelace",
        username="ada_l", external_id="ext_1", public_metadata={"plan": "pro"},
        password="correct horse battery staple",
    )
    assert isinstance(created, User)
    assert created.id.startswith("user_")
    assert created.email_addresses[0].email_address == "ada@example.com"
    assert created.public_metadata == {"plan": "pro"}
    assert created.password_enabled

    fetched = await clerk.users.get(created.id)
    assert fetched.id == created.id and fetched.username == "ada_l"

    await clerk.users.create(email_address=["bob@example.com"], first_name="Bob")
    page = await clerk.users.list(email_address=["ada@example.com"])
    assert [u.id for u in page] == [created.id]
    assert await clerk.users.count() == 2
    assert await clerk.users.count(query="lovelace") == 1

    updated = await clerk.users.update(created.id, first_name="Augusta", last_name=None)
    assert updated.first_name == "Augusta" and updated.last_name is None
    assert updated.username == "ada_l"  # not given, so untouched

    deleted = await clerk.users.delete(created.id)
    assert deleted.deleted and deleted.id == created.id
    with pytest.raises(NotFoundError) as info:
        await clerk.users.get(created.id)
    assert info.value.code == "resource_not_found"
    assert info.value.clerk_trace_id


async def test_duplicate_identifier_is_a_422_with_clerks_code(clerk: AsyncClerk) -> None:
    await clerk.users.create(email_address=["dup@example.com"])
    with pytest.raises(UnprocessableEntityError) as info:
        await clerk.users.create(email_address=["dup@example.com"])
    assert info.value.code == "form_identifier_exists"
    assert info.value.status == 422


async def test_iter_walks_every_user_once_across_pages(
    clerk: AsyncClerk, fake_clerk: FakeClerk
) -> None:
    for i in range(1203):
        fake_clerk.store.add_user(email_address=f"u{i}@example.com")
    ids = [u.id async for u in clerk.users.iter(page_size=500)]
    assert len(ids) == len(set(ids)) == 1203
    assert fake_clerk.stats.requests["GetUserList"] == 3
    by_offset = [u.id async for u in clerk.users.iter(page_size=400, order_by="+email_address")]
    assert sorted(by_offset) == sorted(ids)


async def test_metadata_merge_and_replace(clerk: AsyncClerk) -> None:
    user = await clerk.users.create(
        email_address=["m@example.com"], public_metadata={"a": 1, "nested": {"x": 1, "y": 2}}
    )
    merged = await clerk.users.update_metadata(
        user.id, public_metadata={"nested": {"y": None, "z": 3}, "b": 2}
    )
    assert merged.public_metadata == {"a": 1, "b": 2, "nested": {"x": 1, "z": 3}}
    replaced = await clerk.users.replace_metadata(user.id, public_metadata={"only": True})
    assert replaced.public_metadata == {"only": True}


async def test_ban_lock_and_bulk(clerk: AsyncClerk) -> None:
    a = await clerk.users.create(email_address=["a@example.com"])
    b = await clerk.users.create(email_address=["b@example.com"])
    assert (await clerk.users.ban(a.id)).banned
    assert not (await clerk.users.unban(a.id)).banned
    banned = await clerk.users.bulk_ban([a.id, b.id])
    assert {u.id for u in banned} == {a.id, b.id} and all(u.banned for u in banned)
    assert await clerk.users.count(banned=True) == 2
    assert not any(u.banned for u in await clerk.users.bulk_unban([a.id, b.id]))
    locked = await clerk.users.lock(a.id)
    assert locked.locked and locked.lockout_expires_in_seconds
    assert not (await clerk.users.unlock(a.id)).locked


async def test_passwords_totp_and_mfa(clerk: AsyncClerk) -> None:
    user = await clerk.users.create(email_address=["p@example.com"], password="s3cret-Pass!")
    assert (await clerk.users.verify_password(user.id, "s3cret-Pass!")).verified
    with pytest.raises(UnprocessableEntityError):
        await clerk.users.verify_password(user.id, "wrong")
    totp = await clerk.users.create_totp(user.id)
    assert totp.secret and totp.uri and totp.uri.startswith("otpauth://")
    result = await clerk.users.verify_totp(user.id, totp_code(totp.secret, time.time()))
    assert result.verified and result.code_type == "totp"
    assert (await clerk.users.delete_totp(user.id)).user_id == user.id
    assert (await clerk.users.disable_mfa(user.id)).user_id == user.id
    assert (await clerk.users.delete_backup_codes(user.id)).user_id == user.id
    compromised = await clerk.users.set_password_compromised(user.id)
    assert compromised.id == user.id
    await clerk.users.unset_password_compromised(user.id)
    removed = await clerk.users.remove_password(user.id)
    assert not removed.password_enabled


async def test_profile_image_and_identifiers(clerk: AsyncClerk, fake_clerk: FakeClerk) -> None:
    user = await clerk.users.create(email_address=["i@example.com"], web3_wallet=[
        "0x0000000000000000000000000000000000000001"])
    with_image = await clerk.users.set_profile_image(user.id, b"\x89PNG image", filename="a.png")
    assert with_image.has_image
    assert not (await clerk.users.delete_profile_image(user.id)).has_image
    passkey = fake_clerk.store.seed_passkey(user.id)
    assert (await clerk.users.delete_passkey(user.id, passkey.id)).deleted
    wallet_id = user.web3_wallets[0].id
    assert wallet_id is not None
    assert (await clerk.users.delete_web3_wallet(user.id, wallet_id)).deleted
    account = fake_clerk.store.seed_external_account(user.id)
    assert (await clerk.users.delete_external_account(user.id, account.id)).deleted


async def test_related_resources(clerk: AsyncClerk, fake_clerk: FakeClerk) -> None:
    user = await clerk.users.create(email_address=["r@example.com"])
    store = fake_clerk.store
    store.seed_organization_membership(user.id)
    store.seed_organization_invitation(user.id)
    store.seed_oauth_access_token(user.id, provider="oauth_google", token="tok")
    device = store.seed_trusted_device(user.id)

    memberships = await clerk.users.get_organization_memberships(user.id, limit=10)
    assert memberships.total_count == 1
    instance = await clerk.users.get_instance_organization_memberships(limit=10)
    assert instance.total_count == 1
    invitations = await clerk.users.get_organization_invitations(user.id, status="pending")
    assert invitations.total_count == 1
    tokens = await clerk.users.get_oauth_access_token(user.id, "oauth_google")
    assert [t.token for t in tokens] == ["tok"]
    devices = await clerk.users.list_trusted_devices(user.id)
    assert [d.id for d in devices.data] == [device.id]
    revoked = await clerk.users.revoke_trusted_device(user.id, device.id)
    assert revoked.status == "revoked"

    subscription = await clerk.users.get_billing_subscription(user.id)
    assert subscription.id
    entry = await clerk.users.adjust_billing_credit_balance(
        user.id, amount=500, action="increase", idempotency_key="grant-1")
    again = await clerk.users.adjust_billing_credit_balance(
        user.id, amount=500, action="increase", idempotency_key="grant-1")
    assert again.id == entry.id
    balance = await clerk.users.get_billing_credit_balance(user.id)
    assert balance is not None


async def test_wrong_key_is_an_authentication_error(fake_clerk: FakeClerk) -> None:
    async with AsyncClerk(secret_key="sk_test_wrong", base_url=fake_clerk.base_url,
                          rate_limit=None) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.users.list()
    assert "sk_test_wrong" not in str(info.value)


async def test_get_survives_injected_503s(clerk: AsyncClerk, fake_clerk: FakeClerk) -> None:
    user = fake_clerk.store.add_user(email_address="f@example.com")
    fake_clerk.inject_fault("GetUser", "503", "502")
    assert (await clerk.users.get(user.id)).id == user.id
    assert fake_clerk.stats.requests["GetUser"] == 3


async def test_create_with_dropped_response_is_not_repeated(fake_clerk: FakeClerk) -> None:
    async with AsyncClerk(secret_key=fake_clerk.secret_key, base_url=fake_clerk.base_url,
                          rate_limit=None, retry=RetryPolicy(base_delay=0)) as client:
        fake_clerk.inject_fault("CreateUser", "drop_after")
        with pytest.raises(ClerkConnectionError):
            await client.users.create(email_address=["once@example.com"])
        # The user exists exactly once: the SDK did not blindly send the create again.
        assert fake_clerk.stats.requests["CreateUser"] == 1
        assert await client.users.count(email_address=["once@example.com"]) == 1


async def test_one_pooled_connection_for_sequential_calls(
    clerk: AsyncClerk, fake_clerk: FakeClerk
) -> None:
    user = fake_clerk.store.add_user(email_address="k@example.com")
    for _ in range(20):
        await clerk.users.get(user.id)
    session = clerk._transport._session
    assert session is not None
    connector = session.connector
    assert connector is not None
    assert sum(len(v) for v in connector._conns.values()) == 1
