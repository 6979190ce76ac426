"""``clerk_sync.Clerk`` against a FakeClerk served from a background thread."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

import clerk_async
from clerk_async import AsyncClerk, ClerkError, NotFoundError
from clerk_async.testing import FakeClerk
from clerk_sync import Clerk, _portal
from clerk_sync._portal import Bound, _Loop

from polling import deadline_passed

ROOT = Path(__file__).resolve().parent.parent
PORTAL_THREAD = "clerk-sync-portal"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeClerk]:
    """One FakeClerk for the module, in its own loop thread (sync tests block theirs)."""
    with start_blocking_portal() as portal:
        server = FakeClerk(require_identifier=False)
        portal.call(server.start)
        try:
            yield server
        finally:
            portal.call(server.aclose)


@pytest.fixture
def clerk(fake: FakeClerk) -> Iterator[Clerk]:
    with Clerk(secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None) as client:
        yield client


@pytest.fixture
def user_id(clerk: Clerk) -> str:
    return clerk.users.create(first_name="Ada").id


def portal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == PORTAL_THREAD]


def own(clerk: Clerk) -> Bound[AsyncClerk]:
    """Runs any coroutine function against the client's loop (for probing it)."""
    return clerk._bind(lambda client: client)


# -- lifecycle ---------------------------------------------------------------------------


def test_construction_starts_nothing(fake: FakeClerk) -> None:
    before = threading.active_count()
    clerk = Clerk(secret_key=fake.secret_key, base_url=fake.base_url)
    assert threading.active_count() == before
    assert clerk._runner._loop is None
    assert "sk_test_" in repr(clerk) and fake.secret_key not in repr(clerk)
    assert repr(clerk).startswith("<Clerk ")
    clerk.close()  # never started: nothing to stop
    assert clerk.closed


def test_bad_arguments_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="timeout"):
        Clerk(secret_key="sk_test_x", timeout=-1)


def test_first_call_starts_one_portal_and_close_stops_it(fake: FakeClerk) -> None:
    clerk = Clerk(secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None)
    created = clerk.users.create(first_name="Grace")
    assert clerk.users.get(created.id).first_name == "Grace"
    assert len(portal_threads()) == 1
    clerk.close()
    clerk.close()  # idempotent
    assert portal_threads() == []
    with pytest.raises(ClerkError, match="closed"):
        clerk.users.get(created.id)
    assert portal_threads() == []


def test_with_block_closes(fake: FakeClerk) -> None:
    with Clerk(secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None) as clerk:
        clerk.users.count()
        session = clerk._runner.client._transport._session
        assert session is not None
    assert clerk.closed and session.closed
    assert portal_threads() == []


def test_forgotten_client_is_closed_by_gc(fake: FakeClerk) -> None:
    clerk = Clerk(secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None)
    clerk.users.count()
    session = clerk._runner.client._transport._session
    assert session is not None and portal_threads()
    del clerk
    gc.collect()
    assert session.closed
    assert portal_threads() == []


def test_settings_mirror_the_async_client(fake: FakeClerk) -> None:
    clerk = Clerk(secret_key=fake.secret_key, base_url=fake.base_url, timeout=7, retry=None)
    assert clerk.timeout == 7.0 and clerk.retry is None
    assert clerk.base_url == fake.base_url
    assert clerk.api_version == clerk_async.DEFAULT_API_VERSION
    clerk.close()


# -- calls --------------------------------------------------------------------------------


def test_concurrent_calls_share_one_portal_and_one_session(clerk: Clerk, user_id: str) -> None:
    clerk.users.get(user_id)
    session = clerk._runner.client._transport._session
    loop = clerk._runner._loop
    assert loop is not None

    def loop_thread() -> int:
        return threading.get_ident()

    with ThreadPoolExecutor(max_workers=16) as pool:
        users = list(pool.map(lambda _: clerk.users.get(user_id), range(50)))
        idents = set(pool.map(lambda _: own(clerk).call(_in_loop, loop_thread), range(50)))
    assert {u.id for u in users} == {user_id}
    assert idents == {loop.thread_id}
    assert clerk._runner._loop is loop
    assert clerk._runner.client._transport._session is session
    assert len(portal_threads()) == 1


