"""Checking request bodies and query strings the way Clerk reports problems.

Body fields are declared per operation as ``{name: kind}``. JSON null is taken
as "not given" for optional fields (lenient, so a client that sends null for
"unset" still works), except for the ``not_null`` ones a route names, where
Clerk answers 422 and a test against the fake should see that too. Unknown
fields are refused (``form_param_unknown``) because Clerk's request schemas
forbid extra properties, and a client that sends them has a bug worth
surfacing in tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from multidict import MultiMapping

from ._errors import FakeError, param_invalid, param_missing, param_unknown

__all__ = ["check_body", "query_bool", "query_int", "query_list", "rfc3339_ms"]

_CHECKS: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "bool": bool,
    "int": int,
    "strs": list,
    "obj": dict,
}
_KIND_WORDS = {
    "str": "a string",
    "bool": "a boolean",
    "int": "an integer",
    "strs": "a list of strings",
    "obj": "an object",
}


def check_body(
    body: Mapping[str, Any],
    fields: Mapping[str, str],
    required: Iterable[str] = (),
    not_null: Iterable[str] = (),
) -> None:
    """Refuse what Clerk refuses: unknown fields, missing ones, wrong types,
    and ``null`` for the ``not_null`` fields (the spec's non-nullable ones)."""
    for name in body:
        if name not in fields:
            raise param_unknown(name)
    for name in required:
        if body.get(name) is None:
            raise param_missing(name)
    for name in not_null:
        if name in body and body[name] is None:
            raise param_invalid(name, f"must be {_KIND_WORDS[fields[name]]}, not null")
    for name, value in body.items():
        if value is None:
            continue
        base = fields[name]
        ok = isinstance(value, _CHECKS[base])
        if base == "int" and isinstance(value, bool):
            ok = False
        if base == "strs" and ok:
            ok = all(isinstance(item, str) for item in value)
        if not ok:
            raise param_invalid(name, f"must be {_KIND_WORDS[base]}")


def query_list(query: MultiMapping[str], name: str, cap: int = 100) -> list[str]:
    values = query.getall(name, [])
    if len(values) > cap:
        raise param_invalid(name, f"accepts at most {cap} values", "form_param_value_invalid")
    return list(values)


def query_int(
    query: MultiMapping[str], name: str, default: int | None = None, minimum: int | None = None
) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise param_invalid(name, "must be an integer") from None
    if minimum is not None and value < minimum:
        raise param_invalid(name, f"must be at least {minimum}", "form_param_value_invalid")
    return value


def query_bool(query: MultiMapping[str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise param_invalid(name, "must be true or false")


def rfc3339_ms(name: str, text: str) -> int:
    """``2012-10-20T07:15:20.902Z`` -> epoch milliseconds."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise param_invalid(name, "must be an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise FakeError(
            422,
            "form_param_format_invalid",
            "is invalid",
            f"{name} must include a time zone offset",
            {"param_name": name},
        )
    return int(moment.timestamp() * 1000)
