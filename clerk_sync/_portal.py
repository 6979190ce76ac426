"""The runner behind ``clerk_sync``: one event loop thread per client.

A :class:`Runner` owns, once started, an anyio blocking portal (an event loop
in a daemon thread) and the :class:`AsyncClerk` whose aiohttp session lives in
that loop. Every blocking call is one hand-off into that loop (see
:meth:`_Loop.run`), so connections are pooled across calls and across the
caller's threads.

Not a ``BlockingPortalProvider``: that stops the loop whenever no thread is
inside it, which would throw the connection pool away between calls.
"""

from __future__ import annotations

import asyncio
import copy
import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from contextlib import AbstractContextManager, suppress
from functools import partial
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from clerk_async import AsyncClerk, ClerkError

__all__ = ["Bound", "ClientBase", "Runner"]

R = TypeVar("R")
T = TypeVar("T")
P = ParamSpec("P")
C = TypeVar("C", bound="ClientBase")

CLOSED_MESSAGE = "This Clerk client is closed; create a new one to make requests"
#: Every thread this module starts is named with this prefix (the fork hook
#: tells its own threads from the application's by it).
THREAD_PREFIX = "clerk-sync-"
#: How many items of an async generator one call into the loop fetches when the
#: method has no ``page_size`` to go by.
DEFAULT_BATCH = 100
#: How long an interrupted caller waits for its task to finish cancelling.
CANCEL_WAIT = 5.0
#: The cancel message marking a task cancelled because its caller was interrupted.
INTERRUPTED = "clerk_sync: the calling thread was interrupted"

class _Loop:
    """A started portal, its asyncio loop, and the async client that lives there."""

    __slots__ = ("aio", "client", "cm", "pending", "portal", "stopped", "thread_id")

    def __init__(
        self,
        client: AsyncClerk,
        cm: AbstractContextManager[BlockingPortal],
        portal: BlockingPortal,
        aio: asyncio.AbstractEventLoop,
        thread_id: int,
    ) -> None:
        self.client = client
        self.cm = cm
        self.portal = portal
        self.aio = aio
        self.thread_id = thread_id
        self.stopped = False
        # Calls whose result has not been handed back yet, so that a close()
        # racing them can fail them instead of leaving their threads blocked,
        # plus one marker per iteration in progress (the fork hook leaves a
        # loop with anything pending running).
        self.pending: set[Future[Any]] = set()

    def run(self, thunk: Callable[[], Awaitable[T]]) -> T:
        """``await thunk()`` as a task in the loop, from another thread.

        One hand-off each way. ``portal.call`` costs two (it first waits for
        the task group to accept the task), and with a request in flight the
        extra hand-off fights the loop thread for the GIL: measured, it more
        than doubled the facade's cost (benchmarks/bench_sync_overhead.py).
        call_soon_threadsafe runs ``_start`` in a copy of the caller's context,
        and the task inherits it, so context variables reach the call.

        When the wait is interrupted (Ctrl-C, or any other exception raised
        in this thread), the task is cancelled in the loop before the
        exception goes on: the request is abandoned, and one still waiting
        for its quota slot is never sent.
        """
        done: Future[T] = Future()
        self.pending.add(done)
        try:
            self.aio.call_soon_threadsafe(_start, self.aio, thunk, done)
            try:
                return done.result()
            except BaseException:
                if not done.done():
                    self._cancel(done)
                raise
        except RuntimeError:
            # "Event loop is closed": a close() from another thread won the race.
            if self.stopped:
                raise ClerkError(CLOSED_MESSAGE) from None
            raise
        finally:
            self.pending.discard(done)

    def _cancel(self, done: Future[Any]) -> None:
        """Cancel the task behind ``done`` in the loop and wait (briefly) until it ended."""
        # Runs after ``_start`` (the loop keeps the order of these callbacks),
        # so the task exists by then.
        with suppress(RuntimeError):  # the loop is already closed
            self.aio.call_soon_threadsafe(_cancel_task, done)
            # A second Ctrl-C here ends the wait; the cancellation still goes on.
            with suppress(BaseException):
                done.exception(timeout=CANCEL_WAIT)

    def fail_pending(self) -> None:
        for done in list(self.pending):
            with suppress(InvalidStateError):
                done.set_exception(ClerkError(CLOSED_MESSAGE))


