"""JSON encoding, and the mapping of JSON to models and back.

Decoding checks types but is lenient about novelty: unknown keys are ignored,
missing optional keys become ``None``, enum-like strings are kept as they
come, and a verification of an unknown kind decodes to
:class:`~clerk_async.models.UnknownVerification` with its payload kept in
``raw``. A value of the wrong JSON type raises :class:`ClerkDecodeError`.

Speed: the decode and encode function of every model is plain code written by
``scripts/gen_models.py`` into ``clerk_async/models`` (nothing is compiled at
run time). JSON scalars, free-form objects (``dict[str, Any]``) and lists of
scalars are kept as decoded, without a per-element copy.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import cattrs

from ._json import dumps, loads
from .models._hooks import HookDecodeError, register_hooks, to_body

__all__ = [
    "check_json_value",
    "converter",
    "dumps",
    "loads",
    "structure",
    "to_body",
    "unstructure",
]

T = TypeVar("T")

# --------------------------------------------------------------------------- JSON
# Parsing and encoding live in ._json (the one guarded parser); re-exported here.

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1  # orjson's range: i64 and u64
_MAX_DEPTH = 255


def check_json_value(value: Any, argument: str) -> None:
    """Raise ``ValueError`` naming the spot when *value* cannot be sent as JSON.

    Accepted: ``None``, ``bool``, ``str``, 64-bit ``int``, finite ``float``,
    lists and tuples of those, dicts with ``str`` keys. Anything else (sets,
    bytes, dates, arbitrary objects, NaN, infinities, non-string keys) is refused
    before a request is made, with the path in the message, e.g.
    ``public_metadata['tags'] is not JSON-serialisable: set``.
    """
    _check(value, argument, 0)


def _check(value: Any, path: str, depth: int) -> None:
    if value is None or isinstance(value, (str, bool)):
        return
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError(f"{path} is not JSON-serialisable: integer out of 64-bit range")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path} is not JSON-serialisable: {value!r}")
        return
    if depth >= _MAX_DEPTH:
        raise ValueError(f"{path} is nested too deeply (or contains itself)")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(
                    f"{path} is not JSON-serialisable: key {key!r} is a "
                    f"{type(key).__name__}, not a str"
                )
            _check(item, f"{path}[{key!r}]", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)
        return
    raise ValueError(f"{path} is not JSON-serialisable: {type(value).__name__}")


# --------------------------------------------------------------------------- the converter

#: The one conversion path of the SDK: every response body is structured and
#: every request body unstructured through it. Public as ``clerk_async.converter``.
converter = cattrs.Converter()


def _refuse(data: Any, cl: Any) -> Any:
    raise TypeError(f"no decoder for {cl!r}: not a model (or a list of one)")


# Lowest priority (registered first): the SDK's converter structures only what
# the hooks below know, rather than coerce with cattrs' defaults (``str(3)``).
converter.register_structure_hook_func(lambda _: True, _refuse)
for _scalar in (str, int, float, bool, bytes):
    converter.register_structure_hook(_scalar, _refuse)
register_hooks(converter)


def structure(
    data: Any, cl: type[T], *, method: str = "", path: str = "", status: int | None = None
) -> T:
    """``converter.structure(data, cl)``, naming the request in a decode error.

    ``cl`` is a model or e.g. ``list[User]``. A value of the wrong JSON type
    (``bool`` is not an ``int``; required fields may not be absent or null)
    raises :class:`ClerkDecodeError` whose ``field`` is the full path, e.g.
    ``saml_accounts[0].saml_connection.id``; ``method``, ``path`` and
    ``status`` add the request to it. Unknown keys and enum values are kept.
    """
    try:
        result: T = converter.structure(data, cl)
    except HookDecodeError as exc:
        if not method:
            raise
        raise exc.for_request(method, path, status) from None
    return result


def unstructure(obj: Any) -> Any:
    """``converter.unstructure(obj)``: a model (or a list of them) as JSON-ready values."""
    return converter.unstructure(obj)
