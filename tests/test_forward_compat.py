"""A newer Clerk release must never break decoding of a page of users.

Extra fields at any level, enum values we have never seen and verification
kinds or strategies we do not know all decode without an exception, keeping the
data. These payloads are written by hand; the spec is not needed.
"""

from __future__ import annotations

import copy
from typing import Any

from clerk_async._convert import dumps, loads, structure, unstructure
from clerk_async.models import (
    AdminVerification,
    OAuthVerification,
    OTPVerification,
    UnknownVerification,
    User,
)


def _verification(obj: str | None, strategy: Any, status: str = "verified") -> dict[str, Any]:
    value: dict[str, Any] = {"status": status, "strategy": strategy}
    value |= {"attempts": None, "expire_at": None, "future_field": {"x": 1}}
    if obj is not None:
        value["object"] = obj
    return value


def _email(n: int, verification: Any) -> dict[str, Any]:
    return {
        "id": f"idn_{n}",
        "object": "email_address_v2",  # unknown enum value
        "email_address": f"user{n}@example.com",
        "reserved": False,
        "verification": verification,
        "linked_to": [{"type": "oauth_newprovider", "id": "idn_x", "extra": True}],
        "matches_sso_connection": False,
        "created_at": 1,
        "updated_at": 2,
        "brand_new": ["value"],
    }


def _user(n: int, verification: Any) -> dict[str, Any]:
    return {
        "id": f"user_{n}",
        "object": "user",
        "external_id": None,
        "primary_email_address_id": f"idn_{n}",
        "primary_phone_number_id": None,
        "primary_web3_wallet_id": None,
        "username": None,
        "first_name": "Zoë",
        "last_name": None,
        "has_image": False,
        "public_metadata": {"tier": "gold"},
        "email_addresses": [_email(n, verification)],
        "phone_numbers": [],
        "web3_wallets": [],
        "passkeys": [],
        "external_accounts": [
            {
                "object": "tiktok_account",  # unknown enum value
                "id": "eac_1",
                "provider": "oauth_tiktok",
                "identification_id": "idn_y",
                "provider_user_id": "42",
                "approved_scopes": "profile",
                "email_address": "z@example.com",
                "first_name": "Z",
                "last_name": "Z",
                "public_metadata": {},
                "created_at": 1,
                "updated_at": 2,
                "verification": {
                    **_verification("verification_oauth", "oauth_tiktok", "pending"),
                    "expire_at": 1,  # required (not nullable) for this kind
                },
            }
        ],
        "saml_accounts": [],
        "enterprise_accounts": [],
        "password_enabled": True,
        "two_factor_enabled": False,
        "totp_enabled": False,
        "backup_code_enabled": False,
        "mfa_enabled_at": None,
        "mfa_disabled_at": None,
        "last_sign_in_at": None,
        "banned": False,
        "locked": False,
        "lockout_expires_in_seconds": None,
        "verification_attempts_remaining": None,
        "created_at": 1,
        "updated_at": 2,
        "delete_self_enabled": True,
        "create_organization_enabled": True,
        "last_active_at": None,
        "legal_accepted_at": None,
        "some_2027_feature": {"enabled": True},
    }


VERIFICATIONS: list[Any] = [
    None,
    _verification("verification_otp", "email_code"),
    _verification("verification_otp", "carrier_pigeon_code"),  # unknown strategy
    _verification("verification_admin", "admin"),
    _verification("verification_quantum", "quantum_entanglement"),  # unknown kind
    _verification("verification_quantum", "email_code"),  # unknown kind, known strategy
    _verification(None, "email_code"),  # no discriminator at all
    _verification(None, None),
    {"object": "verification_otp"},  # known kind, required keys missing
    {"object": ["not", "a", "string"], "strategy": 5},
    {},
]


def _page() -> list[dict[str, Any]]:
    return [_user(n, VERIFICATIONS[n % len(VERIFICATIONS)]) for n in range(len(VERIFICATIONS))]


def test_page_with_unknown_things_decodes() -> None:
    page = _page()
    users = structure(loads(dumps(page)), list[User])
    assert [u.id for u in users] == [f"user_{n}" for n in range(len(page))]
    kinds = [type(u.email_addresses[0].verification) for u in users]
    assert kinds[0] is type(None)
    assert kinds[1] is OTPVerification
    assert kinds[2] is OTPVerification
    second = users[2].email_addresses[0].verification
    assert isinstance(second, OTPVerification)
    assert second.strategy == "carrier_pigeon_code"
    assert kinds[3] is AdminVerification
    assert all(k is UnknownVerification for k in kinds[4:])
    assert users[0].email_addresses[0].object == "email_address_v2"
    assert users[0].external_accounts[0].object == "tiktok_account"
    ext = users[0].external_accounts[0].verification
    assert isinstance(ext, OAuthVerification) and ext.status == "pending"


def test_unknown_verification_keeps_the_payload() -> None:
    page = _page()
    users = structure(copy.deepcopy(page), list[User])
    for user, raw in zip(users, page, strict=True):
        verification = user.email_addresses[0].verification
        if isinstance(verification, UnknownVerification):
            expected = raw["email_addresses"][0]["verification"]
            assert verification.raw == expected
            assert unstructure(verification) == expected
            obj = expected.get("object")
            assert verification.object == (obj if isinstance(obj, str) else None)
    unknown = users[5].email_addresses[0].verification
    assert isinstance(unknown, UnknownVerification)
    assert (unknown.object, unknown.strategy) == ("verification_quantum", "email_code")


def test_known_kind_with_a_wrongly_typed_field_keeps_the_payload() -> None:
    # A null where the kind requires an int: not a decode error (verifications
    # are a union Clerk extends), but not a half-typed OAuthVerification either.
    odd = _verification("verification_oauth", "oauth_tiktok", "pending")
    user = _user(1, odd)
    decoded = structure(user, User)
    verification = decoded.email_addresses[0].verification
    assert isinstance(verification, UnknownVerification)
    assert verification.raw == odd and verification.status == "pending"


def test_missing_optional_fields_are_none() -> None:
    user = _user(1, None)
    for key in ("locale", "image_url", "private_metadata", "scim", "organization_memberships"):
        user.pop(key, None)
    decoded = structure(user, User)
    assert decoded.locale is None and decoded.scim is None
    assert decoded.organization_memberships is None
