"""JSON encoding and the single cattrs converter that maps JSON to models and back.

Decoding is lenient: unknown keys are ignored, missing optional keys become
``None``, enum-like strings are kept as they come, and a verification of an
unknown kind decodes to :class:`~clerk_async.models.UnknownVerification` with
its payload kept in ``raw``.

Speed: every attrs model gets one structure and one unstructure function,
generated as Python source the first time the class is seen and cached by the
converter. JSON scalars, free-form objects (``dict[str, Any]``) and lists of
scalars are passed through as decoded, without a per-element copy.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar, Union

import attrs
import cattrs

from ._json import dumps, loads
from ._types import UNSET, UnsetType
from .models import VERIFICATION_BY_OBJECT, UnknownVerification, Verification
from .models.requests import REQUEST_MODELS

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


# --------------------------------------------------------------------------- converter

#: The one converter of the SDK. Hooks are generated lazily, once per class.
converter = cattrs.Converter(detailed_validation=False)

_NONE_TYPE = type(None)
_SCALARS: frozenset[Any] = frozenset({str, int, float, bool, Any, object})
_VERIFICATION_ARGS = frozenset(typing.get_args(Verification))


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _strip_optional(tp: Any) -> tuple[Any, bool, bool]:
    """``(inner type, admits None, admits UNSET)`` for ``X | None | UnsetType``."""
    if not _is_union(tp):
        return tp, False, False
    args = typing.get_args(tp)
    rest = tuple(a for a in args if a is not _NONE_TYPE and a is not UnsetType)
    has_none = _NONE_TYPE in args
    has_unset = UnsetType in args
    if len(rest) == 1:
        return rest[0], has_none, has_unset
    if frozenset(rest) == _VERIFICATION_ARGS:
        return Verification, has_none, has_unset
    return Union[rest], has_none, has_unset  # noqa: UP007  (built at runtime)


def _is_passthrough(tp: Any) -> bool:
    """JSON values that need no conversion: scalars, free objects, lists of scalars."""
    inner, _, _ = _strip_optional(tp)
    if inner in _SCALARS:
        return True
    origin = typing.get_origin(inner)
    if origin is dict:
        key, value = typing.get_args(inner) or (str, Any)
        return key is str and value in _SCALARS
    if origin is list:
        (item,) = typing.get_args(inner) or (Any,)
        return item in _SCALARS
    return False


def _passthrough(value: Any, _: Any = None) -> Any:
    return value


converter.register_structure_hook_func(_is_passthrough, _passthrough)
converter.register_unstructure_hook_func(_is_passthrough, _passthrough)


# Verification: a union dispatched on the ``object`` discriminator.


def _structure_verification(value: Any, _: Any = None) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"verification must be an object, got {type(value).__name__}")
    obj = value.get("object")
    if not isinstance(obj, str):
        return _unknown_verification(value)
    entry = _VERIFICATION_HOOKS.get(obj)
    if entry is None:
        cls = VERIFICATION_BY_OBJECT.get(obj)
        if cls is None:
            return _unknown_verification(value)
        entry = _VERIFICATION_HOOKS[obj] = (converter.get_structure_hook(cls), cls)
    try:
        return entry[0](value, entry[1])
    except (KeyError, TypeError, ValueError, AttributeError):
        # A known kind in an unexpected shape: keep it raw rather than fail.
        return _unknown_verification(value)


_VERIFICATION_HOOKS: dict[str, tuple[Callable[[Any, Any], Any], type[Any]]] = {}


def _unknown_verification(value: dict[str, Any]) -> UnknownVerification:
    obj, strategy, status = value.get("object"), value.get("strategy"), value.get("status")
    return UnknownVerification(
        object=obj if isinstance(obj, str) else None,
        strategy=strategy if isinstance(strategy, str) else None,
        status=status if isinstance(status, str) else None,
        raw=value,
    )


def _unstructure_verification(value: Any) -> Any:
    if value is None:
        return None
    hook = _VERIFICATION_UNSTRUCTURE.get(value.__class__)
    if hook is None:
        hook = _VERIFICATION_UNSTRUCTURE[value.__class__] = converter.get_unstructure_hook(
            value.__class__
        )
    return hook(value)


_VERIFICATION_UNSTRUCTURE: dict[type[Any], Callable[[Any], Any]] = {
    UnknownVerification: lambda value: value.raw
}


def _is_verification(tp: Any) -> bool:
    inner, _, _ = _strip_optional(tp)
    return inner is Verification


converter.register_structure_hook_func(_is_verification, _structure_verification)
converter.register_unstructure_hook_func(_is_verification, _unstructure_verification)
converter.register_unstructure_hook(UnknownVerification, lambda v: v.raw)


# attrs models: generated structure / unstructure functions.


def _json_name(a: attrs.Attribute[Any]) -> str:
    name = a.metadata.get("json", a.name)
    assert isinstance(name, str)
    return name


def _convert_expr(tp: Any, var: str, env: dict[str, Any], name: str, unstructure: bool) -> str:
    """Source converting the (non-null) value in *var*; *var* itself when no work is needed."""
    if _is_passthrough(tp):
        return var
    inner, _, _ = _strip_optional(tp)
    if typing.get_origin(inner) is list and attrs.has(typing.get_args(inner)[0]):
        item = typing.get_args(inner)[0]
        if unstructure:
            env[f"_h_{name}"] = converter.get_unstructure_hook(item)
            return f"[_h_{name}(_i) for _i in {var}]"
        env[f"_h_{name}"] = converter.get_structure_hook(item)
        env[f"_t_{name}"] = item
        return f"[_h_{name}(_i, _t_{name}) for _i in {var}]"
    if unstructure:
        env[f"_h_{name}"] = converter.get_unstructure_hook(inner)
        return f"_h_{name}({var})"
    env[f"_h_{name}"] = converter.get_structure_hook(inner)
    env[f"_t_{name}"] = inner
    return f"_h_{name}({var}, _t_{name})"


def _field_expr(
    a: attrs.Attribute[Any], access: str, env: dict[str, Any], unstructure: bool
) -> str:
    """Source for one field: *access* converted, with ``None`` (and the default) kept as is."""
    if _is_verification(a.type):
        env["_verification"] = _unstructure_verification if unstructure else _structure_verification
        return f"_verification({access})"
    conv = _convert_expr(a.type, "_v", env, a.name, unstructure)
    if conv == "_v":
        return access
    keep = "_v is None"
    if a.default is not attrs.NOTHING and a.default is not None:
        env[f"_d_{a.name}"] = a.default
        keep += f" or _v is _d_{a.name}"
    return f"(_v if ((_v := {access}) is None or {keep}) else {conv})".replace(
        "is None or _v is None)", "is None)"
    )


def _make_structure_fn(cl: type[Any]) -> Callable[[Any, Any], Any]:
    """Generated: ``i = object.__new__(cl)`` then each slot set through its descriptor.

    For frozen slotted classes this skips ``__init__``'s keyword handling and
    ``object.__setattr__`` per field (about a third of the cost); models have no
    validators or converters, and every field is set, so the result is the same.
    """
    attrs.resolve_types(cl)
    env: dict[str, Any] = {"_cl": cl, "_new": object.__new__}
    body: list[str] = []
    direct = "__slots__" in cl.__dict__ and all(a.init for a in attrs.fields(cl))
    for a in attrs.fields(cl):
        if not a.init:
            continue
        key = _json_name(a)
        if a.default is attrs.NOTHING:
            access = f"o[{key!r}]"
        elif isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
            env[f"_f_{a.name}"] = a.default.factory
            access = f"(o[{key!r}] if {key!r} in o else _f_{a.name}())"
        elif a.default is None:
            access = f"get({key!r})"
        else:
            env[f"_d_{a.name}"] = a.default
            access = f"get({key!r}, _d_{a.name})"
        expr = _field_expr(a, access, env, False)
        if direct:
            env[f"_s_{a.name}"] = cl.__dict__[a.name].__set__
            body.append(f"    _s_{a.name}(i, {expr})")
        else:
            body.append(f"        {a.alias}={expr},")
    fn_name = f"structure_{cl.__name__}"
    lines = [f"def {fn_name}(o, _=None):", "    get = o.get"]
    if direct:
        lines += ["    i = _new(_cl)", *body, "    return i"]
    else:
        lines += ["    return _cl(", *body, "    )"]
    exec(compile("\n".join(lines), f"<cattrs structure {cl.__qualname__}>", "exec"), env)
    fn: Callable[[Any, Any], Any] = env[fn_name]
    return fn


def _make_unstructure_fn(cl: type[Any]) -> Callable[[Any], Any]:
    attrs.resolve_types(cl)
    env: dict[str, Any] = {}
    items = []
    for a in attrs.fields(cl):
        items.append(f"{_json_name(a)!r}: {_field_expr(a, f'obj.{a.name}', env, True)}")
    fn_name = f"unstructure_{cl.__name__}"
    lines = [f"def {fn_name}(obj):", "    return {"]
    lines += [f"        {item}," for item in items]
    lines.append("    }")
    exec(compile("\n".join(lines), f"<cattrs unstructure {cl.__qualname__}>", "exec"), env)
    fn: Callable[[Any], Any] = env[fn_name]
    return fn


converter.register_structure_hook_factory(attrs.has, _make_structure_fn)
converter.register_unstructure_hook_factory(attrs.has, _make_unstructure_fn)


# --------------------------------------------------------------------------- public API


def structure(data: Any, cl: type[T]) -> T:
    """Build an instance of *cl* (a model, or e.g. ``list[User]``) from decoded JSON."""
    result: T = converter.structure(data, cl)
    return result


def unstructure(obj: Any) -> Any:
    """Turn a model (or a list/dict of them) back into JSON-ready Python values."""
    return converter.unstructure(obj)


_BODY_FIELDS: dict[type[Any], tuple[tuple[str, str, bool], ...]] = {}


def _body_fields(cls: type[Any]) -> tuple[tuple[str, str, bool], ...]:
    spec = _BODY_FIELDS.get(cls)
    if spec is None:
        attrs.resolve_types(cls)
        spec = tuple(
            (a.name, _json_name(a), not _is_passthrough(a.type)) for a in attrs.fields(cls)
        )
        _BODY_FIELDS[cls] = spec
    return spec


def to_body(params: Any) -> dict[str, Any]:
    """JSON body of a request-params object: ``UNSET`` fields are left out, ``None`` kept."""
    body: dict[str, Any] = {}
    for name, key, convert in _body_fields(params.__class__):
        value = getattr(params, name)
        if value is UNSET:
            continue
        if convert and value is not None:
            value = converter.unstructure(value)
        body[key] = value
    return body


for _request_cls in set(REQUEST_MODELS.values()):
    converter.register_unstructure_hook(_request_cls, to_body)
del _request_cls
