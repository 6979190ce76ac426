"""Async-first SDK for the Users part of Clerk's Backend API.

    async with AsyncClerk() as clerk:        # key from $CLERK_SECRET_KEY
        user = await clerk.users.get("user_123")

See ``clerk_sync.Clerk`` for the blocking twin.

Models and conversion (design notes):

- Models (``clerk_async.models``) are ``@attrs.frozen(kw_only=True,
  slots=True)`` classes generated from Clerk's OpenAPI spec by
  ``scripts/gen_models.py``; attrs writes their methods, so ``attrs.evolve``,
  ``attrs.fields``, pickling, equality and ``match`` work as for any attrs
  class. Their ``repr`` summarises metadata and long lists and hides secrets.
  attrs writes ``__repr__``, ``__eq__`` and ``__hash__`` on a class's first
  use of any of them rather than at import (``models._runtime.Model``): a
  program that reads one user builds 28 classes, and compiling those three
  methods for each was a quarter of the SDK's cold start.
- ``clerk_async.converter`` is one ``cattrs.Converter`` through which every
  response body is structured and every request body unstructured. Its hooks
  are decoders written ahead of time by the generator (faster than
  ``make_dict_structure_fn``; numbers in ``clerk_async._convert``), installed
  as cattrs hook factories so model modules still load on first use.
  ``clerk_async.models.register_hooks(conv)`` installs the same hooks on a
  converter of your own (a plain ``cattrs.Converter`` cannot tell the
  verification kinds apart).
- The rules: unknown fields and enum values are accepted, an unknown
  verification kind becomes ``UnknownVerification``, a wrong JSON type is a
  ``ClerkDecodeError`` naming the full field path.
- Nothing here touches process-wide state: decoding never pauses or toggles
  the garbage collector. Speed comes from allocating less and holding less:
  decoders fill a slot base and set ``__class__`` (no per-object ``__init__``
  call or keyword dict), and a page of results is structured item by item,
  each item's parsed JSON freed once its model exists, so the collector (which
  runs on net allocations) has almost nothing to do while a page decodes.
"""

from typing import TYPE_CHECKING

from ._choices import (
    CreditAction,
    IdentificationStatus,
    InvitationStatus,
    MembershipOrderBy,
    UserOrderBy,
)

# Light and always needed: errors, the retry policy, UNSET, the version.
from ._errors import (
    AuthenticationError,
    BadRequestError,
    ClerkAPIError,
    ClerkConnectionError,
    ClerkDecodeError,
    ClerkError,
    ClerkTimeoutError,
    ConflictError,
    ErrorDetail,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
)
from ._lazy import lazy_exports
from ._retry import RetryPolicy
from ._types import UNSET, Unset, UnsetType
from ._verify_errors import TokenVerificationError, WebhookVerificationError
from ._version import __version__

if TYPE_CHECKING:
    from ._client import DEFAULT_API_VERSION, DEFAULT_BASE_URL, AsyncClerk
    from ._convert import converter
    from ._ratelimit import Limiter, LocalLimiter, Quota, QuotaBackend, RateLimits
    from ._redis_quota import RedisQuota
    from ._session_claims import SessionClaims
    from ._stats import ClientStats, OperationStats
    from .models import CreateUserParams, DeletedObject, UpdateUserParams, User
    from .resources._oauth_page import OAuthAccessTokenPage
    from .resources.users import UserFilters, Users
    from .webhooks import WebhookEvent

# The client, quotas, models and resources pull in aiohttp, asyncio, cattrs and ~80
# generated model classes: loaded on first use (PEP 562), so that importing the
# package (e.g. only for its errors, or from a CLI's --help) stays cheap.
_LAZY = {
    "DEFAULT_API_VERSION": "._client",
    "DEFAULT_BASE_URL": "._client",
    "AsyncClerk": "._client",
    "converter": "._convert",
    "Limiter": "._ratelimit",
    "LocalLimiter": "._ratelimit",
    "Quota": "._ratelimit",
    "RateLimits": "._ratelimit",
    "QuotaBackend": "._ratelimit",
    "RedisQuota": "._redis_quota",
    "SessionClaims": "._session_claims",
    "ClientStats": "._stats",
    "OperationStats": "._stats",
    "CreateUserParams": ".models",
    "DeletedObject": ".models",
    "UpdateUserParams": ".models",
    "User": ".models",
    "OAuthAccessTokenPage": ".resources._oauth_page",
    "UserFilters": ".resources.users",
    "Users": ".resources.users",
    "WebhookEvent": ".webhooks",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "CreditAction",
    "IdentificationStatus",
    "InvitationStatus",
    "MembershipOrderBy",
    "UserOrderBy",
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "UNSET",
    "AsyncClerk",
    "AuthenticationError",
    "BadRequestError",
    "ClerkAPIError",
    "ClerkConnectionError",
    "ClerkDecodeError",
    "ClerkError",
    "ClerkTimeoutError",
    "ClientStats",
    "ConflictError",
    "CreateUserParams",
    "DeletedObject",
    "ErrorDetail",
    "Limiter",
    "LocalLimiter",
    "NotFoundError",
    "OAuthAccessTokenPage",
    "OperationStats",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "Quota",
    "QuotaBackend",
    "RateLimitError",
    "RateLimits",
    "RedisQuota",
    "RetryPolicy",
    "ServerError",
    "SessionClaims",
    "TokenVerificationError",
    "Unset",
    "UnsetType",
    "UnprocessableEntityError",
    "UpdateUserParams",
    "User",
    "UserFilters",
    "WebhookEvent",
    "WebhookVerificationError",
    "Users",
    "converter",
    "__version__",
]
