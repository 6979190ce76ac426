"""Handlers for the user operations proper: list, count, create, read, update,
delete, bans, locks, metadata and the profile image."""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ._errors import FakeError, param_invalid, param_unknown
from ._listing import count_users, list_users
from ._model import DEFAULT_IMAGE
from ._params import check_body
from ._web import Handler, Route, json_response, read_json, store_of, user_response

__all__ = ["ROUTES", "deep_merge"]

_META = {"public_metadata": "obj", "private_metadata": "obj", "unsafe_metadata": "obj"}
CREATE_FIELDS = {
    "external_id": "str",
    "first_name": "str",
    "last_name": "str",
    "locale": "str",
    "email_address": "strs",
    "email_address_identification_status": "strs",
    "phone_number": "strs",
    "phone_number_identification_status": "strs",
    "web3_wallet": "strs",
    "username": "str",
    "password": "str",
    "password_digest": "str",
    "password_hasher": "str",
    "skip_password_checks": "bool",
    "skip_password_requirement": "bool",
    "totp_secret": "str",
    "backup_codes": "strs",
    **_META,
    "delete_self_enabled": "bool",
    "legal_accepted_at": "str",
    "skip_legal_checks": "bool",
    "skip_user_requirement": "bool",
    "create_organization_enabled": "bool",
    "create_organizations_limit": "int",
    "created_at": "str",
    "bypass_client_trust": "bool",
    "banned": "bool",
    "locked": "bool",
}
UPDATE_FIELDS = {
    "external_id": "str",
    "first_name": "str",
    "last_name": "str",
    "locale": "str",
    "primary_email_address_id": "str",
    "notify_primary_email_address_changed": "bool",
    "primary_phone_number_id": "str",
    "primary_web3_wallet_id": "str",
    "username": "str",
    "profile_image_id": "str",
    "password": "str",
    "password_digest": "str",
    "password_hasher": "str",
    "skip_password_checks": "bool",
    "sign_out_of_other_sessions": "bool",
    "totp_secret": "str",
    "backup_codes": "strs",
    "delete_self_enabled": "bool",
    "create_organization_enabled": "bool",
    "legal_accepted_at": "str",
    "skip_legal_checks": "bool",
    "create_organizations_limit": "int",
    "created_at": "str",
    "bypass_client_trust": "bool",
    **_META,
}
#: From this API version on, UpdateUser no longer takes metadata (use /metadata).
METADATA_DROPPED_IN = "2026-05-12"


