"""The cattrs hooks that turn JSON into these models and back.

``register_hooks(conv)`` installs on any ``cattrs`` converter what
``clerk_async.converter`` uses:

- every generated model is structured by its generated decoder (``_d_X``,
  written by ``scripts/gen_models.py``): exact JSON types, unknown keys
  ignored, enum-like strings kept as they come;
- ``list[Model]`` decodes item by item and names the failing index;
- the ``Verification`` union dispatches on ``object``, and a kind this SDK
  does not know (or an unexpected shape) becomes ``UnknownVerification``;
- the SDK's own hand-written attrs classes (a page envelope) are checked the
  same way; attrs classes of yours keep your converter's hooks, which call
  ours for any model field;
- ``object``/``Any`` keep the parsed JSON as it is;
- models and request bodies unstructure through their generated encoders
  (request bodies leave ``UNSET`` fields out). ``to_body`` is the same rule
  for any attrs class, generated encoder or not; the converter does not need it.

A value of the wrong type raises :class:`~clerk_async.ClerkDecodeError`
whose ``field`` is the full path (``saml_accounts[0].saml_connection.id``).
Hooks are factories keyed on the type, so a model module (billing, say) is
imported only when something asks for one of its classes.
"""

from __future__ import annotations

import keyword
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from .._errors import ClerkDecodeError
from .._types import UNSET
from ._runtime import MISSING, DecodeFailure, bad, decode_many

if typing.TYPE_CHECKING:
    from cattrs import BaseConverter

__all__ = ["HookDecodeError", "register_hooks", "to_body"]

C = TypeVar("C", bound="BaseConverter")
Hook = Callable[[Any, Any], Any]


class HookDecodeError(ClerkDecodeError):
    """The :class:`ClerkDecodeError` a hook raises; it keeps its parts (``problem``,
    the class's ``type_name``) so a caller can restate it with its request."""

    def __init__(self, type_name: str, problem: str, field: str | None) -> None:
        reason = f"cannot read the body as {type_name}: {problem}"
        super().__init__(reason, field=field)
        self.reason = reason
        self.problem = problem

    def for_request(
        self, method: str, path: str, status: int | None = None, *,
        index: int | None = None, type_name: str = "list",
    ) -> ClerkDecodeError:
        """The same error, naming the request whose body it was; with ``index``, the
        failure was in item ``index`` of a list of ``type_name`` structured item by item."""
        if index is None:
            reason, field = self.reason, self.field
        else:
            inner = self.field or ""
            field = f"[{index}]" + (inner if inner.startswith("[") or not inner else "." + inner)
            reason = f"cannot read the body as {type_name}: {self.problem}"
        return ClerkDecodeError(reason, field=field, method=method, path=path, status=status)


def register_hooks(conv: C) -> C:
    """Install the SDK's structure/unstructure hooks on *conv* and return it.

    ``conv`` may be any ``cattrs.BaseConverter``; the hooks take precedence over
    its defaults for our models, ``list`` of them and the verification union;
    your own classes keep its hooks.
    """
    conv.register_structure_hook_func(_is_as_is, _as_is)
    conv.register_structure_hook_factory(_is_ours, _attrs_class_hook)
    conv.register_structure_hook_factory(_is_model_list, _list_hook)
    conv.register_structure_hook_factory(_is_verification, _verification_hook)
    conv.register_unstructure_hook_factory(_is_encodable, _unstructure_hook)
    return conv


# --------------------------------------------------------------------------- structure


def _generated(cl: Any) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any] | None]:
    """The generated decoder and encoder of a model class (None for other types)."""
    module = sys.modules.get(getattr(cl, "__module__", ""))
    decoders = getattr(module, "DECODERS", None) or {}
    encoders = getattr(module, "ENCODERS", None) or {}
    return decoders.get(cl), encoders.get(cl)


def decoder_of(cl: Any) -> Callable[[Any], Any]:
    """The raw decoder (raising ``DecodeFailure``) of a model or attrs class."""
    found = _generated(cl)[0]
    if found is None:
        found = _attrs_decoder(cl)
    return found


def _named(decode: Callable[[Any], Any], cl: Any) -> Hook:
    """A cattrs hook around a raw decoder: failures become ``ClerkDecodeError``."""
    name = getattr(cl, "__name__", None) or repr(cl)

    def hook(data: Any, _cl: Any) -> Any:
        try:
            return decode(data)
        except DecodeFailure as exc:
            raise HookDecodeError(name, exc.problem, exc.field or None) from None

    return hook


