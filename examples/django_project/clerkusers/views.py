"""JSON views over Clerk users.

=====================  =========================================================
GET  /users/           a page of users: ``?limit=20&offset=0&query=ada``
POST /users/           create one from ``{"email_address": "...", ...}``
GET  /users/overview/  (async) how many users there are, and the five newest
GET  /users/<id>/      one user
=====================  =========================================================

Clerk's errors become: 404 for an unknown user, 422 with Clerk's ``code`` when
Clerk refuses the data (e.g. ``form_identifier_exists``), 503 with
``Retry-After`` when the quota is spent, 502 when Clerk fails; bad input
(unparsable JSON, ``limit=abc``, an id with a space) is a 400.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from clerk_async import AsyncClerk
from clerk_sync import (
    ClerkAPIError,
    ClerkError,
    NotFoundError,
    RateLimitError,
    UnprocessableEntityError,
    User,
    UserFilters,
)

from .clerk import RETRY, TIMEOUT, clerk

logger = logging.getLogger(__name__)

CREATE_FIELDS = ("first_name", "last_name", "username", "external_id", "password",
                 "public_metadata")


# --------------------------------------------------------------------------- helpers


def user_json(user: User) -> dict[str, Any]:
    """What these views show of a user (never the private metadata)."""
    primary = next(
        (e.email_address for e in user.email_addresses if e.id == user.primary_email_address_id),
        None,
    )
    return {
        "id": user.id,
        "email_address": primary,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "username": user.username,
        "external_id": user.external_id,
        "public_metadata": user.public_metadata,
        "created_at": user.created_at,  # epoch milliseconds, as Clerk sends it
    }


def error_response(exc: ClerkError | ValueError | TypeError) -> JsonResponse:
    if isinstance(exc, ValueError | TypeError):
        return JsonResponse({"detail": str(exc)}, status=400)
    if not isinstance(exc, ClerkAPIError):  # unreachable or timed out, after retries
        logger.error("Clerk call failed: %s", exc)
        return JsonResponse({"detail": "Clerk is unreachable"}, status=502)
    first = exc.errors[0] if exc.errors else None
    body = {
        "detail": (first.long_message or first.message) if first else str(exc),
        "code": exc.code,
        "clerk_trace_id": exc.clerk_trace_id,
    }
    if isinstance(exc, NotFoundError):
        return JsonResponse(body, status=404)
    if isinstance(exc, UnprocessableEntityError):
        return JsonResponse(body, status=422)
    if isinstance(exc, RateLimitError):
        # The quota is spent for longer than RETRY waits. Not the caller's
        # fault (so not a 429): tell them when to come back.
        response = JsonResponse(body, status=503)
        response["Retry-After"] = str(math.ceil(exc.retry_after or 1))
        return response
    logger.error("Clerk call failed: %s", exc)  # 5xx, or Clerk refused our key
    return JsonResponse(body, status=502)


def clerk_errors(view: Any) -> Any:
    """Answer Clerk's errors and bad input as above, for sync and async views.

    ValueError/TypeError are caught too: the views below only parse the request
    and call the SDK, whose argument checks raise those before sending anything.
    """
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                response: HttpResponse = await view(request, *args, **kwargs)
            except (ClerkError, ValueError, TypeError) as exc:
                return error_response(exc)
            return response

        return async_wrapper

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response: HttpResponse = view(request, *args, **kwargs)
        except (ClerkError, ValueError, TypeError) as exc:
            return error_response(exc)
        return response

    return wrapper


def int_arg(request: HttpRequest, name: str, default: int) -> int:
    text = request.GET.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {text!r}") from None


# --------------------------------------------------------------------------- views


# An API for server-to-server callers, so no CSRF token; put your own
# authentication in front of it before exposing it anywhere.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@clerk_errors
def users(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return create_user(request)
    limit = int_arg(request, "limit", 20)  # the SDK rejects values outside 1..500
    offset = int_arg(request, "offset", 0)
    query = request.GET.get("query")
    filters: UserFilters = {"query": query} if query else {}
    page = clerk.users.list(limit=limit, offset=offset, order_by="-created_at", **filters)
    return JsonResponse({
        "data": [user_json(u) for u in page],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if len(page) == limit else None,  # None: last page
    })


def create_user(request: HttpRequest) -> HttpResponse:
    try:
        body = json.loads(request.body)
    except ValueError:
        raise ValueError("the body must be a JSON object") from None
    if not isinstance(body, dict) or not isinstance(body.get("email_address"), str):
        raise ValueError('the body must be a JSON object with an "email_address" string')
    # Only the fields given are sent; an explicit null is sent as null.
    fields = {name: body[name] for name in CREATE_FIELDS if name in body}
    user = clerk.users.create(email_address=[body["email_address"]], **fields)
    return JsonResponse(user_json(user), status=201)


@require_GET
@clerk_errors
def user_detail(request: HttpRequest, user_id: str) -> HttpResponse:
    return JsonResponse(user_json(clerk.users.get(user_id)))


@require_GET
@clerk_errors
async def overview(request: HttpRequest) -> HttpResponse:
    # An async view, making two Clerk calls at once with AsyncClerk.
    #
    # Why a new AsyncClerk per request: an AsyncClerk's connection pool belongs
    # to the event loop it first ran in. Under `runserver` or any WSGI server,
    # Django runs each async view in a fresh event loop (asgiref's
    # async_to_sync), so a client kept from an earlier request would be bound
    # to a loop that is gone. `async with` makes one for this request and
    # closes it before the loop ends. The price is a new connection (and its
    # own rate pacing) per request. Under an ASGI server all requests share one
    # loop, but Django has no shutdown hook to close a shared AsyncClerk; to
    # share the process-wide pool from async code, call the sync client instead:
    # `await asgiref.sync.sync_to_async(clerk.users.get)(user_id)`.
    async with AsyncClerk(retry=RETRY, timeout=TIMEOUT) as aclerk:
        total, newest = await asyncio.gather(
            aclerk.users.count(),
            aclerk.users.list(limit=5, order_by="-created_at"),
        )
    return JsonResponse({"total": total, "newest": [user_json(u) for u in newest]})