async def get_user_list(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    users = list_users(store, request.query)
    # Splice cached per-user JSON rather than re-encoding every user of the page.
    parts = [user_response(store, u).body for u in users]
    body = b"[" + b",".join(p for p in parts if isinstance(p, bytes)) + b"]"
    return web.Response(body=body, content_type="application/json")


async def get_users_count(request: web.Request) -> web.StreamResponse:
    total = count_users(store_of(request), request.query)
    return json_response({"object": "total_count", "total_count": total})


async def create_user(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    check_body(body, CREATE_FIELDS)
    store = store_of(request)
    return user_response(store, store.create_user(body))


async def get_user(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    return user_response(store, store.get(request.match_info["user_id"]))


async def update_user(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    user = store.get(request.match_info["user_id"])
    body = await read_json(request)
    check_body(body, UPDATE_FIELDS)
    version = request.headers.get("Clerk-API-Version", "")
    if version >= METADATA_DROPPED_IN:
        for name in _META:
            if name in body:
                raise param_unknown(name)
    return user_response(store, store.update_user(user, body))


async def delete_user(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    user = store.get(request.match_info["user_id"])
    store.delete_user(user)
    return json_response({"object": "user", "id": user.id, "deleted": True})


def _flag(attr: str, value: bool) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        store = store_of(request)
        user = store.get(request.match_info["user_id"])
        if attr == "locked":
            now = store.now_ms()
            user.locked_until_ms = now + store.lockout_seconds * 1000 if value else None
        else:
            setattr(user, attr, value)
        store.touch(user)
        return user_response(store, user)

    return handler


def _bulk(value: bool) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        store = store_of(request)
        body = await read_json(request)
        check_body(body, {"user_ids": "strs"}, required=["user_ids"])
        ids: list[str] = body["user_ids"]
        if not 1 <= len(ids) <= 50:
            raise param_invalid(
                "user_ids", "must hold between 1 and 50 ids", "form_param_value_invalid"
            )
        # Unknown ids are skipped, as list filters skip them, rather than failing the batch.
        users = [store.users[i] for i in dict.fromkeys(ids) if i in store.users]
        for user in users:
            user.banned = value
            store.touch(user)
        parts = [user_response(store, u).body for u in users]
        data = b"[" + b",".join(p for p in parts if isinstance(p, bytes)) + b"]"
        return web.Response(body=data, content_type="application/json")

    return handler


async def set_profile_image(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    user = store.get(request.match_info["user_id"])
    if not request.content_type.startswith("multipart/"):
        raise FakeError(
            400,
            "form_param_missing",
            "file must be included.",
            "Send the image as multipart/form-data in a field named 'file'.",
            {"param_name": "file"},
        )
    try:
        image = await _file_part(request)
    except (HttpProcessingError, ValueError) as exc:
        # aiohttp's multipart parser raises these on broken part headers; a
        # client's mistake is a 400, never the server's 500.
        raise FakeError(
            400,
            "malformed_request",
            "Malformed request body",
            f"The multipart body cannot be parsed: {type(exc).__name__}.",
        ) from None
    if not image:
        raise FakeError(
            400,
            "form_param_missing",
            "file must be included.",
            "The multipart body has no non-empty 'file' field.",
            {"param_name": "file"},
        )
    user.image = image
    user.image_url = f"https://img.clerk.com/{store.ids.token(40)}"
    store.touch(user)
    return user_response(store, user)


async def _file_part(request: web.Request) -> bytes | None:
    image: bytes | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and part.name == "file":
            image = bytes(await part.read())
    return image


async def delete_profile_image(request: web.Request) -> web.StreamResponse:
    store = store_of(request)
    user = store.get(request.match_info["user_id"])
    user.image, user.image_url = None, DEFAULT_IMAGE
    store.touch(user)
    return user_response(store, user)


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge ``patch`` into a copy of ``base``; nested objects merge, null deletes."""
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _metadata(merge: bool) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        store = store_of(request)
        user = store.get(request.match_info["user_id"])
        body = await read_json(request)
        # The spec's metadata objects are not nullable on this route.
        check_body(body, _META, not_null=_META)
        for name, value in body.items():
            if merge:
                setattr(user, name, deep_merge(getattr(user, name), value))
            else:
                setattr(user, name, dict(value))
        store.touch(user)
        return user_response(store, user)

    return handler


ROUTES: list[Route] = [
    ("GET", "/users", "GetUserList", get_user_list),
    ("POST", "/users", "CreateUser", create_user),
    ("GET", "/users/count", "GetUsersCount", get_users_count),
    ("POST", "/users/ban", "UsersBan", _bulk(True)),
    ("POST", "/users/unban", "UsersUnban", _bulk(False)),
    ("GET", "/users/{user_id}", "GetUser", get_user),
    ("PATCH", "/users/{user_id}", "UpdateUser", update_user),
    ("DELETE", "/users/{user_id}", "DeleteUser", delete_user),
    ("POST", "/users/{user_id}/ban", "BanUser", _flag("banned", True)),
    ("POST", "/users/{user_id}/unban", "UnbanUser", _flag("banned", False)),
    ("POST", "/users/{user_id}/lock", "LockUser", _flag("locked", True)),
    ("POST", "/users/{user_id}/unlock", "UnlockUser", _flag("locked", False)),
    ("POST", "/users/{user_id}/profile_image", "SetUserProfileImage", set_profile_image),
    ("DELETE", "/users/{user_id}/profile_image", "DeleteUserProfileImage", delete_profile_image),
    ("PATCH", "/users/{user_id}/metadata", "UpdateUserMetadata", _metadata(merge=True)),
    ("PUT", "/users/{user_id}/metadata", "ReplaceUserMetadata", _metadata(merge=False)),
]
