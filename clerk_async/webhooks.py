"""Verifying Clerk's webhooks (signed the Svix / Standard Webhooks way).

    from clerk_async.webhooks import verify_webhook

    event = verify_webhook(body, request.headers)   # secret: $CLERK_WEBHOOK_SIGNING_SECRET
    if event.type == "user.created":
        save(event.data)                              # a clerk_async.User

Pass the body exactly as received (bytes): the signature covers those bytes,
and re-serialised JSON would not match. Deliveries may repeat; ``event.id``
(the ``svix-id`` header) is the same on every retry of one event, so keep
the ids you have handled and skip those.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._request_token import header_value
from ._verify_errors import WebhookVerificationError
from ._webhook_signature import secret_key, signature

if TYPE_CHECKING:
    from .models import DeletedObject, User

__all__ = ["SECRET_ENV_VAR", "WebhookEvent", "WebhookVerificationError", "verify_webhook"]

SECRET_ENV_VAR = "CLERK_WEBHOOK_SIGNING_SECRET"
#: Svix's names first, then the Standard Webhooks ones, which carry the same values.
_PREFIXES = ("svix-", "webhook-")
_USER_EVENTS = frozenset({"user.created", "user.updated"})


@attrs.frozen(kw_only=True, slots=True)
class WebhookEvent:
    """One verified webhook delivery.

    ``type`` is Clerk's event type (``user.created``…), ``id`` the delivery's
    message id (``svix-id``: the same on every retry of one event, so use it
    to skip repeats), ``timestamp`` epoch milliseconds (the event's own, else
    the signature's). ``data`` is a :class:`~clerk_async.User` for
    ``user.created`` / ``user.updated``, a :class:`~clerk_async.DeletedObject`
    for ``user.deleted``, and the plain decoded dict for every other type.
    ``raw`` is the whole decoded payload.
    """

    type: str
    id: str
    timestamp: int
    data: User | DeletedObject | dict[str, Any]
    instance_id: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


def _header(headers: Any, name: str) -> str | None:
    for prefix in _PREFIXES:
        value = header_value(headers, prefix + name, "headers")
        if value:
            return value
    return None


def _check_signature(
    body: bytes, headers: Any, secret: str, tolerance: float, now: float
) -> tuple[str, int]:
    message_id, stamp, signed = (_header(headers, n) for n in ("id", "timestamp", "signature"))
    if not message_id or not stamp or not signed:
        raise WebhookVerificationError(
            "the request lacks the svix-id, svix-timestamp or svix-signature header "
            "(or their webhook-* twins)"
        )
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("the webhook timestamp header is not an integer") from None
    if abs(now - timestamp) > tolerance:
        side = "old" if timestamp < now else "far in the future"
        raise WebhookVerificationError(
            f"the webhook timestamp is {abs(now - timestamp):.0f} s {side} "
            f"(tolerance {tolerance:g} s); a replay, or a clock that is off"
        )
    expected = signature(secret_key(secret), message_id, timestamp, body).encode()
    matched = False
    for candidate in signed.split():
        version, _, value = candidate.partition(",")
        # Compare every v1 entry in constant time; no early exit on a match either.
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            matched = True
    if not matched:
        raise WebhookVerificationError("no webhook signature matches the signing secret")
    return message_id, timestamp


def _data(event_type: str, data: Any) -> User | DeletedObject | dict[str, Any]:
    from ._convert import structure
    from .models import DeletedObject, User

    if event_type in _USER_EVENTS:
        return structure(data, User, path=f"webhook {event_type}")
    if event_type == "user.deleted":
        return structure(data, DeletedObject, path="webhook user.deleted")
    return data if isinstance(data, dict) else {"value": data}


def verify_webhook(
    body: bytes,
    headers: Any,
    *,
    secret: str | None = None,
    tolerance: float = 300,
    clock: Callable[[], float] | None = None,
) -> WebhookEvent:
    """Check a webhook delivery's signature and timestamp, then decode it.

    ``body`` is the raw request body; ``headers`` the request's headers (any
    mapping, case-insensitive or not, or a request with ``.headers``).
    ``secret`` is the endpoint's ``whsec_…`` signing secret, by default
    ``$CLERK_WEBHOOK_SIGNING_SECRET``. The signature may be one of several
    (space-separated ``v1,…`` entries, as during a secret rotation); the
    timestamp must lie within ``tolerance`` seconds of ``clock()`` (the wall
    clock) either way, which bounds replays. Raises
    :class:`WebhookVerificationError` on any mismatch, and
    :class:`~clerk_async.ClerkDecodeError` when a signed user event does not
    decode as a user.
    """
    if isinstance(body, str):
        body = body.encode()
    elif isinstance(body, bytearray | memoryview):
        body = bytes(body)
    elif not isinstance(body, bytes):
        raise TypeError(f"body must be the raw request body as bytes, got {type(body).__name__}")
    if secret is None:
        secret = os.environ.get(SECRET_ENV_VAR) or None
        if secret is None:
            raise ValueError(f"secret is required: pass secret=... or set {SECRET_ENV_VAR}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
        raise ValueError(f"tolerance must be a non-negative number of seconds, got {tolerance!r}")
    headers = getattr(headers, "headers", headers)
    now = (clock or time.time)()
    message_id, timestamp = _check_signature(body, headers, secret, tolerance, now)
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookVerificationError("the signed webhook body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise WebhookVerificationError("the signed webhook body has no event 'type'")
    event_type: str = payload["type"]
    stamp = payload.get("timestamp")
    instance = payload.get("instance_id")
    return WebhookEvent(
        type=event_type,
        id=message_id,
        timestamp=stamp if isinstance(stamp, int) and not isinstance(stamp, bool)
        else timestamp * 1000,
        data=_data(event_type, payload.get("data")),
        instance_id=instance if isinstance(instance, str) else None,
        raw=payload,
    )
