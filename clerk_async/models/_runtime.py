"""What the generated models share at run time: decode failures, repr, unions.

The generated modules hold attrs classes and one plain decode function
(``_d_X``) and one encode function (``_e_X``) per class, written out by
``scripts/gen_models.py``; ``clerk_async._convert`` registers those functions
as the hooks of the SDK's cattrs converter. They call the few helpers below;
the helpers only run per nested object or on the error path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import attrs

from .._types import UNSET

__all__ = [
    "MISSING",
    "Model",
    "REPR_MAX_ITEMS",
    "DecodeFailure",
    "bad",
    "brief_repr",
    "decode_many",
    "encode_many",
    "encode_one",
    "hidden_repr",
    "raw_payload",
    "unknown_verification",
]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: Stands for an absent key while a required field is checked.
MISSING: Any = _Missing()


class DecodeFailure(Exception):
    """A value of the wrong type (or a missing required key), with where it sits.

    Internal: ``path`` grows from the innermost field outwards while the
    exception passes through the nested decoders; ``_convert.structure``
    turns it into the public :class:`~clerk_async.ClerkDecodeError`.
    """

    def __init__(self, expected: str, value: Any, segment: str | None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.value = value
        self.path: list[str] = [] if segment is None else [segment]

    def locate(self, decode: Callable[[Any], Any], items: list[Any], segment: str | None) -> None:
        """Add ``segment[index]`` to the path, for a failure inside the list *items*."""
        # Error path only: find the index again rather than count on the happy path.
        index = next(n for n, item in enumerate(items) if _fails(decode, item))
        self.path.insert(0, f"[{index}]")
        if segment is not None:
            self.path.insert(0, segment)

    @property
    def field(self) -> str:
        """``saml_accounts[0].saml_connection.id``; ``""`` for the top level."""
        text = "".join(s if s.startswith("[") else "." + s for s in self.path)
        return text.lstrip(".")

    @property
    def problem(self) -> str:
        if self.value is MISSING:
            return "missing required field"
        return f"expected {self.expected}, got {_json_type(self.value)}"


def _json_type(value: Any) -> str:
    names = {type(None): "null", bool: "a bool", int: "an int", float: "a float",
             str: "a str", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def bad(value: Any, expected: str, segment: str | None = None) -> NoReturn:
    """Raise the failure for *value* not being *expected* at *segment*."""
    raise DecodeFailure(expected, value, segment)


def decode_many(decode: Callable[[Any], Any], value: Any, segment: str | None) -> list[Any]:
    """Decode a list of objects; a failure names the list and the item's index."""
    if value.__class__ is not list:
        bad(value, "a list", segment)
    try:
        return [decode(item) for item in value]
    except DecodeFailure as exc:
        exc.locate(decode, value, segment)
        raise


def _fails(decode: Callable[[Any], Any], item: Any) -> bool:
    try:
        decode(item)
    except DecodeFailure:
        return True
    return False


def unknown_verification(value: Any) -> Any:
    """A verification we cannot type: of an unknown kind, or a known kind in a shape we
    do not expect. Clerk adds kinds and strategies over time, so this is no error:
    the payload is kept in ``UnknownVerification.raw``. Only a non-object fails."""
    if value.__class__ is not dict:
        bad(value, "an object")
    from .verification import UnknownVerification

    obj, strategy, status = value.get("object"), value.get("strategy"), value.get("status")
    return UnknownVerification(
        object=obj if isinstance(obj, str) else None,
        strategy=strategy if isinstance(strategy, str) else None,
        status=status if isinstance(status, str) else None,
        raw=value,
    )


# --------------------------------------------------------------------------- repr
# The generated classes pass these as ``attrs.field(repr=...)``, by field kind:
# attrs writes each ``__repr__``, these only decide how one value is shown.

#: Lists longer than this print as ``<N items>``.
REPR_MAX_ITEMS = 3


def brief_repr(value: Any) -> str:
    """Free-form objects (metadata: user data, often private) show only their size,
    lists longer than :data:`REPR_MAX_ITEMS` only their length."""
    if value.__class__ is dict:
        return f"<{len(value)} key{'' if len(value) == 1 else 's'}>"
    if value.__class__ is list and len(value) > REPR_MAX_ITEMS:
        return f"<{len(value)} items>"
    return repr(value)


def hidden_repr(value: Any) -> str:
    """Secrets and one-time codes: only whether there is one."""
    if value is None or value is UNSET or value.__class__ is bool:
        return repr(value)
    return "<hidden>"


def raw_payload(value: dict[str, Any] | None) -> dict[str, Any]:
    """``UnknownVerification(raw=None)`` keeps an empty payload."""
    return {} if value is None else value


def encode_one(encode: Callable[[Any], Any], value: Any) -> Any:
    """Encode an optional nested object."""
    return None if value is None else encode(value)


def encode_many(encode: Callable[[Any], Any], value: Any) -> Any:
    """Encode an optional list of objects."""
    return None if value is None else [encode(item) for item in value]


# --------------------------------------------------------------------------- dunders


class Model:
    """Base of every generated model: attrs writes its ``repr``, ``==`` and hash
    on first use.

    The models are declared ``@attrs.frozen(..., repr=False, eq=False)`` and
    inherit these stand-ins. The first call on a class has attrs write the
    three methods from the class's own fields (their ``repr=`` and ``eq=``
    settings included) and puts them on the class, so later calls go straight
    to attrs' code. Why: writing them was about half of the ~0.65 ms attrs
    takes to build a model class (mostly its ``compile()``), and a program
    that reads one user builds 28 classes but seldom prints or hashes them;
    deferring it took the SDK's import from 32.6 to 25.3 ms (minimum of 25
    fresh processes; benchmarks/bench_cold_start.py measures the cold start).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        result: str = _write_dunders(self.__class__).__repr__(self)
        return result

    def __eq__(self, other: object) -> bool:
        result: bool = _write_dunders(self.__class__).__eq__(self, other)
        return result

    def __hash__(self) -> int:
        result: int = _write_dunders(self.__class__).__hash__(self)
        return result


def _write_dunders(cls: type[Any]) -> Any:
    """Have attrs write ``__repr__``, ``__eq__``/``__ne__`` and ``__hash__`` for the
    attrs class *cls* and install them on it; returns *cls*."""
    these = {
        a.name: attrs.field(
            repr=a.repr, eq=a.eq if a.eq_key is None else a.eq_key, hash=a.hash, init=False
        )
        for a in attrs.fields(cls)
    }
    namespace = {"__qualname__": cls.__qualname__, "__module__": cls.__module__}
    written = attrs.define(
        these=these, init=False, repr=True, eq=True, order=False, unsafe_hash=True,
        slots=False, weakref_slot=False, match_args=False, getstate_setstate=False,
    )(type(cls.__name__, (), namespace))
    # Two threads may both get here first: they install equal methods.
    for name in ("__repr__", "__eq__", "__ne__", "__hash__"):
        if name in vars(written):
            setattr(cls, name, vars(written)[name])
    return cls
