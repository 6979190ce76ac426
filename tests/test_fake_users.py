"""FakeClerk's user semantics: identifiers, listing, metadata, bans, locks, images."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from clerk_async.testing import FakeClerk, ManualClock

from polling import at_most
from spec_validation import Api, validated_api


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeClerk]:
    async with FakeClerk(require_identifier=False, seed=3, clock=ManualClock()) as server:
        yield server


@pytest_asyncio.fixture
async def api(fake: FakeClerk) -> AsyncIterator[Api]:
    async with validated_api(fake.base_url, fake.secret_key) as client:
        yield client


async def test_ids_and_timestamps_look_like_clerks(api: Api, fake: FakeClerk) -> None:
    user = (await api.call("CreateUser", json={"email_address": ["A@Example.com"]})).body
    assert user["id"].startswith("user_") and len(user["id"]) == 5 + 27
    assert user["email_addresses"][0]["id"].startswith("idn_")
    assert user["email_addresses"][0]["email_address"] == "a@example.com"
    assert user["created_at"] == int(fake.clock() * 1000)


async def test_same_seed_same_ids() -> None:
    a, b = FakeClerk(require_identifier=False, seed=5), FakeClerk(require_identifier=False, seed=5)
    assert a.store.add_user().id == b.store.add_user().id
    assert a.secret_key == b.secret_key and a.secret_key.startswith("sk_test_fake_")


async def test_unique_identifiers(api: Api) -> None:
    await api.call(
        "CreateUser",
        json={
            "email_address": ["x@example.com"],
            "phone_number": ["+15555550101"],
            "username": "xavier",
            "external_id": "e1",
            "web3_wallet": ["0x" + "cd" * 20],
        },
    )
    for body, param in [
        ({"email_address": ["X@example.com"]}, "email_address"),
        ({"phone_number": ["+15555550101"]}, "phone_number"),
        ({"username": "XAVIER"}, "username"),
        ({"external_id": "e1"}, "external_id"),
        ({"web3_wallet": ["0x" + "CD" * 20]}, "web3_wallet"),
    ]:
        reply = await api.call("CreateUser", json=body, expect=422)
        assert reply.code == "form_identifier_exists"
        assert reply.body["errors"][0]["meta"]["param_name"] == param
    other = (await api.call("CreateUser", json={"username": "yvonne"})).body
    reply = await api.call("UpdateUser", other["id"], json={"username": "xavier"}, expect=422)
    assert reply.code == "form_identifier_exists"


async def test_invalid_params(api: Api) -> None:
    cases = [
        ({"email_address": ["not-an-email"]}, "form_param_format_invalid"),
        ({"phone_number": ["555"]}, "form_param_format_invalid"),
        ({"first_name": 3}, "form_param_format_invalid"),
        ({"password": "short"}, "form_password_length_too_short"),
        ({"surname": "x"}, "form_param_unknown"),
        ({"password_digest": "abc"}, "form_param_missing"),
    ]
    for body, code in cases:
        assert (await api.call("CreateUser", json=body, expect=422)).code == code
    reply = await api.call("UsersBan", json={}, expect=422)
    assert reply.code == "form_param_missing"
    reply = await api.call("UsersBan", json={"user_ids": ["u"] * 51}, expect=422)
    assert reply.code == "form_param_value_invalid"
    await api.call(
        "CreateUser", data=b"{nope", expect=400, headers={"Content-Type": "application/json"}
    )


async def test_not_found(api: Api) -> None:
    reply = await api.call("GetUser", "user_doesnotexist", expect=404)
    assert reply.code == "resource_not_found"
    user = (await api.call("CreateUser", json={})).body
    await api.call("UserPasskeyDelete", user["id"], "idn_nope", expect=404)
    # Percent-encoded ids are decoded before the look-up.
    await api.call("GetUser", "user a/b", expect=404)


async def test_list_filters(api: Api, fake: FakeClerk) -> None:
    store = fake.store
    ada = store.add_user(
        email_address="ada@example.com",
        username="ada_l",
        first_name="Ada",
        last_name="Lovelace",
        external_id="e-ada",
        created_at=1_000,
        last_active_at=5_000,
        last_sign_in_at=6_000,
    )
    bob = store.add_user(
        email_address="bob@corp.io",
        phone_number="+15555550123",
        username="bobby",
        first_name="Bob",
        created_at=2_000,
        web3_wallet="0x" + "12" * 20,
    )
    cat = store.add_user(
        email_address="cat@corp.io", external_id="e-cat", created_at=3_000, banned=True
    )
    store.seed_external_account(cat.id, "oauth_github", provider_user_id="gh-9")
    org = store.seed_organization()
    store.seed_organization_membership(bob.id, org.id)

    async def ids(**params: object) -> list[str]:
        reply = await api.call("GetUserList", params=list(_flatten(params)))
        count = await api.call("GetUsersCount", params=list(_flatten(params)))
        assert count.body["total_count"] == len(reply.body) or "limit" in params
        return [u["id"] for u in reply.body]

    assert await ids() == [cat.id, bob.id, ada.id]
    assert await ids(email_address=["ADA@example.com", "nobody@x.io"]) == [ada.id]
    assert await ids(phone_number="+15555550123") == [bob.id]
    assert await ids(username=["bobby", "ada_l"]) == [bob.id, ada.id]
    assert await ids(web3_wallet="0x" + "12" * 20) == [bob.id]
    assert await ids(user_id=[f"+{ada.id}", cat.id]) == [cat.id, ada.id]
    assert await ids(user_id=f"-{bob.id}") == [cat.id, ada.id]
    assert await ids(external_id=["-e-ada"]) == [cat.id, bob.id]
    assert await ids(external_id=["e-cat"]) == [cat.id]
    assert await ids(organization_id=org.id) == [bob.id]
    assert await ids(organization_id=f"-{org.id}") == [cat.id, ada.id]
    assert await ids(query="CORP") == [cat.id, bob.id]
    assert await ids(query="lovel") == [ada.id]
    assert await ids(email_address_query="corp") == [cat.id, bob.id]
    assert await ids(phone_number_query="555") == [bob.id]
    assert await ids(username_query="OBB") == [bob.id]
    assert await ids(name_query="ada love") == [ada.id]
    assert await ids(banned="true") == [cat.id]
    assert await ids(banned="false") == [bob.id, ada.id]
    assert await ids(created_at_after=1_000, created_at_before=3_000) == [bob.id]
    assert await ids(last_active_at_after=4_000) == [ada.id]
    assert await ids(last_active_at_since=5_000) == [ada.id]
    assert await ids(last_sign_in_at_before=7_000) == [ada.id]
    assert await ids(provider="oauth_github", provider_user_id="gh-9") == [cat.id]
    reply = await api.call("GetUserList", params={"provider": "oauth_github"}, expect=422)
    assert reply.code == "form_param_missing"


def _flatten(params: dict[str, object]) -> list[tuple[str, str]]:
    out = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            out.append((key, str(item)))
    return out


async def test_order_by(api: Api, fake: FakeClerk) -> None:
    store = fake.store
    b = store.add_user(username="bravo", email_address="z@example.com", created_at=1)
    a = store.add_user(username="alpha", email_address="y@example.com", created_at=2)
    n = store.add_user(created_at=3)  # no username: NULLs last ascending, first descending

    async def order(value: str) -> list[str]:
        return [u["id"] for u in (await api.call("GetUserList", params={"order_by": value})).body]

    assert await order("username") == [a.id, b.id, n.id]
    assert await order("+username") == [a.id, b.id, n.id]
    assert await order("-username") == [n.id, b.id, a.id]
    assert await order("email_address") == [a.id, b.id, n.id]
    assert await order("created_at") == [b.id, a.id, n.id]
    assert await order("-created_at") == [n.id, a.id, b.id]
    for field in (
        "updated_at",
        "web3wallet",
        "first_name",
        "last_name",
        "phone_number",
        "last_active_at",
        "last_sign_in_at",
    ):
        assert len(await order(f"-{field}")) == 3
    reply = await api.call("GetUserList", params={"order_by": "shoe_size"}, expect=422)
    assert reply.code == "form_param_value_invalid"


async def test_paging_limit_offset_and_cursor(api: Api, fake: FakeClerk) -> None:
    users = [fake.store.add_user(created_at=1_000 + i) for i in range(25)]
    newest_first = [u.id for u in reversed(users)]

    async def page(**params: object) -> list[str]:
        reply = await api.call("GetUserList", params={k: str(v) for k, v in params.items()})
        return [u["id"] for u in reply.body]

    assert await page() == newest_first[:10]
    assert await page(limit=5, offset=20) == newest_first[20:]
    assert await page(limit=501) == newest_first[:10]  # Clerk quietly falls back to 10
    assert await page(limit=7, starting_after=newest_first[6]) == newest_first[7:14]
    assert await page(order_by="created_at", limit=3, starting_after=users[1].id) == [
        u.id for u in users[2:5]
    ]
    walked: list[str] = []
    cursor = None
    for _ in at_most(10, "the starting_after walk"):
        params: dict[str, object] = {"limit": 10}
        if cursor:
            params["starting_after"] = cursor
        got = await page(**params)
        walked += got
        if len(got) < 10:
            break
        cursor = got[-1]
    assert walked == newest_first
    # A deleted user still works as a cursor.
    await api.call("DeleteUser", newest_first[4])
    assert (await page(limit=2, starting_after=newest_first[4])) == newest_first[5:7]
    for params in (
        {"starting_after": users[0].id, "order_by": "username"},
        {"starting_after": users[0].id, "offset": "3"},
        {"starting_after": "user_unknown"},
        {"limit": "0"},
        {"offset": "-1"},
    ):
        await api.call("GetUserList", params=params, expect=422)


async def test_metadata_merge_and_replace(api: Api) -> None:
    uid = (
        await api.call(
            "CreateUser",
            json={"public_metadata": {"a": 1, "nested": {"x": 1, "y": 2}, "gone": True}},
        )
    ).body["id"]
    body = (
        await api.call(
            "UpdateUserMetadata",
            uid,
            json={"public_metadata": {"nested": {"y": None, "z": 3}, "gone": None, "b": [1]}},
        )
    ).body
    assert body["public_metadata"] == {"a": 1, "nested": {"x": 1, "z": 3}, "b": [1]}
    body = (await api.call("ReplaceUserMetadata", uid, json={"private_metadata": {"p": 1}})).body
    assert body["private_metadata"] == {"p": 1}
    assert body["public_metadata"] == {"a": 1, "nested": {"x": 1, "z": 3}, "b": [1]}
    body = (await api.call("ReplaceUserMetadata", uid, json={"public_metadata": {}})).body
    assert body["public_metadata"] == {}
    await api.call("UpdateUserMetadata", uid, json={"public_metadata": [1]}, expect=422)
    # From API version 2026-05-12, metadata is no longer accepted by UpdateUser.
    reply = await api.call(
        "UpdateUser",
        uid,
        json={"public_metadata": {}},
        expect=422,
        headers={"Clerk-API-Version": "2026-05-12"},
    )
    assert reply.code == "form_param_unknown"


async def test_ban_lock_and_bulk(api: Api, fake: FakeClerk) -> None:
    ids = [(await api.call("CreateUser", json={})).body["id"] for _ in range(3)]
    banned = (await api.call("UsersBan", json={"user_ids": [*ids[:2], "user_gone"]})).body
    assert [u["id"] for u in banned] == ids[:2] and all(u["banned"] for u in banned)
    assert (await api.call("GetUser", ids[2])).body["banned"] is False
    unbanned = (await api.call("UsersUnban", json={"user_ids": ids})).body
    assert not any(u["banned"] for u in unbanned)
    locked = (await api.call("LockUser", ids[0])).body
    assert locked["locked"] is True and locked["lockout_expires_in_seconds"] == 3600
    assert isinstance(fake.clock, ManualClock)
    fake.clock.advance(600.5)
    later = (await api.call("GetUser", ids[0])).body
    assert later["lockout_expires_in_seconds"] == 3000
    fake.clock.advance(3000)
    assert (await api.call("GetUser", ids[0])).body["locked"] is False
    await api.call("LockUser", ids[1])
    assert (await api.call("UnlockUser", ids[1])).body["locked"] is False


async def test_profile_image_upload(api: Api, fake: FakeClerk) -> None:
    uid = (await api.call("CreateUser", json={})).body["id"]
    form = aiohttp.FormData()
    form.add_field("file", b"\x89PNG image bytes", filename="a.png", content_type="image/png")
    body = (await api.call("SetUserProfileImage", uid, data=form)).body
    assert body["has_image"] is True and body["image_url"].startswith("https://img.clerk.com/")
    assert fake.store.users[uid].image == b"\x89PNG image bytes"
    body = (await api.call("DeleteUserProfileImage", uid)).body
    assert body["has_image"] is False
    empty = aiohttp.FormData()
    empty.add_field("other", "x")
    await api.call("SetUserProfileImage", uid, data=empty, expect=400)
    await api.call("SetUserProfileImage", uid, json={"file": "x"}, expect=400)


async def test_update_user_fields(api: Api) -> None:
    user = (
        await api.call(
            "CreateUser",
            json={
                "email_address": ["one@example.com", "two@example.com"],
                "username": "someone",
                "email_address_identification_status": ["verified", "reserved"],
            },
        )
    ).body
    assert user["email_addresses"][1]["reserved"] is True
    second = user["email_addresses"][1]["id"]
    await api.call("UpdateUser", user["id"], json={"primary_email_address_id": second}, expect=422)
    body = (
        await api.call(
            "UpdateUser",
            user["id"],
            json={"username": "", "created_at": "2020-01-01T00:00:00Z", "locale": "fr-FR"},
        )
    ).body
    assert body["username"] is None and body["locale"] == "fr-FR"
    assert body["created_at"] == 1_577_836_800_000
    await api.call("CreateUser", json={"username": "someone"})  # freed by the update
