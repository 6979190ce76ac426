"""Async-first SDK for the Users part of Clerk's Backend API.

    async with AsyncClerk() as clerk:        # key from $CLERK_SECRET_KEY
        user = await clerk.users.get("user_123")

See ``clerk_sync.Clerk`` for the blocking twin.
"""

from ._client import DEFAULT_API_VERSION, DEFAULT_BASE_URL, AsyncClerk
from ._errors import (
    AuthenticationError,
    BadRequestError,
    ClerkAPIError,
    ClerkConnectionError,
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
from ._ratelimit import Limiter, LocalLimiter, Quota, RateLimits
from ._retry import RetryPolicy
from ._stats import ClientStats, OperationStats
from ._types import UNSET, Unset, UnsetType
from ._version import __version__
from .models import CreateUserParams, DeletedObject, UpdateUserParams, User
from .resources.users import UserFilters, Users

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "UNSET",
    "AsyncClerk",
    "AuthenticationError",
    "BadRequestError",
    "ClerkAPIError",
    "ClerkConnectionError",
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
    "OperationStats",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "Quota",
    "RateLimitError",
    "RateLimits",
    "RetryPolicy",
    "ServerError",
    "Unset",
    "UnsetType",
    "UnprocessableEntityError",
    "UpdateUserParams",
    "User",
    "UserFilters",
    "Users",
    "__version__",
]
