"""Small shared types: the ``UNSET`` sentinel and JSON aliases."""

from __future__ import annotations

import enum
from typing import Any, Final, TypeVar, Union

__all__ = ["UNSET", "JSONDict", "Unset", "UnsetType"]

T = TypeVar("T")


class UnsetType(enum.Enum):
    """Marks an argument the caller did not give.

    ``None`` means "send JSON null"; ``UNSET`` means "leave the field out of the
    request". An enum member (rather than a bare object) lets type checkers
    narrow ``x is UNSET`` properly.
    """

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = UnsetType.UNSET

#: ``Unset[T]`` is "a T, or not given".
Unset = Union[T, UnsetType]  # noqa: UP007 - a generic alias needs Union on 3.10

JSONDict = dict[str, Any]
