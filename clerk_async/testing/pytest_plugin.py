"""pytest fixtures for FakeClerk (registered through the ``pytest11`` entry point).

``fake_clerk``: a running :class:`FakeClerk`. ``clerk``: an ``AsyncClerk`` bound to
it, closed after the test. Configure the fake per test with a marker::

    @pytest.mark.fake_clerk(rate_limit="100/10s", faults=Faults(rate=0.1))
    async def test_something(clerk, fake_clerk): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from ._server import FakeClerk

if TYPE_CHECKING:
    from clerk_async import AsyncClerk

__all__ = ["clerk", "fake_clerk"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fake_clerk(**kwargs): keyword arguments for the fake_clerk fixture's FakeClerk"
    )


@pytest_asyncio.fixture
async def fake_clerk(request: pytest.FixtureRequest) -> AsyncIterator[FakeClerk]:
    marker = request.node.get_closest_marker("fake_clerk")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    async with FakeClerk(**options) as fake:
        yield fake


@pytest_asyncio.fixture
async def clerk(fake_clerk: FakeClerk) -> AsyncIterator[AsyncClerk]:
    # Imported here so the plugin loads even while the client package is incomplete.
    from clerk_async import AsyncClerk

    async with AsyncClerk(
        secret_key=fake_clerk.secret_key, base_url=fake_clerk.base_url, rate_limit=None
    ) as client:
        yield client
