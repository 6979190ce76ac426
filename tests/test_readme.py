"""The README runs as written: every fenced shell or python block is executed here.

THE CONVENTION (read this before adding to README.md)
------------------------------------------------------
* Put a marker on the line just before every ```bash / ```python block:

      <!-- readme: NAME -->            a test in this file runs the block; it reads the
                                        text with ``block("NAME")`` and is decorated with
                                        ``@covers("NAME")``.
      <!-- readme: not-run: REASON -->  the block cannot run offline (needs a Clerk
                                        account, serves until Ctrl-C, reinstalls the venv,
                                        ...); REASON says why, in a few words.

* Blocks in other languages (```text, ```toml) are data: no marker needed, though a
  test may read a named one.
* Run blocks verbatim. Shell blocks run with ``run_shell`` in a scratch directory
  where ``.venv`` is the running environment and ``examples/`` the repo's folder,
  so the README can use ``.venv/bin/...`` and repo-relative paths.
* ``test_every_block_is_run_or_excused`` fails when a shell/python block has
  neither a covered NAME nor a not-run REASON, or when a NAME is used twice.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from clerk_async.testing import FakeClerk

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUNNABLE = {"bash", "sh", "shell", "console", "python", "py"}
BLOCK = re.compile(
    r"^[ \t]*(?:<!-- readme: (?P<mark>.*?) -->\n)?"
    r"(?P<indent>[ \t]*)```(?P<lang>[\w-]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.M | re.S,
)
COVERED: set[str] = set()
F = TypeVar("F", bound=Callable[..., Any])


def covers(*names: str) -> Callable[[F], F]:
    """Declares that the decorated test runs these README blocks."""

    def mark(test: F) -> F:
        COVERED.update(names)
        return test

    return mark


def blocks() -> list[tuple[str | None, str, str]]:
    """(marker, language, dedented body) of every fenced block, in order."""
    found = []
    for match in BLOCK.finditer(README.read_text()):
        indent = match["indent"]
        body = "".join(
            line[len(indent):] if line.startswith(indent) else line
            for line in match["body"].splitlines(keepends=True)
        )
        found.append((match["mark"], match["lang"], body))
    return found


def block(name: str) -> str:
    matches = [body for mark, _, body in blocks() if mark == name]
    assert len(matches) == 1, f"README has {len(matches)} blocks marked {name!r}"
    return matches[0]


def scratch(tmp_path: Path) -> Path:
    """A directory outside the repo that looks like a checkout to README commands."""
    (tmp_path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    return tmp_path


def run_shell(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs a shell block with exactly ``env``; from an async test, use asyncio.to_thread
    so the test's loop keeps serving a FakeClerk meanwhile."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )


def fake_env(fake: FakeClerk) -> dict[str, str]:
    return {"CLERK_SECRET_KEY": fake.secret_key, "CLERK_API_URL": fake.base_url}


async def run_python(code: str, env: dict[str, str], cwd: Path | None = None) -> tuple[str, str]:
    """Runs ``code`` as a script in a fresh interpreter; fails the test on a non-zero exit."""
    # Unbuffered stdout (CI machines export PYTHONUNBUFFERED=1) makes print()
    # two writes, so forked workers printing at once interleave their lines.
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-W", "error::ResourceWarning", "-c", code, env={**inherited, **env},
        cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    return out.decode(), err.decode()


# --------------------------------------------------------------------------- the convention


def unexcused(found: list[tuple[str | None, str, str]], covered: set[str]) -> list[str]:
    """What breaks the convention in ``found`` (the output of :func:`blocks`)."""
    problems, names = [], []
    for mark, lang, body in found:
        if lang not in RUNNABLE:
            continue
        where = body.strip().splitlines()[0] if body.strip() else "(empty block)"
        if not mark:
            problems.append(f"block starting {where!r} has no <!-- readme: ... --> marker")
        elif mark.startswith("not-run:"):
            if not mark.removeprefix("not-run:").strip():
                problems.append(f"no reason given for the not-run block {where!r}")
        elif mark not in covered:
            problems.append(f"block {mark!r} is not run by any @covers test in {__file__}")
        else:
            names.append(mark)
    problems += [f"block name {name!r} used twice" for name in set(names) if names.count(name) > 1]
    return problems


def test_every_block_is_run_or_excused() -> None:
    assert unexcused(blocks(), COVERED) == []
    assert len(COVERED) > 5, "no README block is run at all"


def test_the_convention_check_catches_each_mistake() -> None:
    found = [
        (None, "bash", "echo unmarked\n"),
        ("not-run:  ", "python", "print('no reason')\n"),
        ("nobody-runs-me", "bash", "true\n"),
        ("twice", "bash", "true\n"),
        ("twice", "python", "pass\n"),
        (None, "text", "a tree, not code\n"),
        ("not-run: needs a Clerk account", "bash", "true\n"),
    ]
    assert unexcused(found, {"twice"}) == [
        "block starting 'echo unmarked' has no <!-- readme: ... --> marker",
        "no reason given for the not-run block \"print('no reason')\"",
        f"block 'nobody-runs-me' is not run by any @covers test in {__file__}",
        "block name 'twice' used twice",
    ]


def test_blocks_are_parsed_with_their_markers() -> None:
    # Guards the parser itself: indented blocks in list items are found and dedented.
    parsed = {mark: body for mark, _, body in blocks() if mark}
    assert parsed["pytest-sync"].startswith("# test_signup_sync.py")


# --------------------------------------------------------------------------- pytest plugin

PLUGIN_ENV = {"PYTEST_ADDOPTS": "", "PYTEST_PLUGINS": ""}
UNRELATED_TEST = "def test_unrelated():\n    assert 1 + 1 == 2\n"


def plugin_project(tmp_path: Path, *names: str) -> Path:
    """A user's project outside the repo holding the README snippets verbatim."""
    project = tmp_path / "userproject"
    project.mkdir()
    for name in names:
        code = block(name)
        filename = code.splitlines()[0].removeprefix("# ").split(":")[0]
        (project / filename).write_text(code)
    (project / "test_unrelated.py").write_text(UNRELATED_TEST)
    return project