def _is_attrs_class(tp: Any) -> bool:
    return isinstance(tp, type) and attrs.has(tp)


def _is_ours(tp: Any) -> bool:
    """A generated model, or an attrs class of this SDK's (e.g. a page envelope).
    Other attrs classes keep the converter's own hooks."""
    return _is_attrs_class(tp) and (
        _generated(tp)[0] is not None or tp.__module__.startswith("clerk_async.")
    )


def _attrs_class_hook(cl: Any) -> Hook:
    return _named(decoder_of(cl), cl)


def _is_model_list(tp: Any) -> bool:
    if typing.get_origin(tp) is not list:
        return False
    args = typing.get_args(tp)
    return len(args) == 1 and (_is_ours(args[0]) or _is_verification(args[0]))


def _list_hook(cl: Any) -> Hook:
    (item,) = typing.get_args(cl)
    item_decode = _verification_decoder() if _is_verification(item) else decoder_of(item)

    def decode(data: Any) -> Any:
        return decode_many(item_decode, data, None)

    return _named(decode, cl)


def _is_verification(tp: Any) -> bool:
    # Only once the verification module is loaded can anyone hold its alias.
    module = sys.modules.get(f"{__package__}.verification")
    return module is not None and tp == module.Verification


def _verification_decoder() -> Callable[[Any], Any]:
    from .verification import _d_Verification

    return _d_Verification


def _verification_hook(cl: Any) -> Hook:
    return _named(_verification_decoder(), cl)


def _is_as_is(tp: Any) -> bool:
    return tp is object or tp is Any


def _as_is(data: Any, _cl: Any) -> Any:  # the parsed JSON, for the caller to inspect
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
    if base is list and typing.get_args(tp) and _is_attrs_class(typing.get_args(tp)[0]):
        item_decode = decoder_of(typing.get_args(tp)[0])
        return lambda v: decode_many(item_decode, v, None)
    if base in _EXACT:
        return lambda v: v if v.__class__ is base else bad(v, _EXACT[base])
    if _is_attrs_class(base):
        return decoder_of(base)
    return lambda v: v


def _attrs_decoder(cl: type[Any]) -> Callable[[Any], Any]:
    """A checking decoder for an attrs class written by hand (not generated), e.g. a
    page envelope around generated models; built once per class, without exec."""
    hints = typing.get_type_hints(cl)
    fields = [(a.alias, json_name(a), a.default is attrs.NOTHING, _value_decoder(hints[a.name]))
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


# --------------------------------------------------------------------------- unstructure


def json_name(a: attrs.Attribute[Any]) -> str:
    name = a.metadata.get("json", a.name)
    assert isinstance(name, str)
    return name


def _is_encodable(tp: Any) -> bool:
    # Every model and request body class has a generated encoder.
    return _is_attrs_class(tp) and _generated(tp)[1] is not None


def _unstructure_hook(cl: Any) -> Callable[[Any], Any]:
    encode = _generated(cl)[1]
    assert encode is not None  # _is_encodable said so
    return encode


_BODY_FIELDS: dict[type[Any], tuple[tuple[str, str], ...]] = {}
#: Values a body carries as they are (the common case: looked up before anything else).
_JSON_SCALARS = frozenset({str, int, float, bool, dict})


def _body_fields(cls: type[Any]) -> tuple[tuple[str, str], ...]:
    spec = _BODY_FIELDS.get(cls)
    if spec is None:
        # The JSON name is the field name, less the ``_`` that gen_models.py
        # appends to Python keywords (or the ``json`` metadata, if any).
        spec = tuple(
            (a.name, a.metadata.get("json")
             or (a.name[:-1] if a.name.endswith("_") and keyword.iskeyword(a.name[:-1])
                 else a.name))
            for a in attrs.fields(cls)
        )
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
            value = _unstructure_value(value)
        body[key] = value
    return body


def _unstructure_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_unstructure_value(item) for item in value]
    if isinstance(value, Mapping):  # a mapping proxy, say: JSON encoders want a dict
        return dict(value)
    encode = _generated(value.__class__)[1]
    if encode is not None:
        return encode(value)
    if _is_attrs_class(value.__class__):
        return to_body(value)
    return value
