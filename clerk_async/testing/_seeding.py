"""The parts of the store around a user: sub-resources tests seed directly
(passkeys, external accounts, OAuth tokens, trusted devices, organizations) and
billing. Mixed into :class:`~clerk_async.testing._store.Store`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ._errors import FakeError, not_found, param_invalid
from ._model import (
    DEFAULT_IMAGE,
    ExternalAccount,
    Invitation,
    Membership,
    OAuthToken,
    Organization,
    Passkey,
    TrustedDevice,
    User,
)

if TYPE_CHECKING:
    from ._ids import IdFactory

__all__ = ["SeedingMixin", "money"]

JSON = dict[str, Any]


def money(cents: int, currency: str = "USD") -> JSON:
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency, currency)
    return {
        "amount": cents,
        "amount_formatted": f"{cents / 100:.2f}",
        "currency": currency,
        "currency_symbol": symbol,
    }


class SeedingMixin:
    if TYPE_CHECKING:
        ids: IdFactory
        users: dict[str, User]
        instance_id: str

        def now_ms(self) -> int: ...
        def get(self, user_id: str) -> User: ...
        def touch(self, user: User) -> None: ...
        def create_user(self, body: Mapping[str, Any]) -> User: ...

    def __init__(self) -> None:
        self.organizations: dict[str, Organization] = {}
        self.memberships: dict[str, Membership] = {}
        self.invitations: dict[str, Invitation] = {}
        self.subscriptions: dict[str, JSON] = {}
        self.ledger: dict[tuple[str, str], tuple[tuple[Any, ...], JSON]] = {}

    # -- users ------------------------------------------------------------------

    def add_user(
        self,
        *,
        email_address: str | Iterable[str] | None = None,
        phone_number: str | Iterable[str] | None = None,
        web3_wallet: str | Iterable[str] | None = None,
        created_at: int | None = None,
        last_active_at: int | None = None,
        last_sign_in_at: int | None = None,
        **body: Any,
    ) -> User:
        """Create a user without going through HTTP (no auth, quota or faults).

        Takes the CreateUser body fields; identifiers may be a single string, and
        ``created_at`` / ``last_active_at`` / ``last_sign_in_at`` are epoch ms.
        """
        for name, value in (
            ("email_address", email_address),
            ("phone_number", phone_number),
            ("web3_wallet", web3_wallet),
        ):
            if value is not None:
                body[name] = [value] if isinstance(value, str) else list(value)
        if created_at is not None:
            body["created_at"] = datetime.fromtimestamp(created_at / 1000, timezone.utc).isoformat()
        user = self.create_user(body)
        user.last_active_at, user.last_sign_in_at = last_active_at, last_sign_in_at
        return user

    def seed_passkey(self, user_id: str, name: str = "My passkey") -> Passkey:
        user = self.get(user_id)
        passkey = Passkey(self.ids.new("idn"), name, self.now_ms())
        user.passkeys.append(passkey)
        self.touch(user)
        return passkey

    def seed_external_account(
        self,
        user_id: str,
        provider: str = "oauth_google",
        provider_user_id: str | None = None,
        email_address: str | None = None,
    ) -> ExternalAccount:
        user = self.get(user_id)
        account = ExternalAccount(
            id=self.ids.new("eac"),
            identification_id=self.ids.new("idn"),
            provider=provider,
            provider_user_id=provider_user_id or self.ids.token(21),
            email_address=email_address or user.primary_value("email_address") or "",
            created_at=self.now_ms(),
            first_name=user.first_name or "",
            last_name=user.last_name or "",
        )
        user.external_accounts.append(account)
        self.touch(user)
        return account

    def seed_oauth_access_token(
        self,
        user_id: str,
        provider: str = "oauth_google",
        token: str | None = None,
        scopes: Iterable[str] = ("email", "profile"),
        expires_at: int | None = None,
    ) -> OAuthToken:
        """Give the user a token for ``provider``, adding an external account if needed."""
        user = self.get(user_id)
        accounts = [a for a in user.external_accounts if a.provider == provider]
        account = accounts[0] if accounts else self.seed_external_account(user_id, provider)
        item = OAuthToken(
            account.id,
            provider,
            account.provider_user_id,
            token or f"ya29.{self.ids.token(40)}",
            list(scopes),
            expires_at,
        )
        user.oauth_tokens.append(item)
        return item

    def seed_trusted_device(
        self,
        user_id: str,
        platform: str = "ios",
        app_identifier: str = "com.example.app",
        name: str | None = None,
    ) -> TrustedDevice:
        user = self.get(user_id)
        device = TrustedDevice(self.ids.new("td"), platform, app_identifier, name, self.now_ms())
        user.trusted_devices.append(device)
        return device

    # -- organizations ------------------------------------------------------------

    def seed_organization(self, name: str = "Acme", slug: str | None = None) -> Organization:
        org = Organization(
            self.ids.new("org"), name, slug or name.lower().replace(" ", "-"), self.now_ms()
        )
        self.organizations[org.id] = org
        return org

    def seed_organization_membership(
        self,
        user_id: str,
        organization_id: str | None = None,
        role: str = "org:member",
        permissions: Iterable[str] = (),
    ) -> Membership:
        """Make the user a member; a new organization is made when none is named."""
        self.get(user_id)
        org_id = organization_id or self.seed_organization().id
        if org_id not in self.organizations:
            raise not_found("organization")
        membership = Membership(
            self.ids.new("orgmem"), org_id, user_id, role, self.now_ms(), list(permissions)
        )
        self.memberships[membership.id] = membership
        return membership

    def seed_organization_invitation(
        self,
        user_id: str,
        organization_id: str | None = None,
        status: str = "pending",
        role: str = "org:member",
    ) -> Invitation:
        user = self.get(user_id)
        org_id = organization_id or self.seed_organization().id
        invitation = Invitation(
            self.ids.new("orginv"),
            org_id,
            user_id,
            user.primary_value("email_address") or "",
            role,
            status,
            self.now_ms(),
        )
        self.invitations[invitation.id] = invitation
        return invitation

    def user_org_ids(self, user_id: str) -> set[str]:
        return {m.organization_id for m in self.memberships.values() if m.user_id == user_id}

    def render_membership(self, membership: Membership) -> JSON:
        org = self.organizations[membership.organization_id]
        members = sum(1 for m in self.memberships.values() if m.organization_id == org.id)
        user = self.users[membership.user_id]
        return {
            "id": membership.id,
            "object": "organization_membership",
            "role": membership.role,
            "role_name": membership.role.removeprefix("org:").title(),
            "permissions": membership.permissions,
            "public_metadata": {},
            "private_metadata": {},
            "organization": org.render(members),
            "public_user_data": {
                "user_id": user.id,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "profile_image_url": user.image_url,
                "image_url": user.image_url,
                "has_image": user.image is not None,
                "identifier": user.primary_value("email_address") or user.username,
                "username": user.username,
                "banned": user.banned,
                "deprovisioned": False,
            },
            "created_at": membership.created_at,
            "updated_at": membership.created_at,
        }

    def render_invitation(self, invitation: Invitation) -> JSON:
        org = self.organizations[invitation.organization_id]
        return {
            "object": "organization_invitation",
            "id": invitation.id,
            "email_address": invitation.email_address,
            "role": invitation.role,
            "role_name": invitation.role.removeprefix("org:").title(),
            "organization_id": org.id,
            "inviter_id": None,
            "public_inviter_data": None,
            "status": invitation.status,
            "public_metadata": {},
            "private_metadata": {},
            "url": None,
            "expires_at": invitation.created_at + 30 * 86_400_000,
            "created_at": invitation.created_at,
            "updated_at": invitation.created_at,
            "public_organization_data": {
                "id": org.id,
                "name": org.name,
                "slug": org.slug,
                "image_url": DEFAULT_IMAGE,
                "has_image": False,
            },
        }

    def forget_user_extras(self, user_id: str) -> None:
        for table in (self.memberships, self.invitations):
            for key in [k for k, v in table.items() if v.user_id == user_id]:
                del table[key]
        self.subscriptions.pop(user_id, None)

    # -- billing ------------------------------------------------------------------

    def payer_id(self, user_id: str) -> str:
        return "cpayer_" + user_id.removeprefix("user_")

    def subscription(self, user: User) -> JSON:
        """Every user is on a free monthly plan unless a test replaces this JSON."""
        sub = self.subscriptions.get(user.id)
        if sub is None:
            now, payer = self.now_ms(), self.payer_id(user.id)
            item = {
                "object": "commerce_subscription_item",
                "id": self.ids.new("csubi"),
                "instance_id": self.instance_id,
                "status": "active",
                "plan_id": "cplan_free",
                "plan_period": "month",
                "payer_id": payer,
                "is_free_trial": False,
                "period_start": now,
                "period_end": None,
                "canceled_at": None,
                "past_due_at": None,
                "ended_at": None,
                "created_at": now,
                "updated_at": now,
            }
            sub = {
                "object": "commerce_subscription",
                "id": self.ids.new("csub"),
                "instance_id": self.instance_id,
                "status": "active",
                "payer_id": payer,
                "created_at": now,
                "updated_at": now,
                "active_at": now,
                "past_due_at": None,
                "subscription_items": [item],
            }
            self.subscriptions[user.id] = sub
        return sub

    def credit_balance(self, user: User) -> JSON:
        return {"object": "commerce_credit_balance", "balance": money(user.credit_cents)}

    def adjust_credits(self, user: User, body: Mapping[str, Any]) -> JSON:
        amount, action = body["amount"], body["action"]
        currency = body.get("currency") or "USD"
        if action not in ("increase", "decrease"):
            raise param_invalid(
                "action", "must be increase or decrease", "form_param_value_invalid"
            )
        if amount <= 0:
            raise param_invalid("amount", "must be greater than zero", "form_param_value_invalid")
        key = (user.id, body["idempotency_key"])
        request = (amount, action, currency, body.get("note"))
        if key in self.ledger:
            seen, entry = self.ledger[key]
            if seen != request:
                raise FakeError(
                    409,
                    "idempotency_key_reused",
                    "Idempotency key already used",
                    "This idempotency key was used with different parameters.",
                    {"param_name": "idempotency_key"},
                )
            return entry
        delta = amount if action == "increase" else -amount
        if user.credit_cents + delta < 0:
            raise param_invalid(
                "amount", "would make the credit balance negative", "form_param_value_invalid"
            )
        user.credit_cents += delta
        entry = {
            "object": "commerce_credit_ledger",
            "id": self.ids.new("ccl"),
            "payer_id": self.payer_id(user.id),
            "amount": money(delta, currency),
            "source_type": "admin_adjustment",
            "source_id": body["idempotency_key"],
            "note": body.get("note"),
            "created_at": datetime.fromtimestamp(self.now_ms() / 1000, timezone.utc)
            .isoformat()
            .replace("+00:00", "Z"),
        }
        self.ledger[key] = (request, entry)
        return entry