def pytest_in(project: Path, *args: str,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args], cwd=project,
        env={**os.environ, **PLUGIN_ENV, **(env or {})},
        capture_output=True, text=True, timeout=120, check=False,
    )


@covers("pytest-async", "pytest-sync")
def test_plugin_snippets_pass_in_strict_mode(tmp_path: Path) -> None:
    project = plugin_project(tmp_path, "pytest-async", "pytest-sync")
    # pytest-asyncio warns until its loop scope is set, and -W error would fail on it.
    (project / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    result = pytest_in(project, "-q", "-p", "no:cacheprovider", "-W", "error")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def without_pytest_asyncio(tmp_path: Path) -> dict[str, str]:
    """Env where ``import pytest_asyncio`` fails, as in a venv without the package.

    A package shadowing it on PYTHONPATH wins over site-packages (a meta-path
    blocker would not: pytest's assertion rewriter finds plugin modules first).
    ``-p no:asyncio`` then stands in for its missing entry point. .ci/run repeats
    this with a real venv holding only the wheel and pytest.
    """
    shim = tmp_path / "shim" / "pytest_asyncio"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'pytest_asyncio'\", name='pytest_asyncio')\n"
    )
    return {"PYTHONPATH": str(shim.parent)}


@covers("pytest-sync")
def test_plugin_is_harmless_without_pytest_asyncio(tmp_path: Path) -> None:
    project = plugin_project(tmp_path, "pytest-sync")
    result = pytest_in(project, "-q", "-p", "no:cacheprovider", "-p", "no:asyncio",
                       env=without_pytest_asyncio(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert "Error while loading" not in result.stderr


def test_async_fixture_without_pytest_asyncio_says_what_to_install(tmp_path: Path) -> None:
    project = plugin_project(tmp_path)
    (project / "test_wants_clerk.py").write_text("def test_x(clerk):\n    pass\n")
    result = pytest_in(project, "-q", "-p", "no:cacheprovider", "-p", "no:asyncio",
                       env=without_pytest_asyncio(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 1 error" in result.stdout
    assert "needs pytest-asyncio: `pip install pytest-asyncio`" in result.stdout


# --------------------------------------------------------------------------- quickstart


@covers("quickstart")
async def test_quickstart_runs_as_written(fake_clerk: FakeClerk) -> None:
    out, err = await run_python(block("quickstart"), fake_env(fake_clerk))
    assert err == ""
    assert "404 resource_not_found" in out
    assert fake_clerk.stats.users == 1


def in_async_main(fragment: str, prelude: str = "") -> str:
    """A script running a README fragment that uses ``await`` and a ``clerk``."""
    body = textwrap.indent(prelude + fragment, "        ")
    return (
        "import asyncio\nfrom clerk_async import AsyncClerk\n\n"
        "async def main() -> None:\n    async with AsyncClerk() as clerk:\n"
        f"{body}\nasyncio.run(main())\n"
    )


# --------------------------------------------------------------------------- getting started


@covers("try-import")
def test_try_it_without_an_account(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    result = run_shell(block("try-import"), scratch(tmp_path), env)
    assert result.returncode == 0, result.stderr
    assert "validated (dry run)         50" in result.stdout
    assert "created                    300" in result.stdout


# --------------------------------------------------------------------------- frameworks


@covers("fastapi-app")
async def test_fastapi_snippet_serves_a_user(
    fake_clerk: FakeClerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asgi_lifespan
    import httpx

    for name, value in fake_env(fake_clerk).items():
        monkeypatch.setenv(name, value)
    user = fake_clerk.store.add_user(email_address="api@example.com", first_name="Ada")
    namespace: dict[str, Any] = {"__name__": "readme_fastapi"}
    exec(compile(block("fastapi-app"), "README.md", "exec"), namespace)
    app = namespace["app"]
    async with asgi_lifespan.LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            response = await http.get(f"/users/{user.id}")
            budgeted = await http.get(f"/users/{user.id}/name")  # the 2 s route
    assert response.status_code == 200
    assert response.json() == {"id": user.id}
    assert budgeted.status_code == 200 and budgeted.json() == {"name": "Ada"}


@covers("fastapi-auth")
async def test_fastapi_auth_snippet(fake_clerk: FakeClerk, monkeypatch: pytest.MonkeyPatch) -> None:
    import asgi_lifespan
    import httpx

    for name, value in fake_env(fake_clerk).items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, Any] = {"__name__": "readme_fastapi_auth"}
    exec(compile(block("fastapi-auth"), "README.md", "exec"), namespace)
    ours = fake_clerk.session_token("user_readme", authorized_party="https://example.com")
    theirs = fake_clerk.session_token("user_readme", authorized_party="https://evil.example")
    async with asgi_lifespan.LifespanManager(namespace["app"]) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            signed_in = {"Authorization": f"Bearer {ours}"}
            assert (await http.get("/me")).status_code == 401
            me = await http.get("/me", headers=signed_in)
            assert me.json() == {"user_id": "user_readme", "org": None}
            assert (await http.get("/hello")).json() == {"hello": "stranger"}
            assert (await http.get("/hello", headers=signed_in)).json() == {
                "hello": "user_readme"
            }
            assert (await http.get("/strict", headers=signed_in)).status_code == 200
            elsewhere = {"Authorization": f"Bearer {theirs}"}
            assert (await http.get("/strict", headers=elsewhere)).status_code == 401


@covers("fake-tokens")
async def test_fake_tokens_snippet(fake_clerk: FakeClerk) -> None:
    out, err = await run_python(block("fake-tokens"), fake_env(fake_clerk))
    assert out.split() == ["True", "expired"], err


@covers("sync-client")
async def test_sync_client_snippet(fake_clerk: FakeClerk) -> None:
    out, err = await run_python(block("sync-client"), fake_env(fake_clerk))
    assert err == ""
    (user,) = fake_clerk.store.users
    assert out == f"{user}\n"


async def test_snippets_run_with_buffered_stdout_whatever_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression: with PYTHONUNBUFFERED inherited, the pre-forking snippet's two
    # workers wrote "worker 0worker 0\n\n" about one run in three.
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    out, _ = await run_python("import sys; print(sys.stdout.write_through)", {})
    assert out == "False\n"


@covers("pre-forking")
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
async def test_pre_forking_snippet_is_silent_on_every_python(fake_clerk: FakeClerk) -> None:
    # Python 3.12+ warns when fork() copies a thread (ours, if the client had
    # left its loop running); "always" shows that warning whatever module forks.
    env = {**fake_env(fake_clerk), "PYTHONWARNINGS": "always::DeprecationWarning"}
    out, err = await run_python(block("pre-forking"), env)
    assert (out, err) == ("worker 0\nworker 0\nmaster 0\n", "")


# --------------------------------------------------------------------------- quotas


@covers("rate-limits", "redis-quota")
@pytest.mark.parametrize("name", ["rate-limits", "redis-quota"])
async def test_quota_snippets_construct_clients_quietly(fake_clerk: FakeClerk, name: str) -> None:
    # Constructing a client opens nothing, so these run without Redis or a loop.
    out, err = await run_python(block(name), fake_env(fake_clerk))
    assert (out, err) == ("", "")


# --------------------------------------------------------------------------- bulk


@covers("bulk-python")
async def test_bulk_python_snippet(fake_clerk: FakeClerk, tmp_path: Path) -> None:
    rows = 'rows = [{"email_address": ["b1@example.com"]}, {"email_address": ["b2@example.com"]}]\n'
    out, err = await run_python(in_async_main(block("bulk-python"), rows),
                                fake_env(fake_clerk), cwd=tmp_path)
    assert err == ""
    assert out == "2 0 0 []\n"
    assert len((tmp_path / "users.jsonl").read_text().splitlines()) == 2
    assert (tmp_path / "import.journal").is_file()


@covers("bulk-cli")
async def test_bulk_cli_snippet(tmp_path: Path) -> None:
    # An sk_live_ key paces the CLI at 1000 requests / 10 s instead of 100.
    async with FakeClerk(secret_key="sk_live_readme_bulk") as fake:
        result = await asyncio.to_thread(
            run_shell, block("bulk-cli"), scratch(tmp_path), {**os.environ, **fake_env(fake)}
        )
    assert result.returncode == 0, result.stderr
    assert "created                     50" in result.stdout
    assert "Exported 50 users to all-users.jsonl" in result.stdout
    assert len((tmp_path / "all-users.jsonl").read_text().splitlines()) == 50


# --------------------------------------------------------------------------- migrations


@covers("migrate-cli")
async def test_migrate_cli_snippet_carries_every_password(tmp_path: Path) -> None:
    import json

    from clerk_async import AsyncClerk

    async with FakeClerk(secret_key="sk_live_readme_migrate") as fake:
        result = await asyncio.to_thread(
            run_shell, block("migrate-cli"), scratch(tmp_path), {**os.environ, **fake_env(fake)}
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("failed                       0") == 7
        assert fake.stats.users == 26
        # Every run ends with what it did not carry (Django: the SSO-only user).
        assert "      1  unusable or empty password in Django" in result.stdout
        async with AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url) as clerk:
            by_external_id = {u.external_id: u.id async for u in clerk.users.iter()}
            for source in ("auth0", "firebase", "supabase", "authjs", "clerk", "django"):
                passwords = json.loads(
                    (ROOT / "examples" / "migrations" / source / "passwords.json").read_text())
                for external_id, password in passwords.items():
                    check = await clerk.users.verify_password(by_external_id[external_id],
                                                              password)
                    assert check.verified, (source, external_id)


@covers("migrate-python")
async def test_migrate_python_snippet() -> None:
    out, err = await run_python(block("migrate-python"), {}, cwd=ROOT)
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 5 and lines[0].startswith("9b2f6c1e-4a7d-4e0b-8f3a-2c5d7e9f1a3b [")
    assert lines[4].startswith("{'not transferable': {'social login (google)': 1}")


# --------------------------------------------------------------------------- FakeClerk


@covers("fake-in-code")
async def test_fake_in_code_snippet() -> None:
    out, err = await run_python(block("fake-in-code"), {})
    assert err == ""
    count, stats = out.splitlines()
    assert count == "1"
    assert "'GetUsersCount': 1" in stats
