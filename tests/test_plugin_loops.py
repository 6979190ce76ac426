"""The pytest plugin in a user's project, whichever plugin runs the async
tests: pytest-asyncio (auto or strict) or anyio, and the trio backend that
cannot work with aiohttp. Each case is a real pytest run of a small project
outside this repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ANYIO_TESTS = '''
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio"

@pytest.mark.anyio
async def test_async_fixtures_on_anyio(clerk, fake_clerk):
    fake_clerk.store.add_user(email_address="a@example.com")
    assert await clerk.users.count() == 1
    assert fake_clerk.stats.requests["GetUsersCount"] == 1
'''

ASYNCIO_TESTS = '''
import pytest

@pytest.mark.asyncio
async def test_async_fixtures_on_pytest_asyncio(clerk, fake_clerk):
    fake_clerk.store.add_user(email_address="b@example.com")
    assert await clerk.users.count() == 1
'''

TRIO_TESTS = '''
import pytest

@pytest.fixture
def anyio_backend():
    return "trio"

@pytest.mark.anyio
async def test_on_trio(clerk):
    pass
'''

SYNC_TESTS = '''
import clerk_sync

def test_new_name_leaves_the_package_visible(sync_clerk, fake_clerk_sync):
    assert isinstance(sync_clerk, clerk_sync.Clerk)
    sync_clerk.users.create(email_address=["c@example.com"])
    assert fake_clerk_sync.stats.users == 1

def test_first_name_still_works(clerk_sync, fake_clerk_sync):
    clerk_sync.users.create(email_address=["d@example.com"])
    assert clerk_sync.users.count() == 1
'''


def run_project(
    tmp_path: Path, mode: str, files: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    project = tmp_path / mode
    project.mkdir()
    (project / "pytest.ini").write_text(
        f"[pytest]\nasyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function\n"
    )
    for name, text in files.items():
        (project / name).write_text(text)
    # A hang (the old failure) ends in 20 s instead of the fixture's 120 s.
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
         "-o", "timeout=20"],
        cwd=project, env={**os.environ, "PYTEST_ADDOPTS": "", "PYTEST_PLUGINS": ""},
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_async_fixtures_run_on_the_loop_of_the_test(tmp_path: Path, mode: str) -> None:
    result = run_project(tmp_path, mode, {
        "test_anyio.py": ANYIO_TESTS, "test_asyncio.py": ASYNCIO_TESTS, "test_sync.py": SYNC_TESTS,
    })
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_the_trio_backend_fails_at_once_saying_why(tmp_path: Path) -> None:
    # Strict mode: anyio, not pytest-asyncio, runs the test.
    result = run_project(tmp_path, "strict", {"test_trio.py": TRIO_TESTS})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "fixture needs the asyncio backend: FakeClerk and AsyncClerk" in result.stdout
    assert "TypeError" not in result.stdout and "Timeout" not in result.stdout
