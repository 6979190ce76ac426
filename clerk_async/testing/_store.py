"""The fake's state: users with their identifiers and credentials, and the indexes
that keep look-ups O(1) and created_at-ordered paging O(page)."""

from __future__ import annotations

import bisect
import hmac
import re
from collections.abc import Mapping
from typing import Any

from . import _hashers, _passwords, _totp
from ._clock import Clock, wall_clock
from ._errors import (
    FakeError,
    identifier_exists,
    identifier_missing,
    not_found,
    param_invalid,
    param_missing,
)
from ._ids import IdFactory
from ._model import Email, Phone, User, Wallet
from ._params import rfc3339_ms
from ._seeding import SeedingMixin

__all__ = ["Store"]

# No whitespace and no control characters (a NUL in an address is refused).
_EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+\Z")
_PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")
_WALLET_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_USERNAME_RE = re.compile(r"^[a-z0-9_-]+$")
_METADATA = ("public_metadata", "private_metadata", "unsafe_metadata")

OrderKey = tuple[int, int]


class Store(SeedingMixin):
    """Everything FakeClerk knows. Seed it directly (``add_user``, ``seed_*``) and
    inspect it in assertions (``users``, ``get``, ``find``)."""

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Clock = wall_clock,
        lockout_seconds: int = 3600,
        require_identifier: bool = True,
    ):
        self.ids = IdFactory(seed)
        self.clock = clock
        self.lockout_seconds = lockout_seconds
        self.require_identifier = require_identifier
        self.users: dict[str, User] = {}
        # Unique identifiers, normalised (lower case), each mapped to its user id.
        self.by_email: dict[str, str] = {}
        self.by_phone: dict[str, str] = {}
        self.by_username: dict[str, str] = {}
        self.by_external_id: dict[str, str] = {}
        self.by_wallet: dict[str, str] = {}
        # Users sorted by (created_at, seq), in two parallel lists so a cursor is
        # found by bisection. Deleted users leave their key behind in _gone so a
        # cursor naming one still works.
        self.order_keys: list[OrderKey] = []
        self.order_ids: list[str] = []
        self.gone: dict[str, OrderKey] = {}
        #: Stand-in for AWS Cognito behind the awscognito hasher:
        #: (user pool id, app client id, identifier) -> password. Clerk asks the pool
        #: at first sign-in and then keeps its own hash; the fake does the same.
        self.cognito_users: dict[tuple[str, str, str], str] = {}
        self._seq = 0
        self.instance_id = self.ids.new("ins")
        SeedingMixin.__init__(self)

    # -- basics ---------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def get(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise not_found("user")
        return user

    def find(self, identifier: str) -> User | None:
        """The user owning this email, phone, username, external id or wallet."""
        key = identifier.lower()
        for index in (self.by_email, self.by_phone, self.by_username, self.by_wallet):
            if key in index:
                return self.users[index[key]]
        user_id = self.by_external_id.get(identifier)
        return self.users[user_id] if user_id else None

    def touch(self, user: User) -> None:
        user.updated_at = max(self.now_ms(), user.created_at)
        user.cached = None

    def order_key(self, user_id: str) -> OrderKey | None:
        user = self.users.get(user_id)
        return (user.created_at, user.seq) if user else self.gone.get(user_id)

    # -- create / update / delete ---------------------------------------------

    def create_user(self, body: Mapping[str, Any]) -> User:
        now = self.now_ms()
        emails = [self._check_email(e) for e in body.get("email_address") or []]
        phones = [self._check_phone(p) for p in body.get("phone_number") or []]
        wallets = [self._check_wallet(w) for w in body.get("web3_wallet") or []]
        for name, values in (
            ("email_address", emails),
            ("phone_number", phones),
            ("web3_wallet", [w.lower() for w in wallets]),
        ):
            if len(set(values)) != len(values):
                raise identifier_exists(name)
        email_status = self._statuses(body, "email_address_identification_status", emails)
        phone_status = self._statuses(body, "phone_number_identification_status", phones)
        username = self._check_username(body.get("username"), None)
        external_id = self._check_external_id(body.get("external_id"), None)
        if (
            self.require_identifier
            and not (emails or phones or wallets or username)
            and not body.get("skip_user_requirement")
        ):
            raise identifier_missing()
        password_hash = self._password_from(body)
        created_at = now
        if body.get("created_at") is not None:
            created_at = rfc3339_ms("created_at", body["created_at"])
        legal = body.get("legal_accepted_at")

        self._seq += 1
        user = User(
            id=self.ids.new("user"),
            seq=self._seq,
            created_at=created_at,
            updated_at=max(now, created_at),
        )
        user.emails = [
            Email(self.ids.new("idn"), e, s == "reserved", now)
            for e, s in zip(emails, email_status, strict=True)
        ]
        user.phones = [
            Phone(self.ids.new("idn"), p, s == "reserved", now)
            for p, s in zip(phones, phone_status, strict=True)
        ]
        user.wallets = [Wallet(self.ids.new("idn"), w, now) for w in wallets]
        user.primary_email_address_id = user.emails[0].id if user.emails else None
        user.primary_phone_number_id = user.phones[0].id if user.phones else None
        user.primary_web3_wallet_id = user.wallets[0].id if user.wallets else None
        user.username, user.external_id = username, external_id
        user.first_name, user.last_name = body.get("first_name"), body.get("last_name")
        user.locale = body.get("locale")
        if password_hash:
            user.password_hash, user.password_last_updated_at = password_hash, now
        for name in _METADATA:
            setattr(user, name, dict(body.get(name) or {}))
        user.legal_accepted_at = rfc3339_ms("legal_accepted_at", legal) if legal else None
        for flag in (
            "delete_self_enabled",
            "create_organization_enabled",
            "bypass_client_trust",
            "banned",
        ):
            if body.get(flag) is not None:
                setattr(user, flag, body[flag])
        user.create_organizations_limit = body.get("create_organizations_limit")
        if body.get("locked"):
            user.locked_until_ms = now + self.lockout_seconds * 1000
        self._set_mfa(user, body.get("totp_secret"), body.get("backup_codes"))
        self._index(user)
        return user

    def update_user(self, user: User, body: Mapping[str, Any]) -> User:
        # Validate everything first so a refused update changes nothing.
        changes: dict[str, Any] = {}
        if "username" in body:
            changes["username"] = self._check_username(body["username"] or None, user)
        if "external_id" in body:
            changes["external_id"] = self._check_external_id(body["external_id"] or None, user)
        for field, items in (
            ("primary_email_address_id", user.emails),
            ("primary_phone_number_id", user.phones),
            ("primary_web3_wallet_id", user.wallets),
        ):
            wanted = body.get(field)
            if wanted is not None:
                match = [i for i in items if i.id == wanted]
                if not match or getattr(match[0], "reserved", False):
                    raise param_invalid(
                        field,
                        "must name a verified identifier of this user",
                        "form_param_value_invalid",
                    )
                changes[field] = wanted
        if body.get("password") is not None or body.get("password_digest") is not None:
            changes["password_hash"] = self._password_from(body)
        if body.get("created_at") is not None:
            changes["created_at"] = rfc3339_ms("created_at", body["created_at"])
        if body.get("legal_accepted_at") is not None:
            changes["legal_accepted_at"] = rfc3339_ms(
                "legal_accepted_at", body["legal_accepted_at"]
            )
        for name in ("first_name", "last_name", "locale", "create_organizations_limit"):
            if name in body:
                changes[name] = body[name]
        for flag in ("delete_self_enabled", "create_organization_enabled", "bypass_client_trust"):
            if body.get(flag) is not None:
                changes[flag] = body[flag]
        if body.get("totp_secret") is not None:
            self._check_totp_secret(body["totp_secret"])
        for name in _METADATA:  # older API versions replace metadata here
            if name in body:
                changes[name] = dict(body[name] or {})

        self._unindex(user)
        for name, value in changes.items():
            setattr(user, name, value)
        if "password_hash" in changes:
            user.password_last_updated_at = self.now_ms()
            user.password_compromised = False
        if "totp_secret" in body or "backup_codes" in body:
            self._set_mfa(user, body.get("totp_secret"), body.get("backup_codes"))
        self._index(user)
        self.touch(user)
        return user

    def delete_user(self, user: User) -> None:
        self._unindex(user)
        del self.users[user.id]
        self.gone[user.id] = (user.created_at, user.seq)
        self.forget_user_extras(user.id)

    def _index(self, user: User) -> None:
        self.users[user.id] = user
        for email in user.emails:
            self.by_email[email.email_address] = user.id
        for phone in user.phones:
            self.by_phone[phone.phone_number] = user.id
        for wallet in user.wallets:
            self.by_wallet[wallet.web3_wallet.lower()] = user.id
        if user.username:
            self.by_username[user.username] = user.id
        if user.external_id:
            self.by_external_id[user.external_id] = user.id
        key = (user.created_at, user.seq)
        pos = bisect.bisect_left(self.order_keys, key)
        self.order_keys.insert(pos, key)
        self.order_ids.insert(pos, user.id)

    def _unindex(self, user: User) -> None:
        for email in user.emails:
            self.by_email.pop(email.email_address, None)
        for phone in user.phones:
            self.by_phone.pop(phone.phone_number, None)
        for wallet in user.wallets:
            self.by_wallet.pop(wallet.web3_wallet.lower(), None)
        if user.username:
            self.by_username.pop(user.username, None)
        if user.external_id:
            self.by_external_id.pop(user.external_id, None)
        pos = bisect.bisect_left(self.order_keys, (user.created_at, user.seq))
        del self.order_keys[pos]
        del self.order_ids[pos]

    # -- validation -------------------------------------------------------------

    def _taken(self, index: dict[str, str], key: str, owner: User | None) -> bool:
        holder = index.get(key)
        return holder is not None and (owner is None or holder != owner.id)

    def _check_email(self, email: str) -> str:
        email = email.strip().lower()
        if not _EMAIL_RE.match(email):
            raise param_invalid("email_address", "must be a valid email address")
        if email in self.by_email:
            raise identifier_exists("email_address")
        return email

    def _check_phone(self, phone: str) -> str:
        if not _PHONE_RE.match(phone):
            raise param_invalid("phone_number", "must be in E.164 format, like +15555550100")
        if phone in self.by_phone:
            raise identifier_exists("phone_number")
        return phone

    def _check_wallet(self, wallet: str) -> str:
        if not _WALLET_RE.match(wallet):
            raise param_invalid("web3_wallet", "must be 0x followed by 40 hex digits")
        if wallet.lower() in self.by_wallet:
            raise identifier_exists("web3_wallet")
        return wallet

    def _check_username(self, username: str | None, owner: User | None) -> str | None:
        if username is None:
            return None
        username = username.lower()
        if not 4 <= len(username) <= 64:
            raise param_invalid(
                "username",
                "must be between 4 and 64 characters long",
                "form_username_invalid_length",
            )
        if not _USERNAME_RE.match(username):
            raise param_invalid(
                "username",
                "may contain only letters, digits, _ and -",
                "form_username_invalid_character",
            )
        if self._taken(self.by_username, username, owner):
            raise identifier_exists("username")
        return username

    def _check_external_id(self, external_id: str | None, owner: User | None) -> str | None:
        if external_id is not None and self._taken(self.by_external_id, external_id, owner):
            raise identifier_exists("external_id")
        return external_id

    @staticmethod
    def _statuses(body: Mapping[str, Any], name: str, values: list[str]) -> list[str]:
        statuses: list[str] = body.get(name) or []
        if not statuses:
            return ["verified"] * len(values)
        if len(statuses) != len(values):
            raise param_invalid(
                name, "needs exactly one status per identifier", "form_param_value_invalid"
            )
        for status in statuses:
            if status not in ("verified", "reserved"):
                raise param_invalid(
                    name, "items must be 'verified' or 'reserved'", "form_param_value_invalid"
                )
        return statuses

    @staticmethod
    def _password_from(body: Mapping[str, Any]) -> str | None:
        password, digest = body.get("password"), body.get("password_digest")
        if digest is not None:
            hasher = body.get("password_hasher")
            if hasher is None:
                raise param_missing("password_hasher")
            if not hasher or "$" in hasher:
                raise param_invalid(
                    "password_hasher", "is not a hasher name", "form_param_value_invalid"
                )
            # A hasher the fake does not know is accepted, as Clerk adds hashers
            # over time; a known one's digest must have its documented shape.
            try:
                _hashers.parse_digest(hasher, digest)
            except _hashers.DigestFormatError as exc:
                raise param_invalid("password_digest", f"not a {hasher} digest: {exc}") from None
            return _passwords.imported_digest(hasher, digest)
        if password is None:
            return None
        if len(password) < 8 and not body.get("skip_password_checks"):
            raise FakeError(
                422,
                "form_password_length_too_short",
                "Passwords must be 8 characters or more.",
                "The password is shorter than 8 characters.",
                {"param_name": "password"},
            )
        return _passwords.hash_password(password)

    # -- credentials and MFA ----------------------------------------------------

    def _set_mfa(self, user: User, secret: str | None, codes: list[str] | None) -> None:
        was = user.two_factor_enabled
        if secret is not None:
            self._check_totp_secret(secret)
            user.totp_secret, user.totp_verified = secret, True
        if codes is not None:
            user.backup_codes = set(codes)
        self.mfa_changed(user, was)

    @staticmethod
    def _check_totp_secret(secret: str) -> None:
        try:
            _totp.totp_code(secret, 0)
        except (ValueError, TypeError):
            raise param_invalid("totp_secret", "must be a base32 secret") from None

    def mfa_changed(self, user: User, was_enabled: bool) -> None:
        now = user.two_factor_enabled
        if now and not was_enabled:
            user.mfa_enabled_at, user.mfa_disabled_at = self.now_ms(), None
        elif was_enabled and not now:
            user.mfa_disabled_at = self.now_ms()

    def verify_password(self, user: User, password: str) -> None:
        if user.password_hash is None:
            raise FakeError(
                400,
                "password_not_set",
                "This user has no password.",
                "The user has no password, so there is nothing to verify.",
            )
        outcome, why = self._cognito_check(user, password)
        if outcome is None:
            outcome, why = _passwords.check_password(user.password_hash, password)
        if outcome == "unverifiable":
            # Not a Clerk answer: the fake says plainly that it could not check,
            # rather than pretending the password is wrong (or right).
            raise FakeError(
                422,
                "password_unverifiable",
                "FakeClerk cannot verify this password digest.",
                f"FakeClerk cannot verify this password: {why}.",
                {"param_name": "password"},
            )
        if outcome != "verified":
            raise FakeError(
                422,
                "incorrect_password",
                "Password is incorrect.",
                "The password does not match the user's password.",
                {"param_name": "password"},
            )

    def _cognito_check(self, user: User, password: str) -> tuple[str | None, str]:
        hasher, _, digest = (user.password_hash or "").partition("$")
        if hasher != "awscognito":
            return None, ""
        _, pool, client, identifier = digest.split("#", 3)
        known = self.cognito_users.get((pool, client, identifier))
        if known is None:
            return None, ""  # no stand-in pool: reported as unverifiable
        if not hmac.compare_digest(known.encode(), password.encode()):
            return "mismatch", ""
        user.password_hash = _passwords.hash_password(password)  # migrated, as Clerk does
        return "verified", ""

    def verify_totp(self, user: User, code: str) -> str:
        """Return "totp" or "backup_code"; a backup code is used up."""
        if user.totp_secret is None and not user.backup_codes:
            raise FakeError(
                400,
                "totp_not_enabled",
                "TOTP is not set up for this user.",
                "The user has neither a TOTP secret nor backup codes.",
            )
        if user.totp_secret and _totp.verify_code(user.totp_secret, code, self.clock()):
            if not user.totp_verified:
                was = user.two_factor_enabled
                user.totp_verified = True
                self.mfa_changed(user, was)
                self.touch(user)
            return "totp"
        if code in user.backup_codes:
            was = user.two_factor_enabled
            user.backup_codes.discard(code)
            self.mfa_changed(user, was)
            self.touch(user)
            return "backup_code"
        raise FakeError(
            422,
            "form_code_incorrect",
            "Incorrect code",
            "The code is neither a current TOTP code nor an unused backup code.",
            {"param_name": "code"},
        )

    def create_totp(self, user: User) -> dict[str, Any]:
        # Unverified until the first correct code, as when a user enrols an app.
        was = user.two_factor_enabled
        user.totp_secret = _totp.new_secret(self.ids.rng)
        user.totp_verified = False
        self.mfa_changed(user, was)
        self.touch(user)
        account = user.primary_value("email_address") or user.username or user.id
        return {
            "object": "totp",
            "id": self.ids.new("totp"),
            "secret": user.totp_secret,
            "uri": _totp.otpauth_uri(user.totp_secret, account),
            "verified": False,
            "backup_codes": None,
        }

    def clear_mfa(self, user: User, *, totp: bool, backup: bool, phones: bool) -> None:
        was = user.two_factor_enabled
        if totp:
            user.totp_secret, user.totp_verified = None, False
        if backup:
            user.backup_codes = set()
        if phones:
            for phone in user.phones:
                phone.reserved_for_second_factor = False
        self.mfa_changed(user, was)
        if was and totp and backup and phones:
            user.mfa_disabled_at = self.now_ms()
        self.touch(user)