def _start(
    aio: asyncio.AbstractEventLoop, thunk: Callable[[], Awaitable[T]], done: Future[T]
) -> None:
    # The coroutine is made here, in the loop, so that a call stranded by a
    # shutdown leaves no never-awaited coroutine behind.
    # Kept on the future (cheaper than a registry) for an interrupted caller.
    done._clerk_task = aio.create_task(_drive(thunk, done))  # type: ignore[attr-defined]


def _cancel_task(done: Future[Any]) -> None:
    task: asyncio.Task[None] | None = getattr(done, "_clerk_task", None)
    if task is not None:
        task.cancel(INTERRUPTED)


async def _drive(thunk: Callable[[], Awaitable[T]], done: Future[T]) -> None:
    # Settling ``done`` from inside the task, not from a done-callback, saves a
    # loop iteration per call.
    try:
        result = await thunk()
    except asyncio.CancelledError as exc:
        # The caller was interrupted, or the loop is shutting down.
        interrupted = INTERRUPTED in exc.args
        with suppress(InvalidStateError):
            done.set_exception(
                asyncio.CancelledError(INTERRUPTED) if interrupted
                else ClerkError(CLOSED_MESSAGE)
            )
        if not interrupted:
            raise
    except BaseException as exc:
        with suppress(InvalidStateError):
            done.set_exception(exc)
        if not isinstance(exc, Exception):
            raise
    else:
        with suppress(InvalidStateError):
            done.set_result(result)
    finally:
        done._clerk_task = None  # type: ignore[attr-defined]  # no task <-> future cycle


def _boot() -> tuple[int, asyncio.AbstractEventLoop]:
    aio = asyncio.get_running_loop()
    # aiohttp resolves host names in the loop's default executor; naming its
    # threads lets the fork hook count them as ours. The loop's shutdown joins them.
    aio.set_default_executor(ThreadPoolExecutor(thread_name_prefix=f"{THREAD_PREFIX}resolver"))
    return threading.get_ident(), aio


def _shutdown(loop: _Loop) -> None:
    """Close the async client inside its loop, then stop the loop and join its thread."""
    if loop.stopped:
        return
    if threading.get_ident() == loop.thread_id:
        # The last reference died inside the loop (a callback, a GC pass there):
        # a thread cannot join itself, so hand the shutdown to a helper.
        threading.Thread(
            target=_shutdown, args=(loop,), name=f"{THREAD_PREFIX}shutdown", daemon=True
        ).start()
        return
    loop.stopped = True
    try:
        loop.portal.call(loop.client.aclose)
    finally:
        # Cancel what is left (calls already failing on the closed session) so
        # that close() and interpreter exit never wait on them.
        with suppress(RuntimeError):
            loop.portal.call(loop.portal.stop, True)
        loop.cm.__exit__(None, None, None)
        loop.fail_pending()


