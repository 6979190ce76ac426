"""pytest fixtures for FakeClerk (registered through the ``pytest11`` entry point).

Installing ``clerk-users`` loads this module into *every* pytest run of the
environment, so it must never break a suite that does not use it: it imports
nothing beyond pytest and the standard library at load time, and pytest-asyncio
is optional.

Async fixtures (need pytest-asyncio, any mode, strict included):

* ``fake_clerk``: a running :class:`FakeClerk` on the test's event loop.
* ``clerk``: an ``AsyncClerk`` bound to it, closed after the test.

Sync fixtures (no pytest-asyncio needed, e.g. for Django tests):

* ``fake_clerk_sync``: a :class:`FakeClerk` served from a background thread.
* ``clerk_sync``: a ``clerk_sync.Clerk`` bound to it, closed after the test.

Configure the fake per test with a marker::

    @pytest.mark.fake_clerk(rate_limit="100/10s", faults=Faults(rate=0.1))
    @pytest.mark.asyncio
    async def test_something(clerk, fake_clerk): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from clerk_async import AsyncClerk
    from clerk_sync import Clerk

    from ._server import FakeClerk

__all__ = ["clerk", "clerk_sync", "fake_clerk", "fake_clerk_sync"]

MISSING_ASYNCIO = (
    "the {name!r} fixture is async and needs pytest-asyncio: `pip install pytest-asyncio` "
    "and mark the test with @pytest.mark.asyncio (or set asyncio_mode = \"auto\"); "
    "for sync tests use the 'clerk_sync' and 'fake_clerk_sync' fixtures"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fake_clerk(**kwargs): keyword arguments for the fake_clerk fixture's FakeClerk"
    )


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("fake_clerk")
    return dict(marker.kwargs) if marker else {}


# --------------------------------------------------------------------------- sync fixtures


@pytest.fixture
def fake_clerk_sync(request: pytest.FixtureRequest) -> Iterator[FakeClerk]:
    """A FakeClerk on its own event-loop thread, for tests that block theirs."""
    from anyio.from_thread import start_blocking_portal

    from ._server import FakeClerk

    with start_blocking_portal() as portal:
        fake = FakeClerk(**_options(request))
        portal.call(fake.start)
        try:
            yield fake
        finally:
            portal.call(fake.aclose)


@pytest.fixture
def clerk_sync(fake_clerk_sync: FakeClerk) -> Iterator[Clerk]:
    """A blocking ``clerk_sync.Clerk`` bound to ``fake_clerk_sync``."""
    from clerk_sync import Clerk

    with Clerk(
        secret_key=fake_clerk_sync.secret_key, base_url=fake_clerk_sync.base_url, rate_limit=None
    ) as client:
        yield client


# --------------------------------------------------------------------------- async fixtures

# An absent (or broken) pytest-asyncio must not turn into "Error while loading
# plugin" in somebody else's test run.
try:
    import pytest_asyncio
except ImportError:
    pytest_asyncio = None  # type: ignore[assignment]

if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def fake_clerk(request: pytest.FixtureRequest) -> AsyncIterator[FakeClerk]:
        """A running FakeClerk on the test's event loop."""
        from ._server import FakeClerk

        async with FakeClerk(**_options(request)) as fake:
            yield fake

    @pytest_asyncio.fixture
    async def clerk(fake_clerk: FakeClerk) -> AsyncIterator[AsyncClerk]:
        """An ``AsyncClerk`` bound to ``fake_clerk``, closed after the test."""
        from clerk_async import AsyncClerk

        async with AsyncClerk(
            secret_key=fake_clerk.secret_key, base_url=fake_clerk.base_url, rate_limit=None
        ) as client:
            yield client

else:
    # Registered anyway, so a test that asks for them gets this message instead
    # of pytest's generic "fixture 'clerk' not found".

    @pytest.fixture(name="fake_clerk")
    def _fake_clerk_unavailable() -> None:
        pytest.fail(MISSING_ASYNCIO.format(name="fake_clerk"), pytrace=False)

    @pytest.fixture(name="clerk")
    def _clerk_unavailable() -> None:
        pytest.fail(MISSING_ASYNCIO.format(name="clerk"), pytrace=False)


# Signed-in headers for a fake user (issue 25); defined in their own module.
from ._auth_fixtures import clerk_session_headers, clerk_session_headers_sync  # noqa: E402

__all__ += ["clerk_session_headers", "clerk_session_headers_sync"]