async def _in_loop(_: object, fn: object) -> object:
    assert callable(fn)
    return fn()


def test_exceptions_keep_class_and_fields(clerk: Clerk) -> None:
    with pytest.raises(NotFoundError) as caught:
        clerk.users.get("user_missing")
    err = caught.value
    assert type(err) is clerk_async.NotFoundError
    assert err.status == 404
    assert err.clerk_trace_id
    assert err.errors and err.errors[0].code == "resource_not_found"
    with pytest.raises(ValueError, match="limit"):
        clerk.users.list(limit=0)


def test_context_variables_reach_the_portal_task(clerk: Clerk, user_id: str) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")
    seen: list[str] = []

    class Record(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            seen.append(var.get())
            return False

    logger = logging.getLogger("clerk_async")
    record = Record()
    logger.addFilter(record)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        var.set("req-1")
        clerk.users.get(user_id)  # the transport logs each request inside the loop
        assert seen == ["req-1"]

        async def read(_: object) -> str:
            return var.get()

        assert own(clerk).call(read) == "req-1"
        var.set("req-2")
        assert [u.id for u in clerk.users.iter(user_id=[user_id])] == [user_id]
        assert seen[-1] == "req-2"

        def in_thread() -> str:
            var.set("req-3")  # each thread's own value, never another's
            clerk.users.get(user_id)
            return own(clerk).call(read)

        with ThreadPoolExecutor(max_workers=2) as pool:
            assert pool.submit(in_thread).result() == "req-3"
        assert own(clerk).call(read) == "req-2"
    finally:
        logger.removeFilter(record)
        logger.setLevel(level)


def test_close_while_other_threads_call_never_strands_them(fake: FakeClerk) -> None:
    clerk = Clerk(secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None)
    user_id = clerk.users.create(first_name="Race").id
    calls = threading.Semaphore(0)

    started = time.monotonic()

    def hammer() -> BaseException:
        # Bounded: if close() never reaches the callers, fail instead of hammering forever
        # (the pool's shutdown would otherwise wait on these threads for ever).
        while not deadline_passed(started, 30):
            try:
                clerk.users.get(user_id)
            except BaseException as exc:
                return exc
            calls.release()
        return TimeoutError("close() did not stop the calling threads within 30 s")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [pool.submit(hammer) for _ in range(8)]
        for _ in range(40):
            assert calls.acquire(timeout=5)
        clerk.close()
        errors = [r.result(timeout=10) for r in results]
    assert all(isinstance(e, ClerkError) for e in errors), errors
    assert portal_threads() == []


# -- iteration ------------------------------------------------------------------------------


def test_iter_fetches_one_page_per_portal_call(
    clerk: Clerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = f"iter-{time.monotonic_ns()}"
    ids = {clerk.users.create(external_id=f"{tag}-{i}").id for i in range(7)}
    calls = 0
    run = _Loop.run

    def counting(self: _Loop, thunk: object) -> object:
        nonlocal calls
        calls += 1
        return run(self, thunk)  # type: ignore[arg-type]

    monkeypatch.setattr(_Loop, "run", counting)
    got = [u.id for u in clerk.users.iter(page_size=3, user_id=sorted(ids))]
    assert set(got) == ids and len(got) == 7
    assert calls == 3  # pages of 3, 3 and 1


def test_leaving_iter_early_closes_the_async_generator(clerk: Clerk) -> None:
    closed = threading.Event()
    pulled = 0

    async def numbers(_: AsyncClerk) -> AsyncIterator[int]:
        nonlocal pulled
        try:
            for n in range(1000):
                pulled += 1
                yield n
        finally:
            closed.set()

    for n in own(clerk).iterate(numbers, 10):
        if n == 3:
            break
    assert closed.is_set()  # closed by the time the loop is left, not later by GC
    assert pulled == 10

    async def pending() -> int:
        current = asyncio.current_task()
        return len([t for t in asyncio.all_tasks() if t is not current and not t.done()])

    loop = clerk._runner._loop
    assert loop is not None
    baseline = loop.portal.call(pending)
    for _user in clerk.users.iter(page_size=1):
        break
    assert loop.portal.call(pending) == baseline


def test_iter_error_after_items_arrives_after_them(clerk: Clerk) -> None:
    async def failing(_: AsyncClerk) -> AsyncIterator[int]:
        yield 1
        yield 2
        raise LookupError("gone")

    got: list[int] = []
    with pytest.raises(LookupError, match="gone"):
        for n in own(clerk).iterate(failing, 10):
            got.append(n)
    assert got == [1, 2]


# -- threads with event loops -----------------------------------------------------------------


def test_call_inside_a_running_loop_works_and_warns_once(clerk: Clerk, user_id: str) -> None:
    async def main() -> list[str]:
        first = clerk.users.get(user_id).id
        second = [u.id for u in clerk.users.iter(user_id=[user_id])]
        return [first, *second]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(main()) == [user_id, user_id]
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(runtime) == 1
    assert "AsyncClerk" in str(runtime[0].message)
    assert runtime[0].filename == __file__  # points at the caller, not the SDK


def test_iter_warning_points_at_the_for_loop(fake: FakeClerk) -> None:
    clerk = Clerk(secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None)

    async def main() -> None:
        for _user in clerk.users.iter(page_size=1):
            break

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(main())
    clerk.close()
    assert [w.filename for w in caught if w.category is RuntimeWarning] == [__file__]


def test_call_from_the_portal_thread_raises(clerk: Clerk, user_id: str) -> None:
    clerk.users.get(user_id)
    loop = clerk._runner._loop
    assert loop is not None
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="own event loop thread"):
        loop.portal.call(lambda: clerk.users.get(user_id))

    async def nested(_: AsyncClerk) -> object:
        return clerk.users.count()

    with pytest.raises(RuntimeError, match="own event loop thread"):
        own(clerk).call(nested)
    with pytest.raises(RuntimeError, match="own event loop thread"):
        loop.portal.call(clerk.close)
    assert time.monotonic() - started < 5
    assert clerk.users.get(user_id).id == user_id


# -- processes -----------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_child_gets_its_own_portal(clerk: Clerk, user_id: str) -> None:
    clerk.users.get(user_id)  # the parent's portal is running when we fork
    parent_loop = clerk._runner._loop
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            fresh = clerk._runner._loop is None
            ok = clerk.users.get(user_id).id == user_id
            ok = ok and clerk._runner._loop is not parent_loop and len(portal_threads()) == 1
            code = 0 if fresh and ok else 2
            clerk.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert clerk._runner._loop is parent_loop
    assert clerk.users.get(user_id).id == user_id


def _run_script(
    script: str, fake: FakeClerk, timeout: float = 20, *, flags: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        # For scripts that build Clerk() from the environment, as the README's do.
        "CLERK_SECRET_KEY": fake.secret_key,
        "CLERK_API_URL": fake.base_url,
    }
    return subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", *flags, "-c", textwrap.dedent(script),
         fake.base_url, fake.secret_key],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
    )


