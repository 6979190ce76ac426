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

import keyword
import math
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from ._errors import ClerkDecodeError
from ._json import dumps, loads
from ._records import field_names
from ._types import UNSET
from .models._runtime import MISSING, DecodeFailure, bad, decode_many
from .models.requests import REQUEST_MODELS

__all__ = [
    "check_json_value",
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


# --------------------------------------------------------------------------- models


def _codecs(cl: type[Any]) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any] | None]:
    """The generated decoder and encoder of a model class (None for other types)."""
    module = sys.modules.get(getattr(cl, "__module__", ""))
    decoders = getattr(module, "DECODERS", None) or {}
    encoders = getattr(module, "ENCODERS", None) or {}
    return decoders.get(cl), encoders.get(cl)


_DECODE_CACHE: dict[Any, Callable[[Any], Any]] = {}


def _decoder(cl: Any) -> Callable[[Any], Any]:
    decode = _DECODE_CACHE.get(cl)
    if decode is not None:
        return decode
    if typing.get_origin(cl) is list:
        (item,) = typing.get_args(cl)
        item_decode = _decoder(item)

        def decode(data: Any) -> Any:
            return decode_many(item_decode, data, None)

    elif cl is object or cl is Any:  # the parsed JSON as it is, for the caller to inspect
        decode = _as_is
    else:
        found = _codecs(cl)[0] if isinstance(cl, type) else None
        if found is None and isinstance(cl, type) and attrs.has(cl):
            found = _attrs_decoder(cl)
        if found is None:
            raise TypeError(f"no decoder for {cl!r}: not a model (or a list of one)")
        decode = found
    _DECODE_CACHE[cl] = decode
    return decode


def _as_is(data: Any) -> Any:
    return data


_EXACT = {str: "str", int: "int", bool: "bool", dict: "an object", list: "a list"}


def _value_decoder(tp: Any) -> Callable[[Any], Any]:
    """Check (and for models, decode) one field value of a hand-written attrs class."""
    args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else ()
    if args:
        rest = [a for a in args if a is not type(None)]
        inner = _value_decoder(rest[0]) if len(rest) == 1 else None
        if inner is None or type(None) not in args:
            return lambda v: v  # a union we do not check
        return lambda v: v if v is None else inner(v)
    base = typing.get_origin(tp) or tp
    if base is float:
        return lambda v: v if v.__class__ in (float, int) else bad(v, "a number")
    if base is list and typing.get_args(tp) and attrs.has(typing.get_args(tp)[0]):
        return _decoder(tp)
    if base in _EXACT:
        return lambda v: v if v.__class__ is base else bad(v, _EXACT[base])
    if isinstance(base, type) and attrs.has(base):
        return _decoder(base)
    return lambda v: v


def _attrs_decoder(cl: type[Any]) -> Callable[[Any], Any]:
    """A checking decoder for an attrs class written by hand (not generated), e.g. a
    page envelope around generated models; built once per class, without exec."""
    hints = typing.get_type_hints(cl)
    fields = [(a.alias, _json_name(a), a.default is attrs.NOTHING, _value_decoder(hints[a.name]))
              for a in attrs.fields(cl) if a.init]

    def decode(o: Any) -> Any:
        if o.__class__ is not dict:
            bad(o, "an object")
        kwargs = {}
        for alias, key, required, check in fields:
            if key in o:
                try:
                    kwargs[alias] = check(o[key])
                except DecodeFailure as exc:
                    exc.path.insert(0, key)
                    raise
            elif required:
                bad(MISSING, "", key)
        return cl(**kwargs)

    return decode


def structure(
    data: Any, cl: type[T], *, method: str = "", path: str = "", status: int | None = None
) -> T:
    """Build an instance of *cl* (a model, or e.g. ``list[User]``) from decoded JSON.

    One pass over the parsed JSON, through the decoders generated into
    ``clerk_async.models``. Every field of a JSON scalar type is checked for
    its exact type (``bool`` is not an ``int``; required fields may not be
    absent or null); a mismatch raises :class:`ClerkDecodeError` whose
    ``field`` is the full path, e.g. ``saml_accounts[0].saml_connection.id``.
    Unknown keys and unknown enum values are accepted as they come.
    ``method``, ``path`` and ``status`` name the request in the error, if given.
    """
    decode = _decoder(cl)
    try:
        result: T = decode(data)
    except DecodeFailure as exc:
        name = getattr(cl, "__name__", None) or repr(cl)
        raise ClerkDecodeError(
            f"cannot read the body as {name}: {exc.problem}",
            field=exc.field or None, method=method, path=path, status=status,
        ) from None
    return result


def unstructure(obj: Any) -> Any:
    """Turn a model (or a list/tuple of them) back into JSON-ready Python values.

    Anything else (scalars, free-form dicts) is returned as it is, not copied.
    """
    if obj.__class__ in _JSON_SCALARS:
        return obj
    if isinstance(obj, (list, tuple)):
        return [unstructure(item) for item in obj]
    if obj.__class__ in _BODY_FIELDS or obj.__class__ in _REQUEST_CLASSES:
        return to_body(obj)
    encode = _codecs(obj.__class__)[1]
    return obj if encode is None else encode(obj)


#: Values a body carries as they are (the common case: looked up before anything else).
_JSON_SCALARS = frozenset({str, int, float, bool, dict})
_BODY_FIELDS: dict[type[Any], tuple[tuple[str, str], ...]] = {}
_REQUEST_CLASSES = frozenset(REQUEST_MODELS.values())


def _json_name(a: attrs.Attribute[Any]) -> str:
    name = a.metadata.get("json", a.name)
    assert isinstance(name, str)
    return name


def _body_fields(cls: type[Any]) -> tuple[tuple[str, str], ...]:
    spec = _BODY_FIELDS.get(cls)
    if spec is None:
        if cls in _REQUEST_CLASSES:
            # Generated: the JSON name is the field name, less the ``_`` that
            # gen_models.py appends to Python keywords. No attrs work needed.
            spec = tuple((n, n[:-1] if n.endswith("_") and keyword.iskeyword(n[:-1]) else n)
                         for n in field_names(cls))
        else:
            spec = tuple((a.name, _json_name(a)) for a in attrs.fields(cls))
        _BODY_FIELDS[cls] = spec
    return spec


def to_body(params: Any) -> dict[str, Any]:
    """JSON body of a request-params object: ``UNSET`` fields are left out, ``None`` kept."""
    body: dict[str, Any] = {}
    for name, key in _body_fields(params.__class__):
        value = getattr(params, name)
        if value is UNSET:
            continue
        if value is not None and value.__class__ not in _JSON_SCALARS:
            value = unstructure(value)
        body[key] = value
    return body


# --------------------------------------------------------------------------- cattrs

_converter: Any = None


def __getattr__(name: str) -> Any:
    # ``converter``: a cattrs converter wired to the generated functions, built on
    # first access only, so decoding never imports cattrs.
    if name != "converter":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    global _converter
    if _converter is None:
        import cattrs

        conv = cattrs.Converter()

        def is_model(tp: Any) -> bool:
            return isinstance(tp, type) and attrs.has(tp) and _codecs(tp)[0] is not None

        def is_encodable(tp: Any) -> bool:
            return isinstance(tp, type) and attrs.has(tp) and (
                _codecs(tp)[1] is not None or tp in _REQUEST_CLASSES
            )

        conv.register_structure_hook_func(is_model, lambda data, cl: structure(data, cl))
        conv.register_unstructure_hook_func(is_encodable, unstructure)
        _converter = conv
    return _converter
