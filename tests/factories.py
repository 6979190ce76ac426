"""Minimal valid Clerk JSON objects for transport-level tests."""

from __future__ import annotations

from typing import Any


def user_json(user_id: str = "user_1", **overrides: Any) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": user_id,
        "object": "user",
        "username": None,
        "first_name": "Ada",
        "last_name": None,
        "has_image": False,
        "primary_email_address_id": None,
        "primary_phone_number_id": None,
        "primary_web3_wallet_id": None,
        "password_enabled": False,
        "two_factor_enabled": False,
        "totp_enabled": False,
        "backup_code_enabled": False,
        "email_addresses": [],
        "phone_numbers": [],
        "web3_wallets": [],
        "passkeys": [],
        "external_accounts": [],
        "saml_accounts": [],
        "enterprise_accounts": [],
        "public_metadata": {},
        "external_id": None,
        "last_sign_in_at": None,
        "banned": False,
        "locked": False,
        "lockout_expires_in_seconds": None,
        "verification_attempts_remaining": None,
        "created_at": 1700000000000,
        "updated_at": 1700000000000,
        "delete_self_enabled": True,
        "create_organization_enabled": True,
        "last_active_at": None,
        "mfa_enabled_at": None,
        "mfa_disabled_at": None,
        "legal_accepted_at": None,
    }
    user.update(overrides)
    return user


def error_json(code: str, message: str = "failed", trace: str = "trace_1") -> dict[str, Any]:
    return {
        "errors": [{"code": code, "message": message, "long_message": message + " (long)",
                    "meta": {}}],
        "clerk_trace_id": trace,
    }


class VirtualClock:
    """A clock and sleep pair: sleeping advances time instantly."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