def test_exit_with_an_open_client_is_silent_and_quick(fake: FakeClerk) -> None:
    started = time.monotonic()
    done = _run_script(
        """
        import sys
        from clerk_sync import Clerk

        clerk = Clerk(secret_key=sys.argv[2], base_url=sys.argv[1], rate_limit=None)
        user = clerk.users.create(first_name="Exit")
        assert clerk.users.get(user.id).first_name == "Exit"
        users = clerk.users.iter(page_size=1)
        next(users)  # an iteration left suspended as well
        print("ok")
        """,
        fake,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")
    assert time.monotonic() - started < 10


# What the README's "Pre-forking servers" section promises is checked here (its
# example runs in test_readme.py), in child processes of their own: a test
# process always has other threads (the FakeClerk's), which keeps the fork hook
# from closing anything.

#: Shows every DeprecationWarning, wherever fork() is called (gunicorn forks
#: from its own module, where the default filters would hide Python's warning).
ALL_DEPRECATIONS = ("-W", "always::DeprecationWarning")

#: Starts a script with ``sockets()``: the process's sockets, as /proc/self/fd
#: links (the same link is the same socket).
SOCKETS = """\
import os, sys, threading
from clerk_sync import Clerk

def sockets():
    links = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:"):
            links.add(link)
    return links
"""

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")


@needs_fork
def test_forked_child_exiting_normally_is_silent(fake: FakeClerk) -> None:
    """A gunicorn-style worker: inherits a started client, uses it, exits via sys.exit."""
    done = _run_script(
        """
        import os, sys
        from clerk_sync import Clerk

        clerk = Clerk(secret_key=sys.argv[2], base_url=sys.argv[1], rate_limit=None)
        user = clerk.users.create(first_name="Pre")
        pids = []
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                assert clerk.users.get(user.id).first_name == "Pre"
                sys.exit(0)  # normal interpreter exit, atexit and all
            pids.append(pid)
        codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
        assert clerk.users.get(user.id).first_name == "Pre", "parent still works"
        print(codes)
        """,
        fake,
        flags=ALL_DEPRECATIONS,
    )
    # Python 3.12+ warns about fork() in a multi-threaded process: no warning
    # means no thread of ours was running at the fork.
    assert (done.returncode, done.stdout, done.stderr) == (0, "[0, 0]\n", "")


@needs_fork
@needs_proc
def test_fork_from_a_single_threaded_parent_hands_down_no_thread_and_no_socket(
    fake: FakeClerk,
) -> None:
    done = _run_script(
        SOCKETS
        + textwrap.dedent("""
        clerk = Clerk(secret_key=sys.argv[2], base_url=sys.argv[1], rate_limit=None)
        user = clerk.users.create(first_name="Pre")
        assert sockets(), "the parent holds a pooled connection"
        pid = os.fork()
        if pid == 0:
            threads = sorted(t.name for t in threading.enumerate())
            inherited = (threads, len(os.listdir("/proc/self/task")), sockets())
            print("child", inherited, clerk.users.get(user.id).first_name, flush=True)
            sys.exit(0)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        print("parent", code, clerk.users.get(user.id).first_name)
        """),
        fake,
        flags=ALL_DEPRECATIONS,
    )
    expected = "child (['MainThread'], 1, set()) Pre\nparent 0 Pre\n"
    assert (done.returncode, done.stdout, done.stderr) == (0, expected, "")


@needs_fork
@needs_proc
def test_fork_with_other_threads_leaves_the_parent_loop_and_connections_alone(
    fake: FakeClerk,
) -> None:
    """Another thread might be entering a call: the parent's loop keeps running.

    The child leaves its copy of the loop and of the pooled connection alone
    (closing them would break the parent's), makes calls on a loop of its own,
    and exits normally; the parent then reuses the very same connection.
    """
    done = _run_script(
        SOCKETS
        + textwrap.dedent("""
        stop = threading.Event()
        bystander = threading.Thread(target=stop.wait)
        bystander.start()
        clerk = Clerk(secret_key=sys.argv[2], base_url=sys.argv[1], rate_limit=None)
        user = clerk.users.create(first_name="Pre")
        loop, before = clerk._runner._loop, sockets()
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                ok = clerk.users.get(user.id).first_name == "Pre"
                sys.exit(0 if ok and clerk._runner._loop is not loop else 3)
            code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            name = clerk.users.get(user.id).first_name
            # flushed before the next fork: a child exiting normally flushes the
            # buffer it inherited, and a pipe (unlike a terminal) buffers whole blocks
            print(code, name, clerk._runner._loop is loop, sockets() == before, flush=True)
        stop.set()
        bystander.join()
        """),
        fake,
        # Python's own warning, caused by the bystander thread.
        flags=("-W", "ignore:This process:DeprecationWarning"),
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "0 Pre True True\n" * 2, "")


def test_fork_hook_closes_an_idle_loop_and_the_next_call_starts_another(
    fake: FakeClerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    clerk = Clerk(secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None)
    user = clerk.users.create(first_name="Idle")
    client, loop = clerk._runner.client, clerk._runner._loop
    assert loop is not None
    os_thread = Path(f"/proc/self/task/{loop_native_id(clerk)}")
    # As if this were the only thread besides clerk_sync's.
    monkeypatch.setattr(_portal, "_only_our_threads", lambda: True)
    _portal._before_fork()
    assert (clerk._runner._loop, portal_threads(), clerk.closed) == (None, [], False)
    assert loop.stopped and client.closed
    assert not os_thread.exists(), "the OS thread is gone too, not just joined"
    assert clerk.users.get(user.id).first_name == "Idle"
    assert clerk._runner._loop is not loop and clerk._runner.client is not client
    assert clerk.stats.requests == 1, "the new client's stats start over"
    clerk.close()
    _portal._before_fork()  # a closed client stays closed
    assert clerk.closed and clerk._runner._loop is loop_of(clerk)


def loop_native_id(clerk: Clerk) -> int | None:
    async def native_id(_: AsyncClerk) -> int | None:
        return threading.get_native_id()

    return own(clerk).call(native_id)


def loop_of(clerk: Clerk) -> _Loop | None:
    return clerk._runner._loop


def test_fork_hook_keeps_a_loop_with_an_iteration_in_progress(clerk: Clerk) -> None:
    for name in ("A", "B"):
        clerk.users.create(first_name=name)
    loop = clerk._runner._loop
    users = clerk.users.iter(page_size=1)
    next(users)
    clerk._runner._stop_for_fork()
    assert clerk._runner._loop is loop and len(portal_threads()) == 1
    assert len(list(users)) >= 1, "the iteration carries on"
    clerk._runner._stop_for_fork()  # finished: nothing in progress any more
    assert clerk._runner._loop is None and portal_threads() == []


def test_fork_hook_keeps_a_loop_with_a_call_in_progress(clerk: Clerk) -> None:
    loop = clerk._runner._loop or clerk._runner._start()
    release = threading.Event()

    async def slow(_: AsyncClerk) -> str:
        await asyncio.get_running_loop().run_in_executor(None, release.wait)
        return "done"

    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(own(clerk).call, slow)
        try:
            while not loop.pending:
                time.sleep(0.001)
            clerk._runner._stop_for_fork()
            assert clerk._runner._loop is loop and not loop.stopped
        finally:
            release.set()
        assert call.result(timeout=10) == "done"


def test_fork_hook_leaves_loops_alone_while_other_threads_exist(clerk: Clerk, user_id: str) -> None:
    loop = clerk._runner._loop
    assert not _portal._only_our_threads()  # the FakeClerk's thread, at least
    _portal._before_fork()
    assert clerk._runner._loop is loop and not loop.stopped


def test_fork_hook_never_stops_a_loop_from_inside_it(clerk: Clerk) -> None:
    async def only_ours(_: AsyncClerk) -> bool:
        return _portal._only_our_threads()

    assert own(clerk).call(only_ours) is False


@needs_proc
def test_waiting_for_os_threads_returns_once_they_exit() -> None:
    before = _portal._os_threads()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    assert _portal._os_threads() - before == {thread.native_id}
    stop.set()
    thread.join()
    _portal._wait_for_os_threads(before)
    assert _portal._os_threads() <= before


@needs_proc
def test_waiting_for_os_threads_gives_up_on_a_thread_that_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_portal, "_EXIT_WAIT", 0.01)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        _portal._wait_for_os_threads(set())  # returns although threads remain
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join()
