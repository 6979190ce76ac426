"""FakeClerk's uniqueness rules at the store: which identifiers are taken, by
whom, and that deleting or changing a user frees exactly what it held.

The HTTP-level behaviour is in test_fake_users.py; these pin the rules down
one by one (see docs/mutation.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from clerk_async.testing._errors import FakeError
from clerk_async.testing._store import Store

WALLET = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"
FULL: dict[str, Any] = {
    "email_address": ["Ada@Example.com"],
    "phone_number": ["+15555550100"],
    "web3_wallet": [WALLET],
    "username": "ada_l",
    "external_id": "crm-Ada-1",
}


def refused(store: Store, body: dict[str, Any]) -> FakeError:
    with pytest.raises(FakeError) as info:
        store.create_user(body)
    return info.value


@pytest.mark.parametrize(
    ("param", "bad", "why"),
    [
        ("email_address", "not-an-email", "must be a valid email address"),
        ("phone_number", "555-0100", "must be in E.164 format, like +15555550100"),
        ("web3_wallet", "0x123", "must be 0x followed by 40 hex digits"),
    ],
)
def test_malformed_identifiers_are_refused_naming_the_parameter(
    param: str, bad: str, why: str
) -> None:
    error = refused(Store(), {param: [bad]})
    assert (error.status, error.code, error.message) == (422, "form_param_format_invalid",
                                                        "is invalid")
    assert error.long_message == f"{param}: {why}"
    assert error.meta == {"param_name": param}


@pytest.mark.parametrize(
    ("param", "again"),
    [
        ("email_address", ["  ada@EXAMPLE.com "]),  # emails compare trimmed, case-folded
        ("phone_number", ["+15555550100"]),
        ("web3_wallet", [WALLET.lower()]),  # wallets compare case-folded
        ("username", "ADA_L"),
        ("external_id", "crm-Ada-1"),
    ],
)
def test_every_identifier_is_unique(param: str, again: Any) -> None:
    store = Store()
    store.create_user(FULL)
    error = refused(store, {"email_address": ["other@example.com"], param: again})
    assert (error.code, error.meta) == ("form_identifier_exists", {"param_name": param})


def test_external_ids_are_case_sensitive() -> None:
    store = Store()
    store.create_user(FULL)
    other = store.create_user({"username": "other", "external_id": "CRM-ADA-1"})
    assert store.find("CRM-ADA-1") is other


def test_find_by_each_identifier() -> None:
    store = Store()
    user = store.create_user(FULL)
    for identifier in ("ada@example.com", "+15555550100", WALLET.upper().replace("0X", "0x"),
                       "Ada_L", "crm-Ada-1"):
        assert store.find(identifier) is user, identifier
    assert store.find("crm-ada-1") is None  # external ids are not case-folded
    assert store.find("nobody@example.com") is None and store.find("crm-unknown") is None


def test_deleting_a_user_frees_every_identifier_it_held() -> None:
    store = Store()
    user = store.create_user(FULL)
    store.seed_organization_membership(user.id, role="org:member", permissions=[])
    store.delete_user(user)
    for identifier in ("ada@example.com", "+15555550100", WALLET, "ada_l", "crm-Ada-1"):
        assert store.find(identifier) is None, identifier
    assert not [m for m in store.memberships.values() if m.user_id == user.id]
    again = store.create_user(FULL)  # nothing is still taken
    assert again.id != user.id and store.find("crm-Ada-1") is again


def test_an_update_frees_the_old_username_and_external_id() -> None:
    store = Store()
    user = store.create_user(FULL)
    store.update_user(user, {"username": "ada_new", "external_id": "crm-2"})
    assert store.find("ada_l") is None and store.find("crm-Ada-1") is None
    assert store.find("ada_new") is user and store.find("crm-2") is user
    other = store.create_user({"username": "ada_l", "external_id": "crm-Ada-1"})
    assert store.find("ada_l") is other
    # A user keeps its own identifiers when an update repeats them.
    store.update_user(user, {"username": "ada_new", "external_id": "crm-2"})
    with pytest.raises(FakeError):
        store.update_user(user, {"username": "ada_l"})
    with pytest.raises(FakeError):
        store.update_user(user, {"external_id": "crm-Ada-1"})


@pytest.mark.parametrize(
    ("username", "code", "why"),
    [
        ("abc", "form_username_invalid_length", "must be between 4 and 64 characters long"),
        ("a" * 65, "form_username_invalid_length", "must be between 4 and 64 characters long"),
        ("ada l", "form_username_invalid_character", "may contain only letters, digits, _ and -"),
    ],
)
def test_bad_usernames_are_refused_with_clerks_codes(username: str, code: str, why: str) -> None:
    error = refused(Store(), {"username": username})
    assert (error.status, error.code, error.message) == (422, code, "is invalid")
    assert error.long_message == f"username: {why}"
    assert error.meta == {"param_name": "username"}


def test_usernames_of_4_and_64_characters_are_fine() -> None:
    store = Store()
    assert store.create_user({"username": "abcd"}).username == "abcd"
    assert store.create_user({"username": "b" * 64}).username == "b" * 64
