"""pytest fixtures for FakeClerk (registered through the ``pytest11`` entry point).

Installing ``clerk-users`` loads this module into *every* pytest run of the
environment, so it must never break a suite that does not use it: it imports
nothing beyond pytest and the standard library at load time, and pytest-asyncio
is optional.

Async fixtures, on the loop of the test: pytest-asyncio's (any mode, strict
included) or anyio's (``@pytest.mark.anyio``, asyncio backend; trio fails at
once with a clear message, as aiohttp needs asyncio):

* ``fake_clerk``: a running :class:`FakeClerk` on the test's event loop.
* ``clerk``: an ``AsyncClerk`` bound to it, closed after the test.

Sync fixtures (no async plugin needed, e.g. for Django tests):

* ``fake_clerk_sync``: a :class:`FakeClerk` served from a background thread.
* ``sync_clerk``: a ``clerk_sync.Clerk`` bound to it, closed after the test.
  ``clerk_sync`` is the same fixture under its first name, which hides the
  ``clerk_sync`` package inside the test.

Configure the fake per test with a marker::

    @pytest.mark.fake_clerk(rate_limit="100/10s", faults=Faults(rate=0.1))
    @pytest.mark.asyncio
    async def test_something(clerk, fake_clerk): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from clerk_async import AsyncClerk
    from clerk_sync import Clerk

    from ._server import FakeClerk

__all__ = ["clerk", "clerk_sync", "fake_clerk", "fake_clerk_sync", "sync_clerk"]

T = TypeVar("T")

MISSING_ASYNCIO = (
    "the {name!r} fixture is async and needs pytest-asyncio: `pip install pytest-asyncio` "
    "and mark the test with @pytest.mark.asyncio (or set asyncio_mode = \"auto\"), or "
    "mark it @pytest.mark.anyio; for sync tests use the 'sync_clerk' and "
    "'fake_clerk_sync' fixtures"
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


def _blocking_client(fake: FakeClerk) -> Iterator[Clerk]:
    from clerk_sync import Clerk

    with Clerk(secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None) as client:
        yield client


@pytest.fixture
def sync_clerk(fake_clerk_sync: FakeClerk) -> Iterator[Clerk]:
    """A blocking ``clerk_sync.Clerk`` bound to ``fake_clerk_sync``."""
    yield from _blocking_client(fake_clerk_sync)


@pytest.fixture
def clerk_sync(fake_clerk_sync: FakeClerk) -> Iterator[Clerk]:
    """The same as ``sync_clerk``, under its first name.

    Inside a test this name hides the ``clerk_sync`` package; ``sync_clerk``
    does not.
    """
    yield from _blocking_client(fake_clerk_sync)


# --------------------------------------------------------------------------- async fixtures
#
# ``fake_clerk`` and ``clerk`` must live on the loop that runs the test, or the
# test waits on a server whose loop is not running. Which loop that is depends
# on the plugin running the test: pytest-asyncio, or anyio (``@pytest.mark.anyio``
# in a project where pytest-asyncio does not claim the test). The public fixtures
# are plain ones that pick the matching async implementation per test.

# An absent (or broken) pytest-asyncio must not turn into "Error while loading
# plugin" in somebody else's test run.
try:
    import pytest_asyncio
except ImportError:
    pytest_asyncio = None  # type: ignore[assignment]

TRIO_UNSUPPORTED = (
    "the {name!r} fixture needs the asyncio backend: FakeClerk and AsyncClerk run on "
    "aiohttp, which does not run under trio. Parametrize anyio_backend with 'asyncio' "
    "for these tests (or use the sync 'sync_clerk' and 'fake_clerk_sync' fixtures)"
)


def _runs_on_anyio(request: pytest.FixtureRequest, name: str) -> bool:
    """Whether anyio, not pytest-asyncio, runs this test (so its loop is anyio's)."""
    # pytest-asyncio marks what it runs (in auto mode, every coroutine test,
    # ``@pytest.mark.anyio`` ones included): then its loop is the test's.
    if request.node.get_closest_marker("asyncio") is not None:
        return False
    if "anyio_backend" not in request.fixturenames:
        return False
    if request.getfixturevalue("anyio_backend_name") != "asyncio":
        pytest.fail(TRIO_UNSUPPORTED.format(name=name), pytrace=False)
    return True


def _pytest_asyncio_can_serve(request: pytest.FixtureRequest, name: str) -> None:
    """Fail at once where an old pytest-asyncio would let anyio hang the test."""
    if (
        pytest_asyncio is not None
        and not SYNC_FIXTURES_SEE_THE_LOOP
        and "anyio_backend" in request.fixturenames
    ):
        message = OLD_PYTEST_ASYNCIO.format(name=name, version=pytest_asyncio.__version__)
        pytest.fail(message, pytrace=False)


async def _serving(options: dict[str, Any]) -> AsyncIterator[FakeClerk]:
    from ._server import FakeClerk

    async with FakeClerk(**options) as fake:
        yield fake


async def _client_of(fake: FakeClerk) -> AsyncIterator[AsyncClerk]:
    from clerk_async import AsyncClerk

    async with AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None
    ) as client:
        yield client


