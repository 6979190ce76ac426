"""What the bulk package needs from the rest of the SDK, and nothing more.

Bulk code is typed against this small :class:`Users` protocol instead of the
resource class, so nothing here imports :mod:`clerk_async.resources` back.
The resource's bulk methods hand in a :class:`BulkContext` with the client's
quota, retry policy and stats rather than letting bulk code reach into the
transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

import attrs

from .._ratelimit import Quota
from .._retry import RetryPolicy
from .._stats import ClientStats
from ..models import CreateUserParams, User

__all__ = ["BulkContext", "Users"]


class Users(Protocol):
    """The users operations bulk work calls (``clerk.users`` satisfies it)."""

    async def list(self, *, limit: int | None = None, **filters: Any) -> Any: ...

    def iter(self, *, page_size: int = 500, **filters: Any) -> AsyncIterator[User]: ...

    async def create_from(self, params: CreateUserParams) -> User: ...

    async def update(self, user_id: str, **fields: Any) -> User: ...

    async def update_metadata(self, user_id: str, **metadata: Mapping[str, Any]) -> User: ...

    async def delete(self, user_id: str) -> Any: ...


@attrs.frozen(kw_only=True)
class BulkContext:
    """The client's pacing and retry facts a bulk run works with."""

    quota: Quota | None = None
    retry: RetryPolicy | None = None
    stats: ClientStats = attrs.field(factory=ClientStats)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