class Runner:
    """Starts the loop thread on first use and stops it on :meth:`close`."""

    def __init__(self, factory: Callable[[], AsyncClerk]) -> None:
        self._factory = factory
        # Built now so that bad arguments fail at construction; it holds no
        # loop-bound state until its first request, made inside the portal.
        self._client: AsyncClerk | None = factory()
        self._loop: _Loop | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._finalizer: weakref.finalize[[_Loop], Runner] | None = None
        self._warned = False
        _live.add(self)

    @property
    def client(self) -> AsyncClerk:
        """The async client (for its settings); rebuilt after a fork."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._factory()
                client = self._client
        return client

    @property
    def closed(self) -> bool:
        return self._closed

    def enter(self, stacklevel: int) -> _Loop:
        """The running loop, started if need be, after checking the calling thread.

        ``stacklevel`` counts frames from this method to the user's call, for
        the warning.
        """
        loop = self._loop
        if loop is None:
            loop = self._start()
        if threading.get_ident() == loop.thread_id:
            raise RuntimeError(
                "clerk_sync.Clerk was called from its own event loop thread, which would "
                "deadlock; in async code use clerk_async.AsyncClerk and await it"
            )
        if not self._warned and asyncio._get_running_loop() is not None:
            self._warned = True
            warnings.warn(
                "clerk_sync.Clerk called from a thread that is running an event loop: the "
                "call blocks that loop until it returns; use clerk_async.AsyncClerk there",
                RuntimeWarning,
                stacklevel=stacklevel + 1,
            )
        return loop

    def _start(self) -> _Loop:
        with self._lock:
            if self._closed:
                raise ClerkError(CLOSED_MESSAGE)
            if self._loop is not None:
                return self._loop
            client = self._client or self._factory()
            cm = start_blocking_portal(name=f"{THREAD_PREFIX}portal")
            portal = cm.__enter__()
            try:
                thread_id, aio = portal.call(_boot)
            except BaseException:
                cm.__exit__(*sys.exc_info())
                raise
            loop = _Loop(client, cm, portal, aio, thread_id)
            self._client = client
            self._finalizer = weakref.finalize(self, _shutdown, loop)
            # Published last: enter() reads it without the lock.
            self._loop = loop
            return loop

    def close(self) -> None:
        loop = self._loop
        if loop is not None and threading.get_ident() == loop.thread_id:
            raise RuntimeError(
                "clerk_sync.Clerk.close() was called from the client's own event loop thread"
            )
        with self._lock:
            self._closed = True
            finalizer, self._finalizer = self._finalizer, None
        if finalizer is not None:
            finalizer()

    def _stop_for_fork(self) -> None:
        """Before ``fork()``: close an idle loop, so that no process inherits it.

        The next call, in the parent or in the child, starts a new loop with a
        new async client (the old one's session belonged to the closed loop).
        """
        loop = self._loop
        if loop is None or loop.pending or self._closed:
            return
        self._loop = None
        self._client = None
        finalizer, self._finalizer = self._finalizer, None
        if finalizer is not None:
            # Raising here would only print "Exception ignored" from fork(); the
            # loop is stopped and its thread joined whether or not aclose() fails.
            with suppress(Exception):
                finalizer()

    def _forget_after_fork(self) -> None:
        """In a forked child: drop the parent's loop without touching it."""
        # The lock may have been held by a thread that does not exist here.
        self._lock = threading.Lock()
        loop, self._loop = self._loop, None
        if loop is None:
            return
        finalizer, self._finalizer = self._finalizer, None
        if finalizer is not None:
            finalizer.detach()
        # Its session, connector and portal all belong to the parent's loop.
        self._client = None
        _abandon(loop)


# -- os.fork() --------------------------------------------------------------------------
#
# A pre-forking server (gunicorn --preload, Celery prefork, multiprocessing's
# "fork") copies a process whose client may have a running loop thread. Python
# 3.12+ warns about forking a multi-threaded process, and a copied loop is
# dangerous in the child: its epoll instance and sockets are shared with the
# parent, so closing them there would break the parent's connections.
#
# So before fork() we close every idle loop (its sockets closed, thread joined):
# the child inherits no thread and nothing open, and both processes start a new
# loop on their next call. That needs the calling thread to be the only one
# besides ours: another thread could be entering a call at this very moment.
# A loop that is busy (a call or an iteration in progress, or other threads
# around, which make Python warn anyway) keeps running for the parent, and the
# child abandons its copy (see _abandon).

_live: weakref.WeakSet[Runner] = weakref.WeakSet()
_abandoned: list[_Loop] = []


def _only_our_threads() -> bool:
    current = threading.current_thread()
    if current.name.startswith(THREAD_PREFIX):
        return False  # forking from inside a loop: it cannot stop itself
    return all(
        thread is current or thread.name.startswith(THREAD_PREFIX)
        for thread in threading.enumerate()
    )


def _before_fork() -> None:
    if not _only_our_threads():
        return
    ours = [thread for thread in threading.enumerate() if thread.name.startswith(THREAD_PREFIX)]
    others = _os_threads() - {thread.native_id for thread in ours}
    for runner in list(_live):
        runner._stop_for_fork()
    if any(thread.is_alive() for thread in ours):
        return  # a busy loop kept running: Python warns anyway
    _wait_for_os_threads(others)


def _os_threads() -> set[int]:
    """The ids of this process's OS threads; empty where the OS does not say."""
    try:
        return {int(name) for name in os.listdir("/proc/self/task")}
    except OSError:  # pragma: no cover - no /proc: not Linux
        return set()


#: At most this many seconds for stopped threads to exit (microseconds, measured).
_EXIT_WAIT = 1.0


def _wait_for_os_threads(expected: set[int]) -> None:
    """Wait until the OS lists no thread of the process beyond ``expected``.

    Before Python 3.13, ``join()`` returns once a thread's Python work is done,
    a moment before the OS thread exits, and asyncio's executor shutdown starts
    and joins a helper thread of its own; a fork() right then still counts
    them (Python 3.12 warned on about half of the forks, measured). Linux lists
    a process's threads in /proc/self/task; elsewhere this returns at once.
    """
    deadline = time.monotonic() + _EXIT_WAIT
    while _os_threads() - expected and time.monotonic() < deadline:
        time.sleep(0.0002)


def _abandon(loop: _Loop) -> None:
    """Keep a copy of a parent's running loop alive in the child for good.

    Only a loop that was busy at fork() gets here. If its objects were ever
    collected in the child, their finalizers would act on state the child
    shares with the parent: the connector's would unregister sockets from the
    parent's epoll instance (and send TLS close alerts on its connections), and
    the portal context manager's would block forever on a loop that has no
    thread in this process. A list alone is emptied at interpreter shutdown,
    hence the deliberate reference leak.
    """
    _abandoned.append(loop)
    try:
        import ctypes

        ctypes.pythonapi.Py_IncRef(ctypes.py_object(loop))
    except (ImportError, AttributeError):  # pragma: no cover - not CPython
        pass


def _after_fork_in_child() -> None:
    for runner in list(_live):
        runner._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


async def _pull(agen: AsyncIterator[T], size: int) -> tuple[list[T], BaseException | None, bool]:
    """Up to ``size`` items: ``(items, error, finished)``."""
    items: list[T] = []
    try:
        while len(items) < size:
            items.append(await agen.__anext__())
    except StopAsyncIteration:
        return items, None, True
    except Exception as exc:
        if not items:
            raise
        # Hand over what was fetched before the failure; the caller raises after.
        return items, exc, True
    return items, None, False


class Bound(Generic[R]):
    """Calls into one async resource (e.g. ``AsyncClerk.users``) of a runner's client."""

    __slots__ = ("_get", "_runner")

    def __init__(self, runner: Runner, get: Callable[[AsyncClerk], R]) -> None:
        self._runner = runner
        self._get = get

    def call(
        self,
        fn: Callable[Concatenate[R, P], Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run the coroutine method ``fn`` of the resource: one hand-off into the loop."""
        loop = self._runner.enter(3)
        return loop.run(partial(fn, self._get(loop.client), *args, **kwargs))

    def iterate(
        self,
        fn: Callable[Concatenate[R, P], AsyncIterator[T]],
        batch: object,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Iterator[T]:
        """Iterate the async generator method ``fn``, ``batch`` items per hand-off."""
        size = batch if isinstance(batch, int) and not isinstance(batch, bool) else DEFAULT_BATCH
        return self._iterate(lambda resource: fn(resource, *args, **kwargs), max(size, 1))

    def _iterate(self, make: Callable[[R], AsyncIterator[T]], size: int) -> Iterator[T]:
        runner = self._runner
        # Frames to the user: enter <- this generator <- the user's for loop.
        loop = runner.enter(2)
        # Creating an async generator runs none of its code, so any thread will do.
        agen = make(self._get(loop.client))
        finished = False
        # Marks the iteration as in progress while it is suspended in the
        # caller's hands: a fork then must not close its loop.
        marker: Future[None] = Future()
        loop.pending.add(marker)
        try:
            while True:
                items, error, finished = loop.run(partial(_pull, agen, size))
                yield from items
                if error is not None:
                    raise error
                if finished:
                    return
                if runner._loop is not loop:
                    # Closed, or forked: the generator belongs to a loop that is gone.
                    raise ClerkError(CLOSED_MESSAGE)
                runner.enter(2)
        finally:
            loop.pending.discard(marker)
            # Leaving early (break, an exception, garbage collection) must not
            # leave the async generator suspended in the loop.
            aclose: Callable[[], Awaitable[object]] | None = getattr(agen, "aclose", None)
            if (
                aclose is not None
                and not finished
                and not loop.stopped
                and runner._loop is loop
                and threading.get_ident() != loop.thread_id
            ):
                loop.run(aclose)


class ClientBase:
    """Lifecycle of a generated sync client: lazy start, close, ``with``, option views."""

    def __init__(self, factory: Callable[[], AsyncClerk]) -> None:
        self._runner = Runner(factory)
        # For a with_options view: the async view of the runner's client.
        self._derive: Callable[[AsyncClerk], AsyncClerk] | None = None

    def _attach(self) -> None:
        """Bind the resources (the generated client overrides this)."""

    def _bind(self, get: Callable[[AsyncClerk], R]) -> Bound[R]:
        derive = self._derive
        if derive is None:
            return Bound(self._runner, get)
        return Bound(self._runner, lambda client: get(derive(client)))

    def _view(self: C, derive: Callable[[AsyncClerk], AsyncClerk]) -> C:
        """A client sharing this one's loop thread whose calls go through ``derive(client)``."""
        view = copy.copy(self)
        parent = self._derive
        # One async view per async client (a fork rebuilds the client), made
        # on first use; the tuple is replaced whole, so threads may race here.
        cached: tuple[AsyncClerk | None, AsyncClerk | None] = (None, None)

        def get(client: AsyncClerk) -> AsyncClerk:
            nonlocal cached
            seen, made = cached
            if seen is not client or made is None:
                made = derive(parent(client) if parent is not None else client)
                cached = (client, made)
            return made

        view._derive = get
        # Built now, not at the first call, so that bad options fail here.
        get(self._runner.client)
        view._attach()
        return view

    @property
    def _async(self) -> AsyncClerk:
        """The async client (or view) whose settings this client reports."""
        client = self._runner.client
        return client if self._derive is None else self._derive(client)

    @property
    def base_url(self) -> str:
        return self._runner.client.base_url

    @property
    def closed(self) -> bool:
        return self._runner.closed

    def close(self) -> None:
        """Close the HTTP session and stop the loop thread. Safe to call twice.

        On a :meth:`with_options` view this does nothing: close the client.
        """
        if self._derive is None:
            self._runner.close()

    def __enter__(self: C) -> C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if "_runner" not in self.__dict__:
            # Half-built: a traceback rendering __init__'s locals asks for this.
            return f"<{type(self).__name__} (not constructed)>"
        # The async repr already hides the key; only the class name differs.
        text = repr(self._async)
        return text.replace("AsyncClerk", type(self).__name__, 1)