def _on_anyio_runner(request: pytest.FixtureRequest, fixture: Any, kwargs: dict[str, Any]) -> Any:
    """Run an async generator fixture on anyio's runner, the loop of the test."""
    from anyio.pytest_plugin import get_runner

    options = request.getfixturevalue("anyio_backend_options")
    with get_runner("asyncio", options) as runner:
        yield from runner.run_asyncgen_fixture(fixture, kwargs)


def _on_current_loop(fixture: AsyncIterator[T]) -> Iterator[T]:
    """Run an async generator fixture on the current (not yet running) loop."""
    import asyncio

    loop = asyncio.get_event_loop()
    value = loop.run_until_complete(fixture.__anext__())
    try:
        yield value
    finally:
        loop.run_until_complete(_finish(fixture))


async def _finish(fixture: AsyncIterator[Any]) -> None:
    async for _ in fixture:
        raise RuntimeError("an async fixture yielded twice")


@pytest.fixture
def fake_clerk(request: pytest.FixtureRequest) -> Iterator[FakeClerk]:
    """A running FakeClerk on the test's event loop."""
    if _runs_on_anyio(request, "fake_clerk"):
        yield from _on_anyio_runner(request, _serving, {"options": _options(request)})
    else:
        _pytest_asyncio_can_serve(request, "fake_clerk")
        yield request.getfixturevalue("_fake_clerk_asyncio")


@pytest.fixture
def clerk(request: pytest.FixtureRequest, fake_clerk: FakeClerk) -> Iterator[AsyncClerk]:
    """An ``AsyncClerk`` bound to ``fake_clerk``, closed after the test."""
    if _runs_on_anyio(request, "clerk"):
        yield from _on_anyio_runner(request, _client_of, {"fake": fake_clerk})
    else:
        _pytest_asyncio_can_serve(request, "clerk")
        yield request.getfixturevalue("_clerk_asyncio")


#: pytest-asyncio runs sync ``@pytest_asyncio.fixture`` functions with the test's
#: loop as the current one from 1.1 on.
SYNC_FIXTURES_SEE_THE_LOOP = pytest_asyncio is not None and tuple(
    int(part) for part in pytest_asyncio.__version__.split(".")[:2] if part.isdigit()
) >= (1, 1)

OLD_PYTEST_ASYNCIO = (
    "the {name!r} fixture cannot share a test with anyio_backend under pytest-asyncio "
    "{version}: anyio would serve it on a loop that never runs. Upgrade pytest-asyncio "
    "to 1.1 or later, or let anyio run the test (asyncio_mode = strict)"
)

if pytest_asyncio is not None and SYNC_FIXTURES_SEE_THE_LOOP:
    # Sync fixtures on purpose: pytest-asyncio runs them with the test's loop
    # as the current one, and anyio leaves sync fixtures alone. An async
    # fixture would be claimed by anyio's fixture hook whenever the test also
    # asks for ``anyio_backend``, and served on a loop that never runs.
    # (pytest-asyncio's annotations admit only async fixtures; it runs sync ones.)

    @pytest_asyncio.fixture  # type: ignore[type-var]
    def _fake_clerk_asyncio(request: pytest.FixtureRequest) -> Iterator[FakeClerk]:
        yield from _on_current_loop(_serving(_options(request)))

    @pytest_asyncio.fixture  # type: ignore[type-var]
    def _clerk_asyncio(fake_clerk: FakeClerk) -> Iterator[AsyncClerk]:
        yield from _on_current_loop(_client_of(fake_clerk))

elif pytest_asyncio is not None:
    # Older pytest-asyncio: async fixtures, right unless anyio claims them
    # (see _pytest_asyncio_can_serve).

    @pytest_asyncio.fixture(name="_fake_clerk_asyncio")
    async def _fake_clerk_on_old(request: pytest.FixtureRequest) -> AsyncIterator[FakeClerk]:
        async for fake in _serving(_options(request)):
            yield fake

    @pytest_asyncio.fixture(name="_clerk_asyncio")
    async def _clerk_on_old(fake_clerk: FakeClerk) -> AsyncIterator[AsyncClerk]:
        async for client in _client_of(fake_clerk):
            yield client

else:
    # Registered anyway, so that a test asking for them gets this message
    # instead of pytest's generic "fixture not found".

    @pytest.fixture(name="_fake_clerk_asyncio")
    def _fake_clerk_unavailable() -> None:
        pytest.fail(MISSING_ASYNCIO.format(name="fake_clerk"), pytrace=False)

    @pytest.fixture(name="_clerk_asyncio")
    def _clerk_unavailable() -> None:
        pytest.fail(MISSING_ASYNCIO.format(name="clerk"), pytrace=False)


# Signed-in headers for a fake user (issue 25); defined in their own module.
from ._auth_fixtures import clerk_session_headers, clerk_session_headers_sync  # noqa: E402

__all__ += ["clerk_session_headers", "clerk_session_headers_sync"]
