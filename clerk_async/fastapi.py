"""FastAPI dependencies that answer 401 unless the request carries a valid Clerk session.

    from clerk_async.fastapi import OptionalSession, RequireSession

    @app.get("/me")
    async def me(session: RequireSession) -> dict[str, str]:
        return {"user_id": session.user_id}

The client is the app's ``app.state.clerk`` (set it in the lifespan, as the
README shows), or the one given to :func:`session_dependency`. A missing token
answers 401 with ``WWW-Authenticate: Bearer``; a bad one 401 with
``error="invalid_token"`` and the failure's reason; a JWKS that cannot be
fetched 503 (not the caller's fault). Importing this module without FastAPI
installed works; using the dependencies then says what to install
(``pip install 'clerk-users[fastapi]'``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any

from ._session_claims import SessionClaims
from ._tokens import parties, skew
from ._verify_errors import TokenVerificationError

try:
    from fastapi import Depends, HTTPException, Request
except ImportError:  # pragma: no cover - tested in a subprocess without FastAPI
    _HAVE_FASTAPI = False
else:
    _HAVE_FASTAPI = True

if TYPE_CHECKING:
    from ._client import AsyncClerk

__all__ = [
    "OptionalSession",
    "RequireSession",
    "optional_session",
    "require_session",
    "session_dependency",
]

MISSING = "clerk_async.fastapi needs FastAPI: pip install 'clerk-users[fastapi]'"

def _from_state(request: Request) -> AsyncClerk:
    clerk = getattr(request.app.state, "clerk", None)
    if clerk is None:
        raise RuntimeError(
            "no Clerk client for this app: set app.state.clerk = AsyncClerk(...) in the "
            "lifespan, or pass clerk= to session_dependency()"
        )
    return clerk  # type: ignore[no-any-return]


def _unauthorized(error: TokenVerificationError | None) -> HTTPException:
    if error is None:
        return HTTPException(401, "Not signed in", headers={"WWW-Authenticate": "Bearer"})
    if error.reason == "jwks_unavailable":
        return HTTPException(503, "Cannot check sessions right now", headers={"Retry-After": "5"})
    # The reason is one of a fixed set of words: safe to put in a header.
    challenge = f'Bearer error="invalid_token", error_description="{error.reason}"'
    return HTTPException(
        401, f"Invalid session token: {error.reason}", headers={"WWW-Authenticate": challenge}
    )


def session_dependency(
    *,
    optional: bool = False,
    authorized_parties: Iterable[str] | None = None,
    audience: str | Iterable[str] | None = None,
    clock_skew: float = 5.0,
    clerk: Any = None,
) -> Callable[[Request], Awaitable[SessionClaims | None]]:
    """A dependency returning the request's :class:`SessionClaims`.

    ``optional=True`` returns None for a request without a token (a bad token
    still answers 401). ``clerk`` is an :class:`AsyncClerk` or a function of
    the request returning one; by default ``request.app.state.clerk``. The
    other options are :meth:`AsyncClerk.verify_token`'s, checked here, once.
    """
    if not _HAVE_FASTAPI:
        raise ImportError(MISSING)
    checked = parties(authorized_parties), audience, skew(clock_skew)
    if clerk is None:
        client_of: Callable[[Request], AsyncClerk] = _from_state
    elif callable(clerk) and not hasattr(clerk, "verify_token"):
        client_of = clerk
    else:
        client_of = lambda _request: clerk  # noqa: E731

    async def dependency(request: Request) -> SessionClaims | None:
        try:
            claims = await client_of(request).authenticate_request(
                request,
                authorized_parties=checked[0],
                audience=checked[1],
                clock_skew=checked[2],
            )
        except TokenVerificationError as exc:
            raise _unauthorized(exc) from None
        if claims is None and not optional:
            raise _unauthorized(None)
        return claims

    return dependency


if _HAVE_FASTAPI:
    require_session = session_dependency()
    optional_session = session_dependency(optional=True)
    #: A route parameter annotated with this gets the caller's claims, or the route answers 401.
    RequireSession = Annotated[SessionClaims, Depends(require_session)]
    #: The caller's claims, or None when the request carries no token at all.
    OptionalSession = Annotated[SessionClaims | None, Depends(optional_session)]
else:  # pragma: no cover - see the module doc

    def __getattr__(name: str) -> Any:
        if name in __all__:
            raise ImportError(MISSING)
        raise AttributeError(name)
