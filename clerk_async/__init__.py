"""Async-first SDK for the Users part of Clerk's Backend API.

    async with AsyncClerk() as clerk:        # key from $CLERK_SECRET_KEY
        user = await clerk.users.get("user_123")

See ``clerk_sync.Clerk`` for the blocking twin.
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
    "__version__",
]
