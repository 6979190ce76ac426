"""Django integration: who is calling, from the Clerk session token of each request.

In ``settings.py``::

    MIDDLEWARE = [..., "clerk_sync.django.ClerkSessionMiddleware"]
    CLERK_AUTHORIZED_PARTIES = ["https://example.com"]     # optional, recommended

then in views::

    from clerk_sync.django import clerk_session_required

    @clerk_session_required
    def me(request):
        return JsonResponse({"user_id": request.clerk_session.user_id})

The middleware sets ``request.clerk_session``: None when the request carries
no token, else an object that verifies the token the first time it is used
and then stands for the :class:`~clerk_async.SessionClaims` (falsy when the
token is bad; ``request.clerk_session_error`` then says why). So views that
never look pay nothing, and the test to write is ``if request.clerk_session:``.

The client is the process-wide one named by ``settings.CLERK_CLIENT`` (a
dotted path to a :class:`clerk_sync.Clerk`), else one made on first use from
``CLERK_SECRET_KEY`` / ``CLERK_API_URL`` / ``CLERK_JWT_KEY`` (settings, then
environment). JWKS fetches run on its event-loop thread, single-flight: a
burst of requests waits for one fetch per refresh. With Django REST
framework installed, :class:`ClerkAuthentication` is its authentication class.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings  # type: ignore[import-untyped]
from django.http import HttpRequest, HttpResponse, JsonResponse  # type: ignore[import-untyped]
from django.utils.functional import SimpleLazyObject  # type: ignore[import-untyped]
from django.utils.module_loading import import_string  # type: ignore[import-untyped]

from clerk_async._request_token import token_from
from clerk_async._verify_errors import TokenVerificationError

if TYPE_CHECKING:
    from clerk_async import SessionClaims

    from ._client import Clerk

__all__ = [
    "ClerkSessionMiddleware",
    "clerk_session_required",
    "get_client",
    "unauthorized",
]

_client: Clerk | None = None
_client_lock = threading.Lock()


def get_client() -> Clerk:
    """The process's Clerk client for request authentication (see the module doc)."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                dotted = getattr(settings, "CLERK_CLIENT", None)
                if dotted:
                    _client = import_string(dotted)
                else:
                    from ._client import Clerk

                    _client = Clerk(
                        secret_key=getattr(settings, "CLERK_SECRET_KEY", None),
                        base_url=getattr(settings, "CLERK_API_URL", None),
                        jwt_key=getattr(settings, "CLERK_JWT_KEY", None),
                    )
    assert _client is not None
    return _client


def _options() -> dict[str, Any]:
    return {
        "authorized_parties": getattr(settings, "CLERK_AUTHORIZED_PARTIES", None),
        "audience": getattr(settings, "CLERK_AUDIENCE", None),
    }


def _verify(request: HttpRequest, token: str) -> SessionClaims | None:
    try:
        return get_client().verify_token(token, **_options())
    except TokenVerificationError as exc:
        request.clerk_session_error = exc
        return None


class ClerkSessionMiddleware:
    """Sets ``request.clerk_session`` (and ``clerk_session_error``) on every request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.clerk_session_error = None
        try:
            token = token_from(request)
        except TokenVerificationError as exc:  # "Bearer" with nothing after it
            request.clerk_session, request.clerk_session_error = None, exc
        else:
            # Verified on first use; a bad token's object proxies None, so it is falsy.
            request.clerk_session = (
                None if token is None
                else SimpleLazyObject(functools.partial(_verify, request, token))
            )
        return self.get_response(request)


def unauthorized(request: HttpRequest) -> JsonResponse:
    """The 401 answer, with the challenge RFC 6750 asks for."""
    error: TokenVerificationError | None = getattr(request, "clerk_session_error", None)
    if error is None:
        response = JsonResponse({"detail": "Not signed in"}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    if error.reason == "jwks_unavailable":
        response = JsonResponse({"detail": "Cannot check sessions right now"}, status=503)
        response["Retry-After"] = "5"
        return response
    response = JsonResponse({"detail": f"Invalid session token: {error.reason}"}, status=401)
    response["WWW-Authenticate"] = (
        f'Bearer error="invalid_token", error_description="{error.reason}"'
    )
    return response


def clerk_session_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer 401 unless the request has a verified Clerk session (sync or async views)."""
    from asgiref.sync import iscoroutinefunction, sync_to_async

    def _signed_in(request: HttpRequest) -> bool:
        if not hasattr(request, "clerk_session"):
            raise RuntimeError(
                "clerk_session_required needs 'clerk_sync.django.ClerkSessionMiddleware' "
                "in settings.MIDDLEWARE"
            )
        return bool(request.clerk_session)

    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            # Verification may block on the client's loop thread: off this loop, then.
            if not await sync_to_async(_signed_in)(request):
                return unauthorized(request)
            return await view(request, *args, **kwargs)

        return async_wrapper

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not _signed_in(request):
            return unauthorized(request)
        return view(request, *args, **kwargs)

    return wrapper


try:
    from rest_framework.authentication import BaseAuthentication  # type: ignore[import-untyped]
    from rest_framework.exceptions import AuthenticationFailed  # type: ignore[import-untyped]
except ImportError:  # Django REST framework is optional
    pass
else:

    class ClerkUser:
        """``request.user`` under DRF: the Clerk user id and the session's claims."""

        is_authenticated = True
        is_anonymous = False

        def __init__(self, claims: SessionClaims) -> None:
            self.id = self.pk = claims.user_id
            self.claims = claims

        def __str__(self) -> str:
            return self.id

    class ClerkAuthentication(BaseAuthentication):  # type: ignore[misc]
        """DRF authentication from the Clerk session token (header or ``__session`` cookie).

        ``request.user`` becomes a :class:`ClerkUser`, ``request.auth`` the claims.
        """

        def authenticate(self, request: Any) -> tuple[ClerkUser, SessionClaims] | None:
            try:
                claims = get_client().authenticate_request(
                    getattr(request, "_request", request), **_options()
                )
            except TokenVerificationError as exc:
                raise AuthenticationFailed(f"Invalid session token: {exc.reason}") from None
            if claims is None:
                return None
            return ClerkUser(claims), claims

        def authenticate_header(self, request: Any) -> str:
            return "Bearer"

    __all__ += ["ClerkAuthentication", "ClerkUser"]
