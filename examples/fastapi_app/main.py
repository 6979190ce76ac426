"""FastAPI + ``clerk_async``: one AsyncClerk per process, shared by every request.

Run it (from the repository root) against Clerk, or against a local FakeClerk::

    python -m clerk_async.testing serve --port 8787 --secret-key sk_test_demo &
    export CLERK_SECRET_KEY=sk_test_demo CLERK_API_URL=http://127.0.0.1:8787/v1
    uvicorn examples.fastapi_app.main:app --reload

    curl -s -X POST localhost:8000/users -H 'content-type: application/json' \\
        -d '{"email_address": "ada@example.com", "first_name": "Ada"}'
    curl -s 'localhost:8000/users?limit=10'

Signed-in routes: ``GET /me`` needs a Clerk session token (``Authorization:
Bearer …`` or the ``__session`` cookie; ``RequireSession`` answers 401
otherwise). ``POST /webhooks/clerk`` receives Clerk's webhooks (secret in
``CLERK_WEBHOOK_SIGNING_SECRET``) and keeps a local table of users in step,
in ``$LOCAL_USERS_DB`` (a SQLite file; in memory when unset). Against the
fake: ``serve --webhook http://127.0.0.1:8000/webhooks/clerk`` prints the
secret to export.

``CLERK_SECRET_KEY`` and ``CLERK_API_URL`` are read by ``AsyncClerk()`` itself
when the app starts (``CLERK_API_URL`` defaults to Clerk's production API).

How Clerk's answers reach this API's callers:

=========================================  =====================================
Clerk / SDK                                this API
=========================================  =====================================
``NotFoundError`` (404)                    404
``UnprocessableEntityError`` (422), e.g.   422 with Clerk's ``code``
an email that is taken
``RateLimitError`` (429)                   503 with ``Retry-After``
``ValueError`` / ``TypeError`` from the    422 (the SDK checks arguments before
SDK (an id with whitespace, ...)           sending anything)
any other ``ClerkError``                   502 (Clerk failed or is unreachable)
=========================================  =====================================

FastAPI's own request validation (``limit=1000``, a missing field) is a 422 as usual.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from clerk_async import (
    AsyncClerk,
    ClerkAPIError,
    ClerkError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    UnprocessableEntityError,
    User,
    UserFilters,
)
from clerk_async.fastapi import RequireSession
from clerk_async.webhooks import WebhookVerificationError, verify_webhook

from .local_users import LocalUsers

logger = logging.getLogger(__name__)

# A request handler should answer within seconds, not wait out the SDK's default
# two-minute retry budget: give each Clerk call 10 s in all (retries and waits for
# a rate-limit block included). Past that the caller gets a 503 with Retry-After.
RETRY = RetryPolicy(max_attempts=3, deadline=10.0)
TIMEOUT = 5.0  # seconds per attempt


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # One client for the whole process: it keeps a pool of connections to Clerk
    # and paces requests to the instance's quota across all requests at once.
    # Creating it opens nothing; its aiohttp session is made on the first request,
    # inside the server's event loop. Leaving the `async with` closes it.
    async with AsyncClerk(retry=RETRY, timeout=TIMEOUT) as clerk:
        app.state.clerk = clerk  # also where RequireSession finds its client
        app.state.local_users = LocalUsers(os.environ.get("LOCAL_USERS_DB", ":memory:"))
        try:
            yield
        finally:
            app.state.local_users.close()


MISSING_KEY = (
    "fastapi_app: CLERK_SECRET_KEY is not set; export your Clerk secret key "
    "(or a FakeClerk's, see the README) before starting"
)


class RequireSecretKey:
    """Fails the server's start-up, in one line, when ``CLERK_SECRET_KEY`` is unset.

    Without a key every route would answer 502 "Clerk is unreachable" and hide the
    cause. This is ASGI middleware rather than a check in ``lifespan`` because an
    exception there reaches the server log as a whole traceback.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and not os.environ.get("CLERK_SECRET_KEY"):
            await receive()  # lifespan.startup
            await send({"type": "lifespan.startup.failed", "message": MISSING_KEY})
            return
        await self.app(scope, receive, send)


app = FastAPI(title="Clerk users (FastAPI example)", lifespan=lifespan)
app.add_middleware(RequireSecretKey)


def get_clerk(request: Request) -> AsyncClerk:
    """The process-wide client, for routes to declare as a dependency."""
    clerk: AsyncClerk = request.app.state.clerk
    return clerk


# Routes declare `clerk: ClerkDep`; tests may swap it with app.dependency_overrides[get_clerk].
ClerkDep = Annotated[AsyncClerk, Depends(get_clerk)]


# --------------------------------------------------------------------------- schemas


class UserOut(BaseModel):
    """What this API shows of a user (never the private metadata)."""

    id: str
    email_address: str | None
    first_name: str | None
    last_name: str | None
    username: str | None
    external_id: str | None
    public_metadata: dict[str, Any]
    created_at: int  # epoch milliseconds, as Clerk sends it

    @classmethod
    def from_user(cls, user: User) -> UserOut:
        primary = next(
            (e.email_address for e in user.email_addresses
             if e.id == user.primary_email_address_id),
            None,
        )
        return cls(
            id=user.id,
            email_address=primary,
            first_name=user.first_name,
            last_name=user.last_name,
            username=user.username,
            external_id=user.external_id,
            public_metadata=user.public_metadata,
            created_at=user.created_at,
        )


