"""What Clerk's users say about import rows: the batched pre-check and the
tests a found user must pass to count as a row's user.

Nothing here trusts the server's filter: a user a lookup returns matches a
row only if it really carries the row's identifiers (a front end that
ignores the query string returns unrelated users, which must never be
updated or claimed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal

from ..models import CreateUserParams, User
from ._rows import CASELESS, IDENTIFIER_FIELDS, identifiers

__all__ = [
    "MAX_FILTER_VALUES",
    "Match",
    "UserIndex",
    "carries_values",
    "holders",
    "match",
    "values_of",
]

#: Clerk's GetUserList takes at most this many values per identifier filter.
MAX_FILTER_VALUES = 100

Match = Literal["all", "some", "none"]
_NAMES = ("first_name", "last_name", "external_id", "username")
_METADATA = ("public_metadata", "private_metadata", "unsafe_metadata")


def values_of(user: User, name: str) -> set[str]:
    """The user's values of one identifier kind, as compared (caseless where Clerk is)."""
    if name == "email_address":
        found = [e.email_address for e in user.email_addresses or []]
    elif name == "phone_number":
        found = [p.phone_number for p in user.phone_numbers or []]
    elif name == "web3_wallet":
        found = [w.web3_wallet for w in user.web3_wallets or []]
    else:
        value = getattr(user, name, None)
        found = [value] if isinstance(value, str) else []
    return {_fold(name, v) for v in found}


def _fold(name: str, value: str) -> str:
    value = value.strip()
    return value.lower() if name in CASELESS else value


def match(user: User, params: CreateUserParams) -> Match:
    """Whether ``user`` carries all, some or none of the row's identifier values."""
    wanted = [(name, _fold(name, v)) for name, values in identifiers(params) for v in values]
    have = sum(1 for name, value in wanted if value in values_of(user, name))
    if not wanted or have == 0:
        return "none"
    return "all" if have == len(wanted) else "some"


def carries_values(user: User, params: CreateUserParams) -> bool:
    """Whether ``user`` holds every value the row's create would have written.

    Identifiers, names, username, external_id, the three metadata objects and
    ``created_at`` when the row sets one, compared as Clerk returns them.
    """
    if match(user, params) != "all" and identifiers(params):
        return False
    for name in _NAMES:
        wanted = getattr(params, name)
        if isinstance(wanted, str):
            have = getattr(user, name)
            if name == "username":
                if (have or "").lower() != wanted.strip().lower():
                    return False
            elif have != wanted:
                return False
    for name in _METADATA:
        wanted = getattr(params, name)
        if isinstance(wanted, Mapping) and dict(wanted) != (getattr(user, name) or {}):
            return False
    stamp = params.created_at
    if isinstance(stamp, str):
        return _epoch_ms(stamp) == user.created_at
    return True


def _epoch_ms(text: str) -> int | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)


class UserIndex(dict[tuple[str, str], dict[str, User]]):
    """(filter name, compared value) -> the looked-up users that really hold it."""

    def __init__(self, users: Iterable[User]) -> None:
        super().__init__()
        for user in users:
            for name in IDENTIFIER_FIELDS:
                for value in values_of(user, name):
                    self.setdefault((name, value), {})[user.id] = user


def holders(index: UserIndex, params: CreateUserParams) -> list[User]:
    """The distinct users in ``index`` holding any of the row's identifier values."""
    found: dict[str, User] = {}
    for name, values in identifiers(params):
        for value in values:
            found.update(index.get((name, _fold(name, value)), {}))
    return list(found.values())
