"""GET /users and /users/count: filters, ordering and both kinds of paging.

Exact-match filters (emails, ids, usernames…) go through the store's indexes;
the rest are predicates. With the default ``created_at`` ordering a page is read
straight off the store's sorted index, so both ``offset`` pages without filters
and ``starting_after`` cursor pages cost O(page), however many users exist.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Callable, Iterator
from itertools import islice

from multidict import MultiMapping

from ._errors import param_invalid, param_missing
from ._model import User
from ._params import query_bool, query_int, query_list
from ._store import Store

__all__ = ["ORDER_FIELDS", "count_users", "list_users"]

ORDER_FIELDS = (
    "created_at",
    "updated_at",
    "email_address",
    "web3wallet",
    "first_name",
    "last_name",
    "phone_number",
    "username",
    "last_active_at",
    "last_sign_in_at",
)
Predicate = Callable[[User], bool]


def _signed(values: list[str]) -> tuple[list[str], set[str]]:
    """Split ``+id`` / ``id`` (include) from ``-id`` (exclude).

    A bare ``+`` in a query string decodes to a space, so a leading space is read
    as the ``+`` a client most likely meant.
    """
    include: list[str] = []
    exclude: set[str] = set()
    for raw in values:
        if raw.startswith("-"):
            exclude.add(raw[1:])
        else:
            include.append(raw[1:] if raw.startswith(("+", " ")) else raw)
    return include, exclude


def _filters(store: Store, query: MultiMapping[str]) -> tuple[set[str] | None, list[Predicate]]:
    """Candidate user ids (None: everyone) and predicates they must all pass."""
    candidates: set[str] | None = None
    preds: list[Predicate] = []

    def narrow(ids: set[str]) -> None:
        nonlocal candidates
        candidates = ids if candidates is None else candidates & ids

    for name, index in (
        ("email_address", store.by_email),
        ("phone_number", store.by_phone),
        ("username", store.by_username),
        ("web3_wallet", store.by_wallet),
    ):
        values = query_list(query, name)
        if values:
            keys = values if name == "phone_number" else [v.lower() for v in values]
            narrow({index[k] for k in keys if k in index})
    for name in ("user_id", "external_id"):
        include, exclude = _signed(query_list(query, name))
        if name == "user_id":
            if include:
                narrow({u for u in include if u in store.users})
            if exclude:
                preds.append(_not_in(exclude, lambda u: u.id))
        else:
            if include:
                index = store.by_external_id
                narrow({index[e] for e in include if e in index})
            if exclude:
                preds.append(_not_in(exclude, lambda u: u.external_id))
    include, exclude = _signed(query_list(query, "organization_id"))
    if include:
        orgs = set(include)
        narrow({m.user_id for m in store.memberships.values() if m.organization_id in orgs})
    if exclude:
        banned_ids = {m.user_id for m in store.memberships.values() if m.organization_id in exclude}
        preds.append(lambda u: u.id not in banned_ids)

    provider, provider_ids = query.get("provider"), query_list(query, "provider_user_id")
    if provider and not provider_ids:
        raise param_missing("provider_user_id")
    if provider_ids and not provider:
        raise param_missing("provider")
    if provider:
        wanted = set(provider_ids)
        preds.append(
            lambda u: any(
                a.provider == provider and a.provider_user_id in wanted for a in u.external_accounts
            )
        )

    _text_filters(query, preds)
    _time_filters(query, preds)
    banned = query_bool(query, "banned")
    if banned is not None:
        preds.append(lambda u: u.banned == banned)
    return candidates, preds


def _text_filters(query: MultiMapping[str], preds: list[Predicate]) -> None:
    def add(name: str, texts: Callable[[User], list[str | None]]) -> None:
        needle = (query.get(name) or "").lower()
        if needle:
            preds.append(lambda u: any(t and needle in t.lower() for t in texts(u)))

    add("email_address_query", lambda u: [e.email_address for e in u.emails])
    add("phone_number_query", lambda u: [p.phone_number for p in u.phones])
    add("username_query", lambda u: [u.username])
    add(
        "name_query",
        lambda u: [u.first_name, u.last_name, f"{u.first_name or ''} {u.last_name or ''}"],
    )
    add(
        "query",
        lambda u: [
            u.id,
            u.username,
            u.first_name,
            u.last_name,
            *(e.email_address for e in u.emails),
            *(p.phone_number for p in u.phones),
            *(w.web3_wallet for w in u.wallets),
        ],
    )


def _time_filters(query: MultiMapping[str], preds: list[Predicate]) -> None:
    for field in ("last_active_at", "created_at", "last_sign_in_at"):
        for suffix in ("before", "after", "since"):
            name = f"{field}_{suffix}"
            bound = query_int(query, name)
            if bound is None:
                continue
            if suffix == "since" and field != "last_active_at":
                continue
            preds.append(_time_bound(field, suffix, bound))


def _not_in(excluded: set[str], value: Callable[[User], str | None]) -> Predicate:
    return lambda u: value(u) not in excluded


def _time_bound(field: str, suffix: str, bound: int) -> Predicate:
    # Users who never had the timestamp (null) match no time filter.
    def check(u: User) -> bool:
        value: int | None = getattr(u, field)
        if value is None:
            return False
        if suffix == "before":
            return value < bound
        if suffix == "after":
            return value > bound
        return value >= bound

    return check


def _order(query: MultiMapping[str]) -> tuple[str, bool]:
    raw = query.get("order_by") or "-created_at"  # Clerk keeps only the first one
    desc = raw.startswith("-")
    field = raw.lstrip("+- ")
    if field not in ORDER_FIELDS:
        raise param_invalid(
            "order_by", f"must be one of {', '.join(ORDER_FIELDS)}", "form_param_value_invalid"
        )
    return field, desc


def count_users(store: Store, query: MultiMapping[str]) -> int:
    candidates, preds = _filters(store, query)
    pool = store.users.values() if candidates is None else (store.users[i] for i in candidates)
    return sum(1 for u in pool if all(p(u) for p in preds))


def list_users(store: Store, query: MultiMapping[str]) -> list[User]:
    limit = query_int(query, "limit", 10, minimum=1) or 10
    if limit > 500:
        limit = 10  # what Clerk does, rather than refusing
    offset = query_int(query, "offset", 0, minimum=0) or 0
    field, desc = _order(query)
    cursor = query.get("starting_after") or None  # empty: ignored, like other params
    cursor_key = None
    if cursor is not None:
        if field != "created_at":
            raise param_invalid(
                "starting_after", "needs order_by created_at", "form_param_value_invalid"
            )
        if offset:
            raise param_invalid(
                "starting_after", "cannot be combined with offset", "form_param_value_invalid"
            )
        cursor_key = store.order_key(cursor)
        if cursor_key is None:
            raise param_invalid(
                "starting_after", "is not a known user id", "form_param_value_invalid"
            )
    candidates, preds = _filters(store, query)

    if field == "created_at":
        rows: Iterator[User]
        if candidates is not None:
            chosen = sorted(
                (store.users[i] for i in candidates),
                key=lambda u: (u.created_at, u.seq),
                reverse=desc,
            )
            if cursor_key is not None:
                ck = cursor_key
                chosen = [
                    u
                    for u in chosen
                    if ((u.created_at, u.seq) < ck if desc else (u.created_at, u.seq) > ck)
                ]
            rows = iter(chosen)
        else:
            rows = _walk(store, desc, cursor_key)
        if preds:
            rows = (u for u in rows if all(p(u) for p in preds))
        # islice wants sys.maxsize at most; an offset past every user is an empty page.
        start = min(offset, sys.maxsize)
        return list(islice(rows, start, min(start + limit, sys.maxsize)))

    pool = store.users.values() if candidates is None else [store.users[i] for i in candidates]
    matched = [u for u in pool if all(p(u) for p in preds)]
    matched.sort(key=_sort_key(field), reverse=desc)
    return matched[offset : offset + limit]


def _walk(store: Store, desc: bool, cursor_key: tuple[int, int] | None) -> Iterator[User]:
    keys, ids, users = store.order_keys, store.order_ids, store.users
    if desc:
        start = len(keys) - 1 if cursor_key is None else bisect.bisect_left(keys, cursor_key) - 1
        for i in range(start, -1, -1):
            yield users[ids[i]]
    else:
        start = 0 if cursor_key is None else bisect.bisect_right(keys, cursor_key)
        for i in range(start, len(keys)):
            yield users[ids[i]]


def _sort_key(field: str) -> Callable[[User], tuple[bool, object, int, int]]:
    # Postgres order: NULLs last ascending, first descending (reverse flips both).
    def value(u: User) -> object:
        if field in ("email_address", "phone_number"):
            return u.primary_value(field)
        if field == "web3wallet":
            return u.primary_value("web3_wallet")
        return getattr(u, field)

    def key(u: User) -> tuple[bool, object, int, int]:
        v = value(u)
        return (v is None, v if v is not None else "", u.created_at, u.seq)

    return key
