"""The one argument rule of every resource method: its annotation is the contract.

A resource method's annotations are written from Clerk's spec (a test walks
the spec and holds them to it): ``None`` appears only where the spec allows
``null``, and each type is the JSON type the spec wants. :func:`validating`
wraps a method so that each argument given is checked against its annotation
before the method runs, so a value the spec cannot take is a ``TypeError`` or
``ValueError`` naming the argument, never a request Clerk refuses (or, worse,
accepts as something else). Arguments left out (``UNSET``) are not checked.

The checks are built from the annotations at the first call of each method,
not at import: most processes call a handful of methods.
"""

from __future__ import annotations

import collections.abc
import datetime as _dt
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal

from .._choices import check_choice
from .._types import UNSET, UnsetType

__all__ = ["validating"]

Check = Callable[[str, object], None]


class _Unchecked(Exception):
    """The annotation names a type this module does not check (a file, a callback)."""


def _kind_words(kind: object) -> str:
    words = {str: "a str", int: "an int", bool: "a bool", float: "a number",
             _dt.datetime: "a datetime"}
    if kind in words:
        return words[kind]
    origin = typing.get_origin(kind)
    if origin is collections.abc.Mapping:
        return "a dict"
    if origin is collections.abc.Sequence:
        return f"a list of {_kind_words(typing.get_args(kind)[0]).split(' ', 1)[1]}"
    if origin is Literal:
        return "a str"
    raise _Unchecked


def _accepts(kind: object) -> Callable[[object], bool]:
    """A predicate for one member of an annotation's union."""
    if kind is bool:
        return lambda value: isinstance(value, bool)
    if kind is int:
        return lambda value: isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return lambda value: isinstance(value, int | float) and not isinstance(value, bool)
    if kind is str or kind is _dt.datetime:
        return lambda value: isinstance(value, kind)
    origin = typing.get_origin(kind)
    if origin is Literal:
        return lambda value: isinstance(value, str)
    if origin is collections.abc.Mapping:
        return lambda value: isinstance(value, Mapping)
    if origin is collections.abc.Sequence:
        item = _accepts(typing.get_args(kind)[0])
        # A lone str is one item (``email_address="a@b.c"``), as string_list reads it.
        return lambda value: (
            item(value) if isinstance(value, str)
            else isinstance(value, list | tuple | set | frozenset)
            and all(item(one) for one in value)
        )
    raise _Unchecked


def _choices_of(kind: object) -> object | None:
    """The ``Literal`` whose values a str argument (or its items) must be among."""
    if typing.get_origin(kind) is Literal:
        return kind
    if typing.get_origin(kind) is collections.abc.Sequence:
        return _choices_of(typing.get_args(kind)[0])
    return None


def _check_for(annotation: object) -> Check | None:
    """The check for one annotation, or None when it names a type not checked here."""
    members = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    nullable = type(None) in members
    kinds = [m for m in members if m is not type(None) and m is not UnsetType]
    try:
        predicates = [_accepts(kind) for kind in kinds]
        wanted = " or ".join(_kind_words(kind) for kind in kinds)
    except _Unchecked:
        return None
    choices = [c for c in map(_choices_of, kinds) if c is not None]
    # Runs on every call: one kind (the usual case) needs no generator.
    accepted = predicates[0] if len(predicates) == 1 else (
        lambda value: any(accepts(value) for accepts in predicates)
    )

    def check(name: str, value: object) -> None:
        if value is None:
            if nullable:
                return
            raise TypeError(
                f"{name} cannot be None: Clerk does not accept null for it (leave the "
                "argument out instead)"
            )
        if not accepted(value):
            raise TypeError(f"{name} must be {wanted}, got {type(value).__name__}")
        for literal in choices:
            items = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
            for index, item in enumerate(items):
                label = name if isinstance(value, str) else f"{name}[{index}]"
                check_choice(label, item, literal)

    return check


def _is_union(annotation: object) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


Checks = tuple[list[tuple[str, Check | None]], dict[str, Check]]


def _checks(fn: Callable[..., Any]) -> Checks:
    """Positional and keyword checks of ``fn`` (``self`` excluded), from its annotations."""
    by_name: dict[str, Check] = {}
    positional: list[tuple[str, Check | None]] = []
    for param in list(inspect.signature(fn).parameters.values())[1:]:
        annotation = _evaluate(param.annotation, fn)
        if param.kind is param.VAR_KEYWORD:
            # ``**filters: Unpack[SomeTypedDict]``: each key by its own annotation.
            (typed_dict,) = typing.get_args(annotation) or (None,)
            hints = typing.get_type_hints(typed_dict) if typed_dict is not None else {}
            for key, hint in hints.items():
                check = _check_for(hint)
                if check is not None:
                    by_name[key] = check
            continue
        check = _check_for(annotation) if annotation is not None else None
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            positional.append((param.name, check))
        if check is not None:
            by_name[param.name] = check
    return positional, by_name


def _evaluate(annotation: object, fn: Callable[..., Any]) -> object:
    """An annotation as a type, or None when it names what exists only for type checkers."""
    if annotation is inspect.Parameter.empty:
        return None
    if not isinstance(annotation, str):
        return annotation
    try:
        # What typing.get_type_hints does, one parameter at a time: the
        # module's own annotation text, in the module's namespace.
        return eval(annotation, fn.__globals__, {})
    except NameError:
        return None


def validating(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a resource coroutine (or async generator) method with its argument checks."""
    checks: list[Checks] = []

    def validate(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if not checks:
            checks.append(_checks(fn))
        positional, by_name = checks[0]
        for (name, check), value in zip(positional, args, strict=False):
            if check is not None and value is not UNSET:
                check(name, value)
        for name, value in kwargs.items():
            check = by_name.get(name)
            if check is not None and value is not UNSET:
                check(name, value)

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def generator(self: Any, *args: Any, **kwargs: Any) -> Any:
            validate(args, kwargs)
            inner = fn(self, *args, **kwargs)
            try:
                async for item in inner:
                    yield item
            finally:
                # Closed here, when the caller closes this one: left to the
                # loop's asyncgen hook, it would finish later, in a task.
                await inner.aclose()

        return generator

    @functools.wraps(fn)
    async def coroutine(self: Any, *args: Any, **kwargs: Any) -> Any:
        validate(args, kwargs)
        return await fn(self, *args, **kwargs)

    return coroutine
