"""Finding the session token in an incoming request of any framework.

Clerk's frontend sends it as ``Authorization: Bearer <token>`` to other
origins and as the ``__session`` cookie to its own; the header wins. A
request is anything with ``headers`` (Starlette, aiohttp, Django, httpx) or
the headers mapping itself; cookies come from the request's parsed cookies
(``cookies`` or Django's ``COOKIES``) when it has them, else from the
``Cookie`` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from ._verify_errors import TokenVerificationError

__all__ = ["SESSION_COOKIE", "header_value", "token_from"]

SESSION_COOKIE = "__session"


def header_value(headers: Any, name: str, argument: str = "request_or_headers") -> str | None:
    """One header from any headers container (case-insensitive, plain dicts too)."""
    try:
        value = headers.get(name)
    except AttributeError:
        raise TypeError(
            f"{argument} must be a request with .headers or a headers mapping, "
            f"got {type(headers).__name__}"
        ) from None
    if value is None and isinstance(headers, dict):
        # A plain dict is case-sensitive; real header containers are not.
        lower = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == lower), None)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value if isinstance(value, str) else None


def _cookie(request: Any, headers: Any) -> str | None:
    for attr in ("cookies", "COOKIES"):
        jar = getattr(request, attr, None)
        if isinstance(jar, Mapping):
            value = jar.get(SESSION_COOKIE)
            value = getattr(value, "value", value)  # aiohttp's Morsel-like values
            return value if isinstance(value, str) and value else None
    raw = header_value(headers, "Cookie")
    if not raw:
        return None
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def token_from(request_or_headers: Any) -> str | None:
    """The bearer token, else the ``__session`` cookie; None when neither is there."""
    headers = getattr(request_or_headers, "headers", request_or_headers)
    if headers is None:
        raise TypeError("request_or_headers must be a request with .headers or a headers mapping")
    authorization = header_value(headers, "Authorization")
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            token = token.strip()
            if not token:
                raise TokenVerificationError(
                    "malformed", "the Authorization header says Bearer but carries no token"
                )
            return token
    return _cookie(request_or_headers, headers)
