"""What a newcomer sees of the client object itself: ``help()`` lists the
resources, and a client left open says it was ours and how to close it."""

from __future__ import annotations

import asyncio
import gc
import os
import pydoc
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from clerk_async import AsyncClerk
from clerk_async.testing import FakeClerk
from clerk_sync import Clerk

LEFT_OPEN = textwrap.dedent(
    """
    import asyncio
    from clerk_async import AsyncClerk
    from clerk_async.testing import FakeClerk

    async def main():
        async with FakeClerk() as fake:
            clerk = AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url)
            await clerk.users.count()
            del clerk  # never closed

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("client", [AsyncClerk, Clerk])
def test_help_lists_the_users_resource(client: type[Any]) -> None:
    text = pydoc.render_doc(client, renderer=pydoc.plaintext)
    assert " |  users\n |      Clerk's Users operations" in text
    assert isinstance(client.users, property)


async def test_a_client_left_open_warns_naming_itself_and_the_fix() -> None:
    reported: list[str] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    try:
        async with FakeClerk() as fake:
            clerk = AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url)
            await clerk.users.count()
            # Kept to close below: aiohttp's own warnings are not under test.
            session = clerk._transport._session
            assert session is not None
            with pytest.warns(ResourceWarning) as seen:
                del clerk
                gc.collect()
            await session.close()
    finally:
        loop.set_exception_handler(previous)
    ours = [str(w.message) for w in seen if "AsyncClerk was not closed" in str(w.message)]
    assert len(ours) == 1 and "await clerk.aclose()" in ours[0]
    assert reported[0].startswith("An AsyncClerk was not closed")


async def test_a_closed_client_and_its_views_stay_quiet() -> None:
    async with FakeClerk() as fake:
        clerk = AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url)
        view = clerk.with_options(timeout=5)
        await view.users.count()
        await clerk.aclose()
        del clerk, view
        gc.collect()  # filterwarnings turns any ResourceWarning into an error


def test_at_exit_the_message_names_the_client_before_aiohttp_s() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CLERK_SECRET_KEY", "CLERK_API_URL")}
    done = subprocess.run(
        [sys.executable, "-c", LEFT_OPEN], capture_output=True, text=True, env=env, timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "An AsyncClerk was not closed" in done.stderr
    assert "async with AsyncClerk(...) as clerk:" in done.stderr
    unclosed = done.stderr.find("Unclosed client session")
    assert unclosed == -1 or unclosed > done.stderr.find("An AsyncClerk was not closed")
