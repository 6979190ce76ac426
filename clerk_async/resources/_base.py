"""What every resource method needs: argument checks, path building, decoding.

The checks run before any I/O so that a bad argument costs nothing and can
never turn into a request against the wrong endpoint.
"""

from __future__ import annotations

import datetime as _dt
import inspect
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from attrs import AttrsInstance

from .._convert import check_json_value, converter, dumps, structure_owned
from .._json import parse_response
from .._transport import QueryPairs, Transport
from .._types import UNSET, UnsetType
from ..models import User
from ..models._hooks import HookDecodeError
from ._args import validating

__all__ = [
    "Resource",
    "check_limit",
    "check_offset",
    "path_segment",
    "query_pairs",
    "string_list",
]

T = TypeVar("T")

_FORBIDDEN_IN_ID = frozenset("/?#\\")
#: Literal segments of Clerk's ``/users`` routes. An id spelled like one would
#: reach another operation (``users.get("count")`` is GetUsersCount), so none
#: is accepted as an id. tests/test_route_names.py keeps this in step with the spec.
ROUTE_SEGMENTS = frozenset(
    {
        "backup_code", "ban", "billing", "count", "credits", "email_address",
        "external_accounts", "lock", "metadata", "mfa", "oauth_access_tokens",
        "organization_invitations", "organization_memberships", "passkeys", "password",
        "phone_number", "profile_image", "remove_password", "set_compromised",
        "subscription", "totp", "trusted_devices", "unban", "unlock", "unset_compromised",
        "verify_password", "verify_totp", "web3_wallets",
    }
)


def path_segment(name: str, value: object) -> str:
    """Validate one path id and percent-encode it so it stays one segment."""
    # Clerk's ids (user_2Zx..., idn_...) are ASCII letters, digits and "_": such
    # a value needs no encoding, and this test costs a tenth of the loop below.
    if (
        isinstance(value, str)
        and value.isascii()
        and value.replace("_", "").replace("-", "").isalnum()
        and value not in ROUTE_SEGMENTS
    ):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if value in (".", ".."):
        raise ValueError(f"{name} must not be {value!r}")
    if value in ROUTE_SEGMENTS:
        raise ValueError(
            f"{name} must not be {value!r}: that is the name of another Clerk route, "
            "not an id"
        )
    for char in value:
        if char in _FORBIDDEN_IN_ID or char.isspace() or not char.isprintable():
            raise ValueError(f"{name} contains a character not allowed in an id: {char!r}")
    return quote(value, safe="")


def check_limit(value: int | None, name: str = "limit") -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 1 <= value <= 500:
        raise ValueError(f"{name} must be between 1 and 500, got {value}")


def check_offset(value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"offset must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"offset must be >= 0, got {value}")


def string_list(name: str, value: str | Iterable[str]) -> list[str]:
    """Accept one string or many; a lone str is one item, not its characters."""
    items = [value] if isinstance(value, str) else list(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name} items must be str, got {type(item).__name__}")
    return items


def _query_value(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware (or epoch milliseconds)")
        return str(int(value.timestamp() * 1000))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"{name} has an unsupported type: {type(value).__name__}")


def query_pairs(params: Mapping[str, object], multi: frozenset[str] = frozenset()) -> QueryPairs:
    """Query pairs for aiohttp; ``None`` drops a parameter, lists repeat the key."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None or value is UNSET:
            continue
        if name in multi:
            pairs.extend((name, item) for item in string_list(name, value))  # type: ignore[arg-type]
        else:
            pairs.append((name, _query_value(name, value)))
    return pairs


def check_metadata(**metadata: object) -> None:
    for name, value in metadata.items():
        if value is UNSET or value is None:
            continue
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
        check_json_value(value, name)


class Resource:
    """Base of resource classes: holds the transport and the decode helpers.

    Every public coroutine or async generator a subclass defines is wrapped
    by :func:`~._args.validating`: its arguments are checked against its
    annotations before it runs.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if name.startswith("_") or not (
                inspect.iscoroutinefunction(value) or inspect.isasyncgenfunction(value)
            ):
                continue
            setattr(cls, name, validating(value))

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        cls: type[T],
        *,
        params: QueryPairs | None = None,
        body: AttrsInstance | UnsetType = UNSET,
        idempotent: bool = False,
    ) -> T:
        encoded = None
        if body is not UNSET:
            encoded = dumps(converter.unstructure(body))
        payload = await self._transport.request(
            operation, method, path, params=params, body=encoded, idempotent=idempotent
        )
        return decode(payload, cls, method, path)


def decode(payload: bytes, cls: type[T], method: str, path: str) -> T:
    """Decode a 2xx body; a body we cannot read is a :class:`ClerkDecodeError`."""
    return structure_owned(parse_response(payload, method=method, path=path), cls,
                           method=method, path=path)


def structure_checked(data: object, cls: type[T], method: str, path: str) -> T:
    """``converter.structure(data, cls)``; a value of the wrong type is a
    :class:`ClerkDecodeError` naming its full field path and the request."""
    try:
        result: T = converter.structure(data, cls)
    except HookDecodeError as exc:
        raise exc.for_request(method, path) from None
    return result


def given(values: Mapping[str, Any], *, exclude: Sequence[str] = ("self",)) -> dict[str, Any]:
    """The keyword arguments of a call, for building a params object from them."""
    return {k: v for k, v in values.items() if k not in exclude}


class UserScoped(Resource):
    """Helpers for operations under ``/users/{user_id}``."""

    def _user_path(self, user_id: str, suffix: str = "") -> str:
        return "/users/" + path_segment("user_id", user_id) + suffix

    def _user(
        self, operation: str, method: str, user_id: str, suffix: str = ""
    ) -> Coroutine[Any, Any, User]:
        # Not a coroutine of its own: one frame less for every resume of the call.
        return self._send(operation, method, self._user_path(user_id, suffix), User)
