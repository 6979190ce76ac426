"""In-memory records for users and what hangs off them, and their JSON shapes.

Records are plain mutable dataclasses; ``render_*`` builds the API's JSON with
every property the spec marks as required (absent values as null), so each
response validates against the published schemas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Email",
    "ExternalAccount",
    "Invitation",
    "Membership",
    "OAuthToken",
    "Organization",
    "Passkey",
    "Phone",
    "TrustedDevice",
    "User",
    "Wallet",
    "render_user",
]

JSON = dict[str, Any]

_ADMIN = {
    "object": "verification_admin",
    "status": "verified",
    "strategy": "admin",
    "attempts": None,
    "expire_at": None,
}
DEFAULT_IMAGE = "https://img.clerk.com/default-avatar"


@dataclass
class Email:
    id: str
    email_address: str
    reserved: bool
    created_at: int
    linked_to: list[JSON] = field(default_factory=list)

    def render(self) -> JSON:
        return {
            "id": self.id,
            "object": "email_address",
            "email_address": self.email_address,
            "reserved": self.reserved,
            # A reserved address is held for the user but not yet verified.
            "verification": None if self.reserved else dict(_ADMIN),
            "linked_to": self.linked_to,
            "matches_sso_connection": False,
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }


@dataclass
class Phone:
    id: str
    phone_number: str
    reserved: bool
    created_at: int
    reserved_for_second_factor: bool = False

    def render(self) -> JSON:
        return {
            "id": self.id,
            "object": "phone_number",
            "phone_number": self.phone_number,
            "reserved_for_second_factor": self.reserved_for_second_factor,
            "default_second_factor": self.reserved_for_second_factor,
            "reserved": self.reserved,
            "verification": None if self.reserved else dict(_ADMIN),
            "linked_to": [],
            "backup_codes": None,
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }


@dataclass
class Wallet:
    id: str
    web3_wallet: str
    created_at: int

    def render(self) -> JSON:
        return {
            "id": self.id,
            "object": "web3_wallet",
            "web3_wallet": self.web3_wallet,
            "verification": dict(_ADMIN),
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }


@dataclass
class Passkey:
    id: str
    name: str
    last_used_at: int

    def render(self) -> JSON:
        return {
            "id": self.id,
            "object": "passkey",
            "name": self.name,
            "last_used_at": self.last_used_at,
            "verification": {
                "object": "verification_passkey",
                "status": "verified",
                "strategy": "passkey",
                "attempts": None,
                "expire_at": None,
            },
        }


@dataclass
class ExternalAccount:
    id: str
    identification_id: str
    provider: str  # "oauth_google"
    provider_user_id: str
    email_address: str
    created_at: int
    first_name: str = ""
    last_name: str = ""
    username: str | None = None
    approved_scopes: str = "email profile"

    def render(self) -> JSON:
        return {
            "object": "external_account",
            "id": self.id,
            "provider": self.provider,
            "identification_id": self.identification_id,
            "provider_user_id": self.provider_user_id,
            "approved_scopes": self.approved_scopes,
            "email_address": self.email_address,
            "email_address_verified": True,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "image_url": None,
            "username": self.username,
            "phone_number": None,
            "public_metadata": {},
            "label": None,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "verification": {
                "object": "verification_oauth",
                "status": "verified",
                "strategy": self.provider,
                "attempts": None,
                "expire_at": self.created_at + 600_000,
            },
        }


@dataclass
class OAuthToken:
    external_account_id: str
    provider: str
    provider_user_id: str
    token: str
    scopes: list[str]
    expires_at: int | None

    def render(self) -> JSON:
        return {
            "object": "oauth_access_token",
            "external_account_id": self.external_account_id,
            "provider_user_id": self.provider_user_id,
            "token": self.token,
            "expires_at": self.expires_at,
            "provider": self.provider,
            "public_metadata": {},
            "label": None,
            "scopes": self.scopes,
        }


@dataclass
class TrustedDevice:
    id: str
    platform: str
    app_identifier: str
    name: str | None
    created_at: int
    status: str = "active"
    revoked_at: int | None = None

    def render(self) -> JSON:
        return {
            "object": "trusted_device",
            "id": self.id,
            "platform": self.platform,
            "app_identifier": self.app_identifier,
            "name": self.name,
            "algorithm": "ES256",
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.revoked_at or self.created_at,
            "last_used_at": None,
            "revoked_at": self.revoked_at,
        }


@dataclass
class Organization:
    id: str
    name: str
    slug: str
    created_at: int

    def render(self, members_count: int) -> JSON:
        return {
            "object": "organization",
            "id": self.id,
            "name": self.name,
            "slug": self.slug,
            "image_url": DEFAULT_IMAGE,
            "has_image": False,
            "members_count": members_count,
            "pending_invitations_count": 0,
            "max_allowed_memberships": 0,
            "admin_delete_enabled": True,
            "public_metadata": {},
            "private_metadata": {},
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }


@dataclass
class Membership:
    id: str
    organization_id: str
    user_id: str
    role: str
    created_at: int
    permissions: list[str] = field(default_factory=list)


@dataclass
class Invitation:
    id: str
    organization_id: str
    user_id: str
    email_address: str
    role: str
    status: str
    created_at: int


@dataclass
class User:
    id: str
    seq: int  # creation order; ties on created_at break by it
    created_at: int
    updated_at: int
    external_id: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    emails: list[Email] = field(default_factory=list)
    phones: list[Phone] = field(default_factory=list)
    wallets: list[Wallet] = field(default_factory=list)
    passkeys: list[Passkey] = field(default_factory=list)
    external_accounts: list[ExternalAccount] = field(default_factory=list)
    primary_email_address_id: str | None = None
    primary_phone_number_id: str | None = None
    primary_web3_wallet_id: str | None = None
    image: bytes | None = None
    image_url: str = DEFAULT_IMAGE
    public_metadata: JSON = field(default_factory=dict)
    private_metadata: JSON = field(default_factory=dict)
    unsafe_metadata: JSON = field(default_factory=dict)
    password_hash: str | None = None  # "<hasher>$..." see _passwords
    password_last_updated_at: int | None = None
    password_compromised: bool = False
    totp_secret: str | None = None
    totp_verified: bool = False
    backup_codes: set[str] = field(default_factory=set)
    mfa_enabled_at: int | None = None
    mfa_disabled_at: int | None = None
    banned: bool = False
    locked_until_ms: int | None = None
    last_sign_in_at: int | None = None
    last_active_at: int | None = None
    legal_accepted_at: int | None = None
    delete_self_enabled: bool = True
    create_organization_enabled: bool = True
    create_organizations_limit: int | None = None
    bypass_client_trust: bool = False
    trusted_devices: list[TrustedDevice] = field(default_factory=list)
    oauth_tokens: list[OAuthToken] = field(default_factory=list)
    credit_cents: int = 0
    # Serialised JSON of this user, dropped on every change (see Store.touch).
    cached: bytes | None = None

    @property
    def totp_enabled(self) -> bool:
        return self.totp_secret is not None and self.totp_verified

    @property
    def two_factor_enabled(self) -> bool:
        return (
            self.totp_enabled
            or bool(self.backup_codes)
            or any(p.reserved_for_second_factor for p in self.phones)
        )

    def primary_value(self, kind: str) -> str | None:
        """The primary email / phone / wallet as text, for ordering and listings."""
        items: list[Any]
        if kind == "email_address":
            items, primary = self.emails, self.primary_email_address_id
        elif kind == "phone_number":
            items, primary = self.phones, self.primary_phone_number_id
        else:
            items, primary = self.wallets, self.primary_web3_wallet_id
        for item in items:
            if item.id == primary:
                return str(getattr(item, kind))
        return None


def render_user(user: User, now_ms: int) -> JSON:
    locked = user.locked_until_ms is not None and user.locked_until_ms > now_ms
    lockout = None
    if locked and user.locked_until_ms is not None:
        lockout = -(-(user.locked_until_ms - now_ms) // 1000)  # whole seconds, rounded up
    has_image = user.image is not None
    return {
        "id": user.id,
        "object": "user",
        "external_id": user.external_id,
        "primary_email_address_id": user.primary_email_address_id,
        "primary_phone_number_id": user.primary_phone_number_id,
        "primary_web3_wallet_id": user.primary_web3_wallet_id,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "locale": user.locale,
        "profile_image_url": user.image_url,
        "image_url": user.image_url,
        "has_image": has_image,
        "public_metadata": user.public_metadata,
        "private_metadata": user.private_metadata,
        "unsafe_metadata": user.unsafe_metadata,
        "email_addresses": [e.render() for e in user.emails],
        "phone_numbers": [p.render() for p in user.phones],
        "web3_wallets": [w.render() for w in user.wallets],
        "passkeys": [p.render() for p in user.passkeys],
        "password_enabled": user.password_hash is not None,
        "two_factor_enabled": user.two_factor_enabled,
        "totp_enabled": user.totp_enabled,
        "backup_code_enabled": bool(user.backup_codes),
        "mfa_enabled_at": user.mfa_enabled_at,
        "mfa_disabled_at": user.mfa_disabled_at,
        "password_last_updated_at": user.password_last_updated_at,
        "external_accounts": [a.render() for a in user.external_accounts],
        "saml_accounts": [],
        "enterprise_accounts": [],
        "last_sign_in_at": user.last_sign_in_at,
        "banned": user.banned,
        "locked": locked,
        "lockout_expires_in_seconds": lockout,
        "verification_attempts_remaining": 0 if locked else 100,
        "updated_at": user.updated_at,
        "created_at": user.created_at,
        "delete_self_enabled": user.delete_self_enabled,
        "create_organization_enabled": user.create_organization_enabled,
        "create_organizations_limit": user.create_organizations_limit,
        "last_active_at": user.last_active_at,
        "legal_accepted_at": user.legal_accepted_at,
        "bypass_client_trust": user.bypass_client_trust,
    }
