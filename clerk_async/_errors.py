"""The exception tree of the SDK.

::

    ClerkError
    ├── ClerkConnectionError        the request failed in transport
    │   └── ClerkTimeoutError
    ├── ClerkDecodeError            a 2xx body that is not what the operation returns
    └── ClerkAPIError               Clerk answered with a non-2xx status
        ├── BadRequestError             400
        ├── AuthenticationError         401
        ├── PaymentRequiredError        402
        ├── PermissionDeniedError       403
        ├── NotFoundError               404
        ├── ConflictError               409
        ├── UnprocessableEntityError    422
        ├── RateLimitError              429
        └── ServerError                 5xx

Every message is one line a person can act on and never contains the secret key.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

from ._records import FrozenRecord, attrs_fields

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ClerkAPIError",
    "ClerkConnectionError",
    "ClerkDecodeError",
    "ClerkError",
    "ClerkTimeoutError",
    "ConflictError",
    "ErrorDetail",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "UnprocessableEntityError",
    "error_for_response",
    "parse_retry_after",
]


class ClerkError(Exception):
    """Base class of every error this SDK raises on purpose."""


class ClerkConnectionError(ClerkError):
    """The request failed before a complete response arrived.

    ``request_sent`` is False only when the SDK knows the request never left
    (the connection could not be opened); otherwise Clerk may have acted on it.
    """

    def __init__(self, message: str, *, method: str = "", path: str = "",
                 request_sent: bool = True) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.request_sent = request_sent


class ClerkTimeoutError(ClerkConnectionError):
    """No complete response within the configured timeout."""


class ClerkDecodeError(ClerkError):
    """A response body could not be turned into what the operation returns.

    Raised for bodies that are not JSON, nest too deeply, exceed
    ``max_response_bytes``, or hold a value of the wrong type. ``field`` is the
    full path of the offending value (``saml_accounts[0].saml_connection.id``)
    when one is known; ``excerpt`` is a short, single-line start of the body.
    """

    def __init__(self, message: str, *, status: int | None = None, method: str = "",
                 path: str = "", field: str | None = None, excerpt: str = "") -> None:
        parts = [message]
        if field:
            parts.append(f"at {field}")
        if method:
            parts.append(f"[{status} {method} {path}]" if status else f"[{method} {path}]")
        if excerpt:
            parts.append(f"body: {_shorten(excerpt, 80)}")
        super().__init__(" ".join(parts))
        self.status = status
        self.method = method
        self.path = path
        self.field = field
        self.excerpt = excerpt


class ErrorDetail(FrozenRecord):
    """One entry of the ``errors`` list of a Clerk error response."""

    __slots__ = ("code", "long_message", "message", "meta")
    __attrs_attrs__: ClassVar[Any] = attrs_fields({"long_message": None, "meta": None})

    code: str
    message: str
    long_message: str | None
    meta: dict[str, Any] | None

    def __init__(
        self,
        *,
        code: str,
        message: str,
        long_message: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        init = object.__setattr__
        init(self, "code", code)
        init(self, "message", message)
        init(self, "long_message", long_message)
        init(self, "meta", meta)


class ClerkAPIError(ClerkError):
    """Clerk answered with an error status; the parsed body is attached."""

    def __init__(
        self,
        *,
        status: int,
        errors: list[ErrorDetail],
        clerk_trace_id: str | None,
        headers: Mapping[str, str],
        body: str,
        retry_after: float | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.errors = errors
        self.clerk_trace_id = clerk_trace_id
        self.headers = headers
        self.body = body
        self.retry_after = retry_after
        self.method = method
        self.path = path
        super().__init__(self._summary())

    @property
    def code(self) -> str | None:
        """The code of the first error, the one that usually matters."""
        return self.errors[0].code if self.errors else None

    def _summary(self) -> str:
        parts = [str(self.status)]
        if self.errors:
            first = self.errors[0]
            parts.append(f"{first.code}: {first.long_message or first.message}")
            if len(self.errors) > 1:
                parts.append(f"(+{len(self.errors) - 1} more)")
        elif self.body:
            parts.append(_shorten(self.body))
        if self.method:
            parts.append(f"[{self.method} {self.path}]")
        if self.retry_after is not None:
            parts.append(f"retry after {self.retry_after:g}s")
        if self.clerk_trace_id:
            parts.append(f"trace_id={self.clerk_trace_id}")
        return " ".join(parts)


class BadRequestError(ClerkAPIError):
    """400: the request was malformed."""


class AuthenticationError(ClerkAPIError):
    """401: the secret key is missing, wrong or revoked."""


class PaymentRequiredError(ClerkAPIError):
    """402: the feature needs a paid plan."""


class PermissionDeniedError(ClerkAPIError):
    """403: the key may not do this."""


class NotFoundError(ClerkAPIError):
    """404: no such user (or sub-resource)."""


class ConflictError(ClerkAPIError):
    """409: the change conflicts with the current state."""


class UnprocessableEntityError(ClerkAPIError):
    """422: the request was understood but refused (e.g. an identifier exists)."""


class RateLimitError(ClerkAPIError):
    """429: the quota is spent; ``retry_after`` says for how long."""


class ServerError(ClerkAPIError):
    """5xx: Clerk failed."""


_BY_STATUS: dict[int, type[ClerkAPIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _shorten(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime  # only for an HTTP-date (~20 ms)

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _parse_details(payload: Any) -> tuple[list[ErrorDetail], str | None]:
    if not isinstance(payload, dict):
        return [], None
    trace = payload.get("clerk_trace_id")
    details: list[ErrorDetail] = []
    raw_errors = payload.get("errors")
    if isinstance(raw_errors, list):
        for item in raw_errors:
            if not isinstance(item, dict):
                continue
            meta = item.get("meta")
            details.append(
                ErrorDetail(
                    code=str(item.get("code") or "unknown"),
                    message=str(item.get("message") or ""),
                    long_message=item.get("long_message")
                    if isinstance(item.get("long_message"), str) else None,
                    meta=meta if isinstance(meta, dict) else None,
                )
            )
    return details, trace if isinstance(trace, str) else None


def error_for_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str = "",
    path: str = "",
) -> ClerkAPIError:
    """Build the right :class:`ClerkAPIError` subclass for an error response.

    A body that is not Clerk's JSON error shape (a proxy's HTML page, say, or
    JSON nested too deeply to parse safely) still gives the class for the
    status, with the text kept in ``body``: the status is what retries and
    callers act on.
    """
    # Imported here: ._json raises ClerkDecodeError, defined above.
    from ._json import loads

    text = body.decode("utf-8", errors="replace")
    try:
        payload = loads(body) if body else None
    except ValueError:  # the guarded parser turns RecursionError into this too
        payload = None
    details, trace_id = _parse_details(payload)
    if trace_id is None:
        trace_id = headers.get("X-Clerk-Trace-Id") or headers.get("Clerk-Trace-Id")
    if status >= 500:
        cls: type[ClerkAPIError] = ServerError
    else:
        cls = _BY_STATUS.get(status, ClerkAPIError)
    return cls(
        status=status,
        errors=details,
        clerk_trace_id=trace_id,
        headers=headers,
        body=text,
        retry_after=parse_retry_after(headers.get("Retry-After")),
        method=method,
        path=path,
    )
