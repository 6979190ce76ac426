"""Module attributes loaded on first use (PEP 562), for packages that re-export.

A package whose ``__init__`` re-exports heavy submodules (the client, the
bulk engine) would make every importer pay for all of them; with these
hooks a name's submodule is imported the first time the name is read, then
cached in the package's namespace so later reads are plain lookups.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping
from typing import Any


def _import(module: str, package: str) -> Any:
    """``importlib.import_module(module, package)`` through ``__import__``.

    Only imports made by ``__import__`` show in ``python -X importtime``; a lazy
    name's module would otherwise be timed as part of whichever module read it.
    """
    absolute = importlib.util.resolve_name(module, package)
    __import__(absolute)
    return sys.modules[absolute]


def lazy_exports(
    package: str, where: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``; ``where`` maps name -> relative module."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(_import(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
