"""JSON encoding, and the one cattrs converter that maps JSON to models and back.

``converter`` (public as ``clerk_async.converter``) is the only conversion
path: every response body is ``converter.structure``-d and every request
body ``converter.unstructure``-d. Its hooks come from
:func:`clerk_async.models.register_hooks`: lenient about novelty (unknown keys
ignored, missing optional keys ``None``, enum-like strings kept, a
verification of an unknown kind decoded to
:class:`~clerk_async.models.UnknownVerification` with its payload in ``raw``),
strict about JSON types (a value of the wrong type raises
:class:`ClerkDecodeError` with the full field path). Anything the hooks do not
know (``dict``, ``str``, ...) is refused rather than coerced.

Why generated hooks rather than cattrs' ``make_dict_structure_fn``: both were
measured on the same 500-user page (parsed by orjson in 23.9 ms; shared
2-core machine, December 2026). The hooks ``scripts/gen_models.py`` writes
(plain functions, registered through hook factories) took 70.7 ms parse
included; ``make_dict_structure_fn`` for every model, with strict hooks for
``str``/``int``/``bool`` and our verification union, took 92.8 ms, i.e. its
decoding was about 1.5x slower (69 ms against 47 ms), gave no field path
without ``detailed_validation`` (slower still), and compiles each class's
function with ``exec`` on first use (cold start). So the generated functions
are the hooks, and cattrs remains the single entry point.
"""

from __future__ import annotations

import math
import typing
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
    "structure_owned",
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


def structure_owned(data: Any, cl: type[T], *, method: str, path: str) -> T:
    """:func:`structure` for a body just parsed, which nobody else holds.

    A list is structured item by item through ``converter.structure`` and
    emptied as it goes, so each item's parsed JSON is freed as soon as its
    model exists. CPython's collector runs on *net* container allocations:
    freeing the page's dicts while its models are made nets them out, and a
    500-user page decodes with the collector on about as fast as with it off
    (50 -> 35 ms measured), with no process-wide switch touched.
    """
    if data.__class__ is not list or typing.get_origin(cl) is not list:
        return structure(data, cl, method=method, path=path)
    (item_cl,) = typing.get_args(cl)
    items: list[Any] = []
    data.reverse()  # pop() from the end, in the original order
    pop, append, structure_item = data.pop, items.append, converter.structure
    try:
        while data:
            append(structure_item(pop(), item_cl))
    except HookDecodeError as exc:
        raise exc.for_request(method, path, index=len(items)) from None
    result: T = items  # type: ignore[assignment]
    return result


def unstructure(obj: Any) -> Any:
    """``converter.unstructure(obj)``: a model (or a list of them) as JSON-ready values."""
    return converter.unstructure(obj)
