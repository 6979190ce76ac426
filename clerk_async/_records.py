"""Plain slotted classes that attrs still recognises, for what a cold start builds.

An attrs class compiles its ``__init__``, ``__eq__`` and ``__repr__`` when its
module is imported (~0.3 ms a class), and every cold start of a CLI, a
serverless function or a test run pays that. The classes a client needs to
exist (the generated models, the settings and the stats) are written out
plainly instead, sharing the helpers below, and carry a lazy
``__attrs_attrs__``: ``attrs.fields``, ``attrs.evolve``, ``attrs.asdict`` and
cattrs work on them as on any attrs class.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = [
    "FrozenRecord",
    "attrs_fields",
    "field_names",
    "frozen_delattr",
    "frozen_setattr",
    "record_eq",
    "record_getstate",
    "record_hash",
    "record_repr",
    "record_setstate",
]


class attrs_fields:  # lower case: reads as the call it stands for in class bodies
    """``__attrs_attrs__`` of a record or generated model, built by attrs on first access.

    These classes carry their own ``__init__``, ``__eq__``, ``__hash__``,
    ``__repr__`` and frozen ``__setattr__``, so attrs has nothing to build at
    import. Asking for the fields (``attrs.fields``, ``attrs.has``,
    ``attrs.evolve``, cattrs) runs attrs once, on an unslotted twin with the
    same annotations and *defaults*, and caches its ``Attribute`` tuple on the
    class in place of this descriptor.
    """

    def __init__(self, defaults: dict[str, Any]) -> None:
        self.defaults = defaults

    def __get__(self, instance: Any, owner: type[Any]) -> Any:
        import inspect  # first use of the fields only

        import attrs

        annotations = inspect.get_annotations(owner)
        namespace: dict[str, Any] = {
            "__module__": owner.__module__,
            "__qualname__": owner.__qualname__,
            "__annotations__": {n: annotations[n] for n in field_names(owner)},
            **self.defaults,
        }
        twin = type(owner.__name__, (), namespace)
        attrs.define(
            twin, frozen=True, kw_only=True, slots=False, init=False, repr=False, eq=False
        )
        fields = twin.__attrs_attrs__  # type: ignore[attr-defined]
        type.__setattr__(owner, "__attrs_attrs__", fields)
        return fields


def frozen_setattr(self: Any, name: str, value: Any) -> NoReturn:
    """Immutable: use ``attrs.evolve(obj, field=...)`` for a changed copy."""
    from attrs.exceptions import FrozenInstanceError  # not imported until needed

    raise FrozenInstanceError


def frozen_delattr(self: Any, name: str) -> NoReturn:
    from attrs.exceptions import FrozenInstanceError

    raise FrozenInstanceError


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def field_names(cls: type[Any]) -> tuple[str, ...]:
    """A record's or model's field names in declaration order (its own annotations)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - no inspect at run time
        names = _FIELD_NAMES[cls] = tuple(n for n in own if not n.startswith("__"))
    return names


def record_getstate(self: Any) -> dict[str, Any]:
    """Pickle/copy support for frozen slotted classes (as attrs provides it)."""
    return {n: getattr(self, n) for n in field_names(self.__class__)}


def record_setstate(self: Any, state: dict[str, Any]) -> None:
    for name, value in state.items():
        object.__setattr__(self, name, value)


def record_values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, n) for n in field_names(self.__class__))


def record_eq(self: Any, other: Any) -> Any:  # bool, or NotImplemented
    """Equal when of the same class with equal fields (attrs' ``eq``)."""
    if other.__class__ is not self.__class__:
        return NotImplemented
    return bool(record_values(self) == record_values(other))


def record_hash(self: Any) -> int:
    return hash((self.__class__.__name__, *record_values(self)))


def record_repr(self: Any) -> str:
    """``Quota(requests=100, period=10.0, burst=1)``, as attrs writes it."""
    parts = [f"{n}={getattr(self, n)!r}" for n in field_names(self.__class__)]
    return f"{self.__class__.__qualname__}({', '.join(parts)})"


class FrozenRecord:
    """Base of the immutable records: attrs' ``eq``, ``hash``, ``repr``, frozenness, pickling.

    A subclass declares ``__slots__``, its annotated fields, ``__attrs_attrs__ =
    attrs_fields({...defaults})`` and an ``__init__`` that sets every field
    through ``object.__setattr__``.
    """

    __slots__ = ()
    #: Keyword-only fields, as attrs leaves them; positional records name theirs.
    __match_args__: tuple[str, ...] = ()

    __eq__ = record_eq
    __hash__ = record_hash
    __repr__ = record_repr
    __setattr__ = frozen_setattr
    __delattr__ = frozen_delattr
    __getstate__ = record_getstate
    __setstate__ = record_setstate