class UserPage(BaseModel):
    data: list[UserOut]
    limit: int
    offset: int
    next_offset: int | None  # None on the last page


class NewUser(BaseModel):
    email_address: str
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    external_id: str | None = None
    password: str | None = None
    public_metadata: dict[str, Any] = Field(default_factory=dict)


class MetadataPatch(BaseModel):
    """Deep-merged into the user's metadata; a key set to null is removed."""

    public_metadata: dict[str, Any] = Field(default_factory=dict)
    private_metadata: dict[str, Any] = Field(default_factory=dict)
    unsafe_metadata: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------- routes


@contextmanager
def argument_errors_as_422() -> Iterator[None]:
    """Turn the SDK's argument checks into a 422 for the caller.

    The SDK raises ValueError/TypeError naming the argument *before* sending
    anything (an id with whitespace or a slash, metadata nested too deep). Only
    the SDK call is wrapped, so a bug elsewhere in a handler stays a 500.
    """
    try:
        yield
    except (ValueError, TypeError) as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc


@app.get("/users", response_model=UserPage)
async def list_users(
    clerk: ClerkDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    query: Annotated[str | None, Query(description="Clerk's free-text search")] = None,
) -> UserPage:
    filters: UserFilters = {"query": query} if query else {}
    with argument_errors_as_422():
        users = await clerk.users.list(
            limit=limit, offset=offset, order_by="-created_at", **filters
        )
    # A full page may have more after it; a short one is the last.
    next_offset = offset + limit if len(users) == limit else None
    return UserPage(data=[UserOut.from_user(u) for u in users], limit=limit, offset=offset,
                    next_offset=next_offset)


@app.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: str, clerk: ClerkDep) -> UserOut:
    with argument_errors_as_422():
        user = await clerk.users.get(user_id)
    return UserOut.from_user(user)


@app.post("/users", response_model=UserOut, status_code=201)
async def create_user(body: NewUser, clerk: ClerkDep) -> UserOut:
    # exclude_unset mirrors the SDK: a field the caller left out is not sent at
    # all, while an explicit null is sent as null.
    fields = body.model_dump(exclude_unset=True)
    fields["email_address"] = [fields.pop("email_address")]  # Clerk takes a list
    with argument_errors_as_422():
        user = await clerk.users.create(**fields)
    return UserOut.from_user(user)


@app.patch("/users/{user_id}/metadata", response_model=UserOut)
async def update_metadata(user_id: str, body: MetadataPatch, clerk: ClerkDep) -> UserOut:
    with argument_errors_as_422():
        user = await clerk.users.update_metadata(user_id, **body.model_dump(exclude_unset=True))
    return UserOut.from_user(user)


# --------------------------------------------------------------------------- signed in


@app.get("/me")
async def me(session: RequireSession, request: Request) -> dict[str, Any]:
    """Who is calling: their session's claims, and this app's row for them."""
    return {
        "user_id": session.user_id,
        "session_id": session.session_id,
        "org_id": session.org_id,
        "local": request.app.state.local_users.get(session.user_id),
    }


@app.post("/webhooks/clerk")
async def clerk_webhook(request: Request) -> dict[str, str]:
    """Clerk's user.created / updated / deleted, applied once each (by svix-id)."""
    body = await request.body()  # the exact bytes: the signature covers them
    try:
        event = verify_webhook(body, request.headers)
    except WebhookVerificationError as exc:
        # 400 makes Clerk (Svix) retry, which is right for a transient clock skew;
        # a forged request gets nothing but this line.
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return {"status": request.app.state.local_users.apply(event)}


# --------------------------------------------------------------------------- errors


def _clerk_error(status: int, exc: ClerkAPIError, headers: dict[str, str] | None = None,
                 ) -> JSONResponse:
    first = exc.errors[0] if exc.errors else None
    message = (first.long_message or first.message) if first else str(exc)
    body = {"detail": message, "code": exc.code, "clerk_trace_id": exc.clerk_trace_id}
    return JSONResponse(body, status_code=status, headers=headers)


@app.exception_handler(NotFoundError)
async def not_found(request: Request, exc: NotFoundError) -> JSONResponse:
    return _clerk_error(404, exc)


@app.exception_handler(UnprocessableEntityError)
async def unprocessable(request: Request, exc: UnprocessableEntityError) -> JSONResponse:
    # e.g. code "form_identifier_exists" when the email address is taken.
    return _clerk_error(422, exc)


@app.exception_handler(RateLimitError)
async def rate_limited(request: Request, exc: RateLimitError) -> JSONResponse:
    # Clerk's quota is spent for longer than RETRY allows us to wait. That is
    # not the caller's fault (so not a 429): tell them when to come back.
    retry_after = math.ceil(exc.retry_after) if exc.retry_after is not None else 1
    return _clerk_error(503, exc, headers={"Retry-After": str(retry_after)})


@app.exception_handler(ClerkError)
async def clerk_failed(request: Request, exc: ClerkError) -> JSONResponse:
    # Anything else: Clerk failed (5xx), was unreachable or timed out after the
    # SDK's retries, or refused our key. str(exc) never contains the secret key.
    logger.error("Clerk call failed: %s", exc)
    if isinstance(exc, ClerkAPIError):
        return _clerk_error(502, exc)
    return JSONResponse({"detail": "Clerk is unreachable"}, status_code=502)
