"""JSON in and out, through one guarded parser.

Every body the SDK reads goes through :func:`loads` (2xx bodies, error bodies,
journal lines, input rows), so there is one place that decides what a hostile
or broken body can do: a body nested deeper than the parser allows, or deep
enough to exhaust Python's recursion limit, becomes a ``ValueError`` instead
of escaping as ``RecursionError``. :func:`parse_response` wraps that for HTTP
bodies as a :class:`ClerkDecodeError` naming status, request and a short
excerpt, and refuses bodies over a size cap before parsing them.

orjson is used when installed (the ``fast`` extra), else the standard library.
"""

from __future__ import annotations

import json
import types
from typing import Any

from ._errors import ClerkDecodeError

_orjson: types.ModuleType | None
try:  # orjson is optional (the ``fast`` extra)
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only without orjson
    _orjson = None

__all__ = ["EXCERPT_CHARS", "dumps", "loads", "parse_response"]

#: How much of an unreadable body an error message shows.
EXCERPT_CHARS = 80
_DEPTH_WORDS = ("recursion", "depth", "nest")


class _TooDeep(ValueError):
    """The body nests deeper than the parser (or Python's stack) allows."""


if _orjson is not None:
    _parse = _orjson.loads
    _orjson_dumps = _orjson.dumps

    def dumps(obj: Any) -> bytes:
        """Encode *obj* as compact UTF-8 JSON."""
        encoded: bytes = _orjson_dumps(obj)
        return encoded

else:  # pragma: no cover - exercised only without orjson
    _parse = json.loads
    _encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

    def dumps(obj: Any) -> bytes:
        """Encode *obj* as compact UTF-8 JSON."""
        return _encoder.encode(obj).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Decode JSON text; any failure, excessive nesting included, is a ``ValueError``."""
    try:
        return _parse(data)
    except RecursionError:
        # The stdlib parser recurses per nesting level; a hostile body must
        # not take the caller's stack (and a whole bulk run) down with it.
        raise _TooDeep("JSON nested too deeply") from None
    except ValueError as exc:  # orjson.JSONDecodeError is a ValueError too
        if any(word in str(exc).lower() for word in _DEPTH_WORDS):
            raise _TooDeep("JSON nested too deeply") from None
        raise


def excerpt(data: bytes) -> str:
    """A short, single-line start of ``data`` for an error message."""
    head = data[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    return " ".join(head.split())[:EXCERPT_CHARS]


def parse_response(
    data: bytes,
    *,
    status: int | None = None,
    method: str = "",
    path: str = "",
    max_bytes: int | None = None,
) -> Any:
    """Decode an HTTP body, or raise :class:`ClerkDecodeError` saying which and why."""
    if max_bytes is not None and len(data) > max_bytes:
        raise too_large(max_bytes, status=status, method=method, path=path, head=data)
    try:
        return loads(data)
    except _TooDeep:
        problem = "response body is nested too deeply to decode safely"
    except ValueError as exc:
        problem = f"response body is not valid JSON ({exc})"
    # ``from None``: the parser's exception adds nothing the message lacks.
    raise ClerkDecodeError(
        problem, status=status, method=method, path=path, excerpt=excerpt(data)
    ) from None


def too_large(
    max_bytes: int, *, status: int | None, method: str, path: str, head: bytes = b""
) -> ClerkDecodeError:
    """The error for a body over ``max_bytes`` (raised before it is read whole)."""
    return ClerkDecodeError(
        f"response body exceeds max_response_bytes={max_bytes}",
        status=status, method=method, path=path, excerpt=excerpt(head),
    )
