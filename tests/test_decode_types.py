"""Decoding checks the JSON type of every typed field and names where it failed.

A 2xx body with a value of the wrong type (a null or numeric id, a string
count, a bool where an int belongs) is a :class:`ClerkDecodeError` whose
``field`` is the full path; novelty (unknown keys, unknown enum values) is
still accepted.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from clerk_async import AsyncClerk, ClerkDecodeError
from clerk_async._convert import structure, unstructure
from clerk_async.models import CreateUserParams, EmailAddress, TotalCount, User

from factories import user_json


def _saml_user() -> dict[str, Any]:
    connection = {
        "id": "samlc_1", "name": "Okta", "domain": "example.com", "domains": ["example.com"],
        "active": True, "provider": "saml_okta", "sync_user_attributes": True,
        "allow_subdomains": False, "allow_idp_initiated": False,
        "disable_additional_identifications": False, "created_at": 1, "updated_at": 2,
    }
    account = {
        "id": "samlacc_1", "object": "saml_account", "provider": "saml_okta", "active": True,
        "email_address": "ada@example.com", "first_name": "Ada", "last_name": None,
        "provider_user_id": None, "last_authenticated_at": None, "public_metadata": {},
        "verification": None, "saml_connection": connection,
    }
    other = copy.deepcopy(account) | {"id": "samlacc_0"}
    return user_json(saml_accounts=[other, account])


def test_a_valid_deep_user_decodes() -> None:
    user = structure(_saml_user(), User)
    assert user.saml_accounts[1].saml_connection is not None
    assert user.saml_accounts[1].saml_connection.id == "samlc_1"


@pytest.mark.parametrize(
    ("bad_id", "got"), [(None, "null"), (123, "an int"), (True, "a bool"), ([], "a list")]
)
def test_wrong_type_deep_inside_names_the_full_path(bad_id: Any, got: str) -> None:
    data = _saml_user()
    data["saml_accounts"][1]["saml_connection"]["id"] = bad_id
    with pytest.raises(ClerkDecodeError) as caught:
        structure(data, User)
    error = caught.value
    assert error.field == "saml_accounts[1].saml_connection.id"
    assert f"expected str, got {got}" in str(error)
    assert "at saml_accounts[1].saml_connection.id" in str(error)


def test_missing_deep_required_field_is_named() -> None:
    data = _saml_user()
    del data["saml_accounts"][0]["saml_connection"]["id"]
    with pytest.raises(ClerkDecodeError, match="missing required field") as caught:
        structure(data, User)
    assert caught.value.field == "saml_accounts[0].saml_connection.id"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("id", None, "expected str, got null"),
        ("id", 123, "expected str, got an int"),
        ("created_at", "1700000000000", "expected int, got a str"),
        ("created_at", 1.5, "expected int, got a float"),
        ("banned", 0, "expected bool, got an int"),
        ("locked", None, "expected bool, got null"),
        ("public_metadata", [], "expected an object, got a list"),
        ("email_addresses", {}, "expected a list, got an object"),
        ("username", 7, "expected str, got an int"),  # optional, but not any type
        ("last_sign_in_at", True, "expected int, got a bool"),
    ],
)
def test_top_level_wrong_types(key: str, value: Any, expected: str) -> None:
    with pytest.raises(ClerkDecodeError, match=expected) as caught:
        structure(user_json(**{key: value}), User)
    assert caught.value.field == key


def test_items_of_a_list_are_checked_with_their_index() -> None:
    with pytest.raises(ClerkDecodeError) as caught:
        structure([{"object": "total_count", "total_count": 1}, {"object": 5}], list[TotalCount])
    assert caught.value.field == "[1].object"
    email = {
        "object": "email_address", "email_address": "a@example.com", "reserved": False,
        "linked_to": [{"type": "oauth_google", "id": 5}], "created_at": 1, "updated_at": 2,
    }
    with pytest.raises(ClerkDecodeError) as caught:
        structure(user_json(email_addresses=[email]), User)
    assert caught.value.field == "email_addresses[0].linked_to[0].id"


def test_a_non_object_body_is_a_decode_error() -> None:
    with pytest.raises(ClerkDecodeError, match="expected an object, got a list") as caught:
        structure([], User)
    assert caught.value.field is None
    with pytest.raises(ClerkDecodeError, match="expected a list, got an object"):
        structure({}, list[User])


def test_nulls_where_allowed_and_novelty_stay_lenient() -> None:
    data = user_json(
        username=None,
        object="user_v2",  # an enum value we have never seen
        brand_new_field={"anything": [1, "x"]},
        private_metadata=None,
    )
    data["email_addresses"] = [{
        "id": None, "object": "email_address", "email_address": "a@example.com",
        "reserved": False, "linked_to": [], "created_at": 1, "updated_at": 2,
        "verification": {"object": "verification_from_mars", "status": "odd", "x": 1},
        "future": True,
    }]
    user = structure(data, User)
    assert user.object == "user_v2" and user.username is None
    assert user.email_addresses[0].verification is not None
    assert unstructure(user)["email_addresses"][0]["verification"]["x"] == 1


def test_request_params_decode_checks_types_and_keeps_unset() -> None:
    params = structure({"first_name": "Ada", "email_address": ["a@example.com"]}, CreateUserParams)
    assert params.first_name == "Ada"
    with pytest.raises(ClerkDecodeError) as caught:
        structure({"email_address": ["a@example.com", 3]}, CreateUserParams)
    assert caught.value.field == "email_address"


def test_structure_refuses_types_it_has_no_decoder_for() -> None:
    with pytest.raises(TypeError, match="no decoder"):
        structure({}, dict)


def test_decoded_models_are_the_public_classes() -> None:
    email = structure(
        {"object": "email_address", "email_address": "a@example.com", "reserved": False,
         "linked_to": [], "created_at": 1, "updated_at": 2},
        EmailAddress,
    )
    assert type(email) is EmailAddress
    assert email == EmailAddress(
        object="email_address", email_address="a@example.com", reserved=False,
        linked_to=[], created_at=1, updated_at=2,
    )


# --------------------------------------------------------------------------- over a socket


@pytest.fixture
async def wrong_types_server() -> AsyncIterator[str]:
    """A loopback server whose users have a numeric id, as a broken proxy might send."""

    async def get_user(request: web.Request) -> web.Response:
        return web.json_response(user_json(id=12345))

    app = web.Application()
    app.router.add_get("/v1/users/{user_id}", get_user)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


async def test_wrong_type_from_a_server_names_field_and_request(wrong_types_server: str) -> None:
    async with AsyncClerk(secret_key="sk_test_" + "x" * 32, base_url=wrong_types_server,
                          rate_limit=None) as clerk:
        with pytest.raises(ClerkDecodeError) as caught:
            await clerk.users.get("user_1")
    error = caught.value
    assert error.field == "id"
    assert (error.method, error.path) == ("GET", "/users/user_1")
    assert "expected str, got an int at id [GET /users/user_1]" in str(error)


def test_hand_written_attrs_envelopes_are_checked_too() -> None:
    from clerk_async import OAuthAccessTokenPage

    token = {
        "object": "oauth_access_token", "external_account_id": "eac_1",
        "provider_user_id": "p1", "token": "t", "provider": "oauth_google",
        "public_metadata": {}, "label": None,
    }
    page = structure({"data": [token], "total_count": 1}, OAuthAccessTokenPage)
    assert page.total_count == 1 and page.data[0].provider == "oauth_google"
    with pytest.raises(ClerkDecodeError) as caught:
        structure({"data": [token, {**token, "token": None}], "total_count": 2},
                  OAuthAccessTokenPage)
    assert caught.value.field == "data[1].token"
    with pytest.raises(ClerkDecodeError, match="expected int, got a str") as caught:
        structure({"data": [], "total_count": "2"}, OAuthAccessTokenPage)
    assert caught.value.field == "total_count"
    with pytest.raises(ClerkDecodeError, match="missing required field") as caught:
        structure({"data": []}, OAuthAccessTokenPage)
    assert caught.value.field == "total_count"
    assert structure({"anything": [1]}, object) == {"anything": [1]}
