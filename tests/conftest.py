from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aioresponses import aioresponses

from clerk_async import AsyncClerk, RetryPolicy

from factories import VirtualClock

API = "https://api.clerk.com/v1"
KEY = "sk_test_SECRETSECRETSECRET1234"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def mocked() -> aioresponses:  # type: ignore[misc]
    with aioresponses() as m:
        yield m


@pytest.fixture
async def api(clock: VirtualClock) -> AsyncIterator[AsyncClerk]:
    """A client against the (mocked) real API URL, in virtual time."""
    client = AsyncClerk(
        secret_key=KEY, base_url=API, rate_limit=None,
        retry=RetryPolicy(max_attempts=4, base_delay=0.5),
        sleep=clock.sleep, clock=clock,
    )
    yield client
    await client.aclose()
