"""``clerk.users``: the Users operations of Clerk's Backend API.

The methods are split over three modules by topic (this one: finding,
creating and changing users; ``_users_security``: passwords, MFA and
identifiers; ``_users_related``: organizations, billing, OAuth tokens and
devices) and joined in :class:`Users`.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from .. import models
from .._choices import IdentificationStatus, UserOrderBy, check_choice, check_choices
from .._pagination import CURSOR_ORDERS, paginate
from .._types import UNSET, Unset
from ..models import User
from ._base import (
    Resource,
    check_limit,
    check_metadata,
    check_offset,
    given,
    path_segment,
    query_pairs,
    string_list,
)
from ._users_bulk import UserBulkMethods
from ._users_related import UserRelatedMethods
from ._users_security import UserSecurityMethods

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover
    from typing_extensions import Unpack

if TYPE_CHECKING:
    from ..models import (
        CreateUserParams,
        DeletedObject,
        TotalCount,
    )

__all__ = ["UserFilters", "Users"]

Timestamp = int | datetime
# Spelled out once here: inside the class body, ``list`` is the method.
UserList = list[User]


class UserFilters(TypedDict, total=False):
    """Filters shared by ``list``, ``count`` and ``iter``.

    Multi-valued filters take a list (or one str); ``user_id``,
    ``external_id`` and ``organization_id`` entries may start with ``+``/``-``
    to include/exclude. Times are epoch milliseconds or aware datetimes.
    """

    email_address: Sequence[str]
    phone_number: Sequence[str]
    external_id: Sequence[str]
    username: Sequence[str]
    web3_wallet: Sequence[str]
    user_id: Sequence[str]
    organization_id: Sequence[str]
    query: str
    email_address_query: str
    phone_number_query: str
    username_query: str
    name_query: str
    banned: bool
    last_active_at_before: Timestamp
    last_active_at_after: Timestamp
    last_active_at_since: Timestamp
    created_at_before: Timestamp
    created_at_after: Timestamp
    last_sign_in_at_before: Timestamp
    last_sign_in_at_after: Timestamp
    provider: str
    provider_user_id: Sequence[str]


_FILTER_NAMES = frozenset(UserFilters.__annotations__)
_MULTI_VALUED = frozenset(
    {
        "email_address",
        "phone_number",
        "external_id",
        "username",
        "web3_wallet",
        "user_id",
        "organization_id",
        "provider_user_id",
    }
)


def _filter_pairs(filters: Mapping[str, Any], method: str) -> list[tuple[str, str]]:
    unknown = set(filters) - _FILTER_NAMES
    if unknown:
        raise TypeError(f"users.{method}() got unknown filter(s): {', '.join(sorted(unknown))}")
    return list(query_pairs(filters, _MULTI_VALUED))


def _check_order(order_by: UserOrderBy | None, starting_after: str | None) -> None:
    if order_by is not None:
        if not isinstance(order_by, str):
            raise TypeError(f"order_by must be a str, got {type(order_by).__name__}")
        check_choice("order_by", order_by, UserOrderBy)
    if starting_after is not None:
        path_segment("starting_after", starting_after)
        if order_by is not None and order_by not in CURSOR_ORDERS:
            raise ValueError(
                "starting_after needs ordering by created_at; "
                f"it cannot be combined with order_by={order_by!r}"
            )


class Users(UserBulkMethods, UserSecurityMethods, UserRelatedMethods, Resource):
    """Every Users operation, reached as ``clerk.users``."""

    async def list(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        order_by: UserOrderBy | None = None,
        starting_after: str | None = None,
        **filters: Unpack[UserFilters],
    ) -> UserList:
        """One page of users matching ``filters``.

        ``limit`` is 1..500 (Clerk's default is 10). ``order_by`` is a field
        name with an optional ``+``/``-`` prefix, newest first by default.
        ``starting_after`` (a user id) continues after that user; it only works
        with creation-time ordering. Use :meth:`iter` to walk every match.
        """
        check_limit(limit)
        check_offset(offset)
        _check_order(order_by, starting_after)
        params = _filter_pairs(filters, "list")
        params += list(
            query_pairs(
                {
                    "limit": limit,
                    "offset": offset,
                    "order_by": order_by,
                    "starting_after": starting_after,
                }
            )
        )
        result: UserList = await self._send("GetUserList", "GET", "/users", UserList, params=params)
        return result

    async def count(self, **filters: Unpack[UserFilters]) -> int:
        """How many users match ``filters`` (the same filters as :meth:`list`)."""
        params = _filter_pairs(filters, "count")
        total: TotalCount = await self._send(
            "GetUsersCount", "GET", "/users/count", models.TotalCount, params=params
        )
        return total.total_count

    async def iter(
        self,
        *,
        page_size: int = 500,
        order_by: UserOrderBy | None = None,
        **filters: Unpack[UserFilters],
    ) -> AsyncIterator[User]:
        """Every user matching ``filters``, fetched ``page_size`` at a time.

        Memory stays at one page however many users there are. With the
        default creation-time ordering the walk follows a ``starting_after``
        cursor, so users created meanwhile neither shift nor repeat entries;
        other orderings page by offset.
        """
        check_limit(page_size, "page_size")
        _check_order(order_by, None)
        base = _filter_pairs(filters, "iter")
        if order_by is not None:
            base += [("order_by", order_by)]

        async def fetch(limit: int, offset: int | None, cursor: str | None) -> UserList:
            extra = query_pairs({"limit": limit, "offset": offset, "starting_after": cursor})
            page: UserList = await self._send(
                "GetUserList", "GET", "/users", UserList, params=[*base, *extra]
            )
            return page

        use_cursor = order_by is None or order_by in CURSOR_ORDERS
        pages = paginate(fetch, page_size=page_size, use_cursor=use_cursor, what="GET /users")
        async for user in pages:
            yield user

    async def get(self, user_id: str) -> User:
        """The user with this id; :class:`NotFoundError` if there is none."""
        return await self._user("GetUser", "GET", user_id)

    async def create(
        self,
        *,
        external_id: Unset[str | None] = UNSET,
        first_name: Unset[str | None] = UNSET,
        last_name: Unset[str | None] = UNSET,
        locale: Unset[str | None] = UNSET,
        email_address: Unset[Sequence[str]] = UNSET,
        email_address_identification_status: Unset[Sequence[IdentificationStatus]] = UNSET,
        phone_number: Unset[Sequence[str]] = UNSET,
        phone_number_identification_status: Unset[Sequence[IdentificationStatus]] = UNSET,
        web3_wallet: Unset[Sequence[str]] = UNSET,
        username: Unset[str | None] = UNSET,
        password: Unset[str | None] = UNSET,
        password_digest: Unset[str | None] = UNSET,
        password_hasher: Unset[str] = UNSET,
        skip_password_checks: Unset[bool | None] = UNSET,
        skip_password_requirement: Unset[bool | None] = UNSET,
        totp_secret: Unset[str | None] = UNSET,
        backup_codes: Unset[Sequence[str]] = UNSET,
        public_metadata: Unset[Mapping[str, Any]] = UNSET,
        private_metadata: Unset[Mapping[str, Any]] = UNSET,
        unsafe_metadata: Unset[Mapping[str, Any]] = UNSET,
        delete_self_enabled: Unset[bool | None] = UNSET,
        legal_accepted_at: Unset[str | None] = UNSET,
        skip_legal_checks: Unset[bool | None] = UNSET,
        skip_user_requirement: Unset[bool | None] = UNSET,
        create_organization_enabled: Unset[bool | None] = UNSET,
        create_organizations_limit: Unset[int | None] = UNSET,
        created_at: Unset[str | None] = UNSET,
        bypass_client_trust: Unset[bool | None] = UNSET,
        banned: Unset[bool | None] = UNSET,
        locked: Unset[bool | None] = UNSET,
    ) -> User:
        """Create a user. Leave out what you don't set; ``None`` sends null where allowed.

        Identifiers (``email_address``, ``phone_number``, ``web3_wallet``)
        take lists, the first becoming primary. Import a hashed password with
        ``password_digest`` plus ``password_hasher`` (e.g. ``"bcrypt"``).
        Clerk has no idempotency key for this call, so it is not retried after
        an ambiguous failure; ``users.bulk_create`` handles that for imports.
        """
        return await self._create(models.CreateUserParams(**_lists(given(locals()))))

    async def create_from(self, params: CreateUserParams) -> User:
        """Create a user from a ready :class:`CreateUserParams`."""
        return await self._create(params)

    def _create(self, params: CreateUserParams) -> Coroutine[Any, Any, User]:
        # What create() checks from its annotations, checked on a built params object;
        # create() calls this rather than create_from() to skip a second argument
        # check and two coroutine frames on a hot path (bulk imports).
        for name in ("email_address_identification_status", "phone_number_identification_status"):
            statuses = getattr(params, name)
            if statuses:
                check_choices(name, statuses, IdentificationStatus)
        check_metadata(
            public_metadata=params.public_metadata,
            private_metadata=params.private_metadata,
            unsafe_metadata=params.unsafe_metadata,
        )
        return self._send("CreateUser", "POST", "/users", User, body=params)

    async def update(
        self,
        user_id: str,
        *,
        external_id: Unset[str | None] = UNSET,
        first_name: Unset[str | None] = UNSET,
        last_name: Unset[str | None] = UNSET,
        locale: Unset[str | None] = UNSET,
        primary_email_address_id: Unset[str | None] = UNSET,
        notify_primary_email_address_changed: Unset[bool | None] = UNSET,
        primary_phone_number_id: Unset[str | None] = UNSET,
        primary_web3_wallet_id: Unset[str | None] = UNSET,
        username: Unset[str | None] = UNSET,
        profile_image_id: Unset[str | None] = UNSET,
        password: Unset[str | None] = UNSET,
        password_digest: Unset[str] = UNSET,
        password_hasher: Unset[str] = UNSET,
        skip_password_checks: Unset[bool | None] = UNSET,
        sign_out_of_other_sessions: Unset[bool | None] = UNSET,
        totp_secret: Unset[str | None] = UNSET,
        backup_codes: Unset[Sequence[str]] = UNSET,
        delete_self_enabled: Unset[bool | None] = UNSET,
        create_organization_enabled: Unset[bool | None] = UNSET,
        legal_accepted_at: Unset[str | None] = UNSET,
        skip_legal_checks: Unset[bool | None] = UNSET,
        create_organizations_limit: Unset[int | None] = UNSET,
        created_at: Unset[str | None] = UNSET,
        bypass_client_trust: Unset[bool | None] = UNSET,
    ) -> User:
        """Change the given fields of a user; fields left out stay as they are."""
        path = "/users/" + path_segment("user_id", user_id)
        fields = given(locals(), exclude=("self", "user_id", "path"))
        params = models.UpdateUserParams(**_lists(fields))
        # Setting the same fields to the same values twice changes nothing, so
        # the transport may repeat this PATCH after a timeout or a 5xx.
        return await self._send("UpdateUser", "PATCH", path, User, body=params, idempotent=True)

    async def delete(self, user_id: str) -> DeletedObject:
        """Delete a user for good."""
        path = "/users/" + path_segment("user_id", user_id)
        return await self._send("DeleteUser", "DELETE", path, models.DeletedObject)

    async def ban(self, user_id: str) -> User:
        """Ban a user: sign them out everywhere and refuse new sign-ins."""
        return await self._user("BanUser", "POST", user_id, "/ban")

    async def unban(self, user_id: str) -> User:
        """Lift a ban."""
        return await self._user("UnbanUser", "POST", user_id, "/unban")

    async def bulk_ban(self, user_ids: Sequence[str]) -> UserList:
        """Ban up to 50 users in one request."""
        return await self._bulk("UsersBan", "/users/ban", user_ids)

    async def bulk_unban(self, user_ids: Sequence[str]) -> UserList:
        """Lift the ban of up to 50 users in one request."""
        return await self._bulk("UsersUnban", "/users/unban", user_ids)

    async def lock(self, user_id: str) -> User:
        """Lock a user out of signing in until unlocked (or the lockout expires)."""
        return await self._user("LockUser", "POST", user_id, "/lock")

    async def unlock(self, user_id: str) -> User:
        """Unlock a locked user."""
        return await self._user("UnlockUser", "POST", user_id, "/unlock")

    async def update_metadata(
        self,
        user_id: str,
        *,
        public_metadata: Unset[Mapping[str, Any]] = UNSET,
        private_metadata: Unset[Mapping[str, Any]] = UNSET,
        unsafe_metadata: Unset[Mapping[str, Any]] = UNSET,
    ) -> User:
        """Deep-merge into the user's metadata; a ``None`` value deletes that key."""
        return await self._metadata(
            "UpdateUserMetadata", "PATCH", user_id, given(locals(), exclude=("self", "user_id"))
        )

    async def replace_metadata(
        self,
        user_id: str,
        *,
        public_metadata: Unset[Mapping[str, Any]] = UNSET,
        private_metadata: Unset[Mapping[str, Any]] = UNSET,
        unsafe_metadata: Unset[Mapping[str, Any]] = UNSET,
    ) -> User:
        """Replace each given metadata object whole (others stay as they are)."""
        return await self._metadata(
            "ReplaceUserMetadata", "PUT", user_id, given(locals(), exclude=("self", "user_id"))
        )

    async def _metadata(
        self, operation: str, method: str, user_id: str, values: dict[str, Any]
    ) -> User:
        path = "/users/" + path_segment("user_id", user_id) + "/metadata"
        check_metadata(**values)
        params = models.MetadataParams(**{k: dict(v) if v else v for k, v in values.items()})
        # Merging or replacing the same values twice gives the same result, so
        # the transport may repeat these after a timeout or a 5xx.
        return await self._send(operation, method, path, User, body=params, idempotent=True)

    async def _bulk(self, operation: str, path: str, user_ids: Sequence[str]) -> UserList:
        ids = string_list("user_ids", user_ids)
        if not ids:
            raise ValueError("user_ids must not be empty")
        if len(ids) > 50:
            raise ValueError(f"user_ids takes at most 50 ids per request, got {len(ids)}")
        for index, user_id in enumerate(ids):
            path_segment(f"user_ids[{index}]", user_id)
        users: UserList = await self._send(
            operation, "POST", path, UserList, body=models.UserIdsParams(user_ids=ids)
        )
        return users


_LIST_FIELDS = frozenset(
    {
        "email_address",
        "email_address_identification_status",
        "phone_number",
        "phone_number_identification_status",
        "web3_wallet",
        "backup_codes",
    }
)


def _lists(values: dict[str, Any]) -> dict[str, Any]:
    """Normalise list-valued body fields; copy metadata so later edits don't leak in."""
    for name in _LIST_FIELDS & values.keys():
        if values[name] is not UNSET:
            values[name] = string_list(name, values[name])
    for name in ("public_metadata", "private_metadata", "unsafe_metadata"):
        value = values.get(name, UNSET)
        if isinstance(value, Mapping):
            values[name] = dict(value)
    return values
