from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aioresponses import aioresponses

from clerk_async import AsyncClerk, RetryPolicy

from factories import VirtualClock

API = "https://api.clerk.com/v1"
KEY = "sk_test_SECRETSECRETSECRET1234"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


#: aioresponses (0.7.x) cannot build aiohttp 3.14 responses. The tests that use
#: it are narrow transport cases; .ci/run runs everything else against the
#: newest aiohttp in a second venv, and these in the pinned one.
AIORESPONSES_WORKS = tuple(int(p) for p in aiohttp.__version__.split(".")[:2]) < (3, 14)


@pytest.fixture
def mocked() -> aioresponses:  # type: ignore[misc]
    if not AIORESPONSES_WORKS:
        pytest.skip(
            f"aioresponses cannot build aiohttp {aiohttp.__version__} responses; "
            "these cases run in the venv pinned to aiohttp<3.14"
        )
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
