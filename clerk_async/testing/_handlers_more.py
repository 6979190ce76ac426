"""Handlers for everything else hanging off a user: passwords, MFA, passkeys,
wallets, external accounts, trusted devices, OAuth tokens, organizations, billing."""

from __future__ import annotations

from aiohttp import web

from ._errors import not_found, param_invalid
from ._model import Membership
from ._params import check_body, query_bool, query_int
from ._web import Handler, Route, json_response, read_json, store_of, user_response

__all__ = ["ROUTES"]


def _page(request: web.Request) -> tuple[int, int]:
    limit = query_int(request.query, "limit", 10, minimum=1) or 10
    if limit > 500:
        raise param_invalid("limit", "must be at most 500", "form_param_value_invalid")
    return limit, query_int(request.query, "offset", 0, minimum=0) or 0


async def remove_password(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    user = store.get(request.match_info["user_id"])
    check_body(await read_json(request), {"sign_out_of_other_sessions": "bool"})
    if user.password_hash is not None:  # without a password the user comes back unchanged
        user.password_hash = None
        user.password_compromised = False
        store.touch(user)
    return user_response(store, user)


async def verify_password(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    user = store.get(request.match_info["user_id"])
    body = await read_json(request)
    check_body(body, {"password": "str"}, required=["password"])
    store.verify_password(user, body["password"])
    return json_response({"verified": True})


async def verify_totp(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    user = store.get(request.match_info["user_id"])
    body = await read_json(request)
    check_body(body, {"code": "str"}, required=["code"])
    kind = store.verify_totp(user, body["code"].strip())
    return json_response({"verified": True, "code_type": kind})


def _clear_mfa(*, totp: bool, backup: bool, phones: bool) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        store = store_of(request)
        user = store.get(request.match_info["user_id"])
        store.clear_mfa(user, totp=totp, backup=backup, phones=phones)
        return json_response({"user_id": user.id})

    return handler


async def create_totp(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    return json_response(store.create_totp(store.get(request.match_info["user_id"])))


def _delete_child(attr: str, param: str, object_name: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        store = store_of(request)
        user = store.get(request.match_info["user_id"])
        wanted = request.match_info[param]
        items = getattr(user, attr)
        removed = next((item for item in items if item.id == wanted), None)
        if removed is None:
            raise not_found(object_name.replace("_", " "))
        items.remove(removed)
        if attr == "wallets":
            store.by_wallet.pop(removed.web3_wallet.lower(), None)
            if user.primary_web3_wallet_id == wanted:
                user.primary_web3_wallet_id = items[0].id if items else None
        if attr == "external_accounts":
            user.oauth_tokens = [t for t in user.oauth_tokens if t.external_account_id != wanted]
        store.touch(user)
        return json_response({"object": object_name, "id": wanted, "deleted": True})

    return handler


def _compromised(value: bool) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        store = store_of(request)
        user = store.get(request.match_info["user_id"])
        if value:
            check_body(await read_json(request), {"revoke_all_sessions": "bool"})
        if user.password_hash is None:
            raise param_invalid("password", "the user has no password", "form_param_value_invalid")
        user.password_compromised = value
        store.touch(user)
        return user_response(store, user)

    return handler


async def list_trusted_devices(request: web.Request) -> web.StreamResponse:
    user = store_of(request).get(request.match_info["user_id"])
    active = [d.render() for d in user.trusted_devices if d.status == "active"]
    return json_response({"data": active, "total_count": len(active)})


async def revoke_trusted_device(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    user = store.get(request.match_info["user_id"])
    wanted = request.match_info["trusted_device_id"]
    for device in user.trusted_devices:
        if device.id == wanted and device.status == "active":
            device.status, device.revoked_at = "revoked", store.now_ms()
            return json_response(device.render())
    raise not_found("trusted device")


async def get_oauth_access_token(request: web.Request) -> web.StreamResponse:
    user = store_of(request).get(request.match_info["user_id"])
    provider = request.match_info["provider"]
    # Both spellings are seen in the wild: "oauth_google" and "google".
    wanted = {provider, f"oauth_{provider}", provider.removeprefix("oauth_")}
    tokens = [t.render() for t in user.oauth_tokens if t.provider in wanted]
    if query_bool(request.query, "paginated"):
        # What Clerk's own SDKs expect from paginated=true: an envelope.
        limit, offset = _page(request)
        return json_response({"data": tokens[offset : offset + limit], "total_count": len(tokens)})
    return json_response(tokens)


async def user_memberships(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    user = store.get(request.match_info["user_id"])
    limit, offset = _page(request)
    rows = [m for m in store.memberships.values() if m.user_id == user.id]
    rows.sort(key=lambda m: m.created_at, reverse=True)
    data = [store.render_membership(m) for m in rows[offset : offset + limit]]
    return json_response({"data": data, "total_count": len(rows)})


async def user_invitations(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    user = store.get(request.match_info["user_id"])
    limit, offset = _page(request)
    status = request.query.get("status")
    if status is not None and status not in ("pending", "accepted", "revoked", "expired"):
        raise param_invalid(
            "status", "must be pending, accepted, revoked or expired", "form_param_value_invalid"
        )
    rows = [
        i
        for i in store.invitations.values()
        if i.user_id == user.id and (status is None or i.status == status)
    ]
    rows.sort(key=lambda i: i.created_at, reverse=True)
    data = [store.render_invitation(i) for i in rows[offset : offset + limit]]
    return json_response({"data": data, "total_count": len(rows)})


_MEMBERSHIP_ORDER = (
    "phone_number",
    "email_address",
    "created_at",
    "first_name",
    "last_name",
    "username",
)


async def instance_memberships(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    limit, offset = _page(request)
    raw = request.query.get("order_by") or "-created_at"
    field, desc = raw.lstrip("+- "), raw.startswith("-")
    if field not in _MEMBERSHIP_ORDER:
        raise param_invalid(
            "order_by", f"must be one of {', '.join(_MEMBERSHIP_ORDER)}", "form_param_value_invalid"
        )

    def key(m: Membership) -> tuple[bool, str, int]:
        if field == "created_at":
            return (False, "", m.created_at)
        user = store.users[m.user_id]
        value = (
            user.primary_value(field)
            if field in ("email_address", "phone_number")
            else getattr(user, field)
        )
        return (value is None, value or "", m.created_at)

    rows = sorted(store.memberships.values(), key=key, reverse=desc)
    data = [store.render_membership(m) for m in rows[offset : offset + limit]]
    return json_response({"data": data, "total_count": len(rows)})


async def billing_subscription(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    return json_response(store.subscription(store.get(request.match_info["user_id"])))


async def billing_credits(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    return json_response(store.credit_balance(store.get(request.match_info["user_id"])))


async def adjust_credits(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    user = store.get(request.match_info["user_id"])
    body = await read_json(request)
    check_body(
        body,
        {
            "amount": "int",
            "action": "str",
            "currency": "str",
            "idempotency_key": "str",
            "note": "str",
        },
        required=["amount", "action", "idempotency_key"],
    )
    return json_response(store.adjust_credits(user, body))


U = "/users/{user_id}"
ROUTES: list[Route] = [
    (
        "GET",
        "/organization_memberships",
        "InstanceGetOrganizationMemberships",
        instance_memberships,
    ),
    ("GET", U + "/billing/subscription", "GetUserBillingSubscription", billing_subscription),
    ("GET", U + "/billing/credits", "GetUserBillingCreditBalance", billing_credits),
    ("POST", U + "/billing/credits", "AdjustUserBillingCreditBalance", adjust_credits),
    ("GET", U + "/oauth_access_tokens/{provider}", "GetOAuthAccessToken", get_oauth_access_token),
    ("GET", U + "/organization_memberships", "UsersGetOrganizationMemberships", user_memberships),
    ("GET", U + "/organization_invitations", "UsersGetOrganizationInvitations", user_invitations),
    ("POST", U + "/remove_password", "RemoveUserPassword", remove_password),
    ("POST", U + "/verify_password", "VerifyPassword", verify_password),
    ("POST", U + "/verify_totp", "VerifyTOTP", verify_totp),
    ("DELETE", U + "/mfa", "DisableMFA", _clear_mfa(totp=True, backup=True, phones=True)),
    (
        "DELETE",
        U + "/backup_code",
        "DeleteBackupCode",
        _clear_mfa(totp=False, backup=True, phones=False),
    ),
    (
        "DELETE",
        U + "/passkeys/{passkey_identification_id}",
        "UserPasskeyDelete",
        _delete_child("passkeys", "passkey_identification_id", "passkey"),
    ),
    (
        "DELETE",
        U + "/web3_wallets/{web3_wallet_identification_id}",
        "UserWeb3WalletDelete",
        _delete_child("wallets", "web3_wallet_identification_id", "web3_wallet"),
    ),
    ("POST", U + "/totp", "CreateUserTOTP", create_totp),
    ("DELETE", U + "/totp", "DeleteTOTP", _clear_mfa(totp=True, backup=False, phones=False)),
    (
        "DELETE",
        U + "/external_accounts/{external_account_id}",
        "DeleteExternalAccount",
        _delete_child("external_accounts", "external_account_id", "external_account"),
    ),
    ("POST", U + "/password/set_compromised", "SetUserPasswordCompromised", _compromised(True)),
    (
        "POST",
        U + "/password/unset_compromised",
        "UnsetUserPasswordCompromised",
        _compromised(False),
    ),
    ("GET", U + "/trusted_devices", "ListUserTrustedDevices", list_trusted_devices),
    (
        "DELETE",
        U + "/trusted_devices/{trusted_device_id}",
        "RevokeUserTrustedDevice",
        revoke_trusted_device,
    ),
]
