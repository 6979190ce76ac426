"""FakeClerk: the aiohttp application, its middleware (auth, quotas, faults,
stats) and the start/stop life cycle on a loopback port."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from types import TracebackType
from typing import Any

from aiohttp import web

from . import _handlers, _handlers_more, _tokens, _webhooks
from ._clock import Clock, wall_clock
from ._errors import FakeError
from ._faults import FaultPlan, Faults
from ._quota import Quota, QuotaBook
from ._store import Store
from ._web import STORE, Handler, json_response

__all__ = ["FakeClerk", "FakeStats"]

ROUTES = _handlers.ROUTES + _handlers_more.ROUTES + _tokens.ROUTES
OPERATIONS = frozenset(op for _, _, op, _ in ROUTES)
_CONTROL = "__fake__"


@dataclass
class FakeStats:
    """What the fake has served. ``requests`` counts every request routed to an
    operation (whatever its outcome); control endpoints are not counted."""

    store: Store
    requests: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    faults: int = 0
    faults_by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def users(self) -> int:
        return len(self.store.users)

    def reset(self) -> None:
        self.requests.clear()
        self.faults_by_kind.clear()
        self.rate_limited = self.faults = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "rate_limited": self.rate_limited,
            "faults": self.faults,
            "faults_by_kind": dict(self.faults_by_kind),
            "users": self.users,
        }


def _error(exc: FakeError, trace_id: str, headers: Mapping[str, str] | None = None) -> web.Response:
    response = json_response(exc.body(trace_id), status=exc.status)
    response.headers["X-Clerk-Trace-Id"] = trace_id
    if headers:
        response.headers.update(headers)
    return response


_UNAUTHORIZED = FakeError(
    401,
    "authentication_invalid",
    "Invalid authentication",
    "The secret key in the Authorization header is missing or not valid for this instance.",
)
_FAULT_STATUS = {"500": 500, "502": 502, "503": 503}
# Codes for the errors aiohttp raises itself (unknown route, wrong method, body
# over the size cap); anything else from it is a generic request_invalid.
_HTTP_CODES = {404: "resource_not_found", 413: "request_body_too_large"}


class FakeClerk:
    """An in-memory Clerk Backend API for tests, demos and benchmarks.

    ``async with FakeClerk() as fake:`` serves on a free loopback port;
    point a client at ``fake.base_url`` with ``fake.secret_key``. Seed and inspect
    state through ``fake.store``; read counters from ``fake.stats``.

    ``require_identifier`` (default on) refuses ``POST /users`` without any of
    email, phone, username or web3 wallet, as an instance with the usual sign-in
    settings does (422 ``form_data_missing``; ``skip_user_requirement`` lifts it).
    """

    def __init__(
        self,
        *,
        secret_key: str | None = None,
        rate_limit: str | Quota | None = None,
        operation_limits: Mapping[str, str | Quota] | None = None,
        faults: Faults | None = None,
        seed: int = 0,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        lockout_seconds: int = 3600,
        require_identifier: bool = True,
    ) -> None:
        unknown = set(operation_limits or ()) - OPERATIONS
        if unknown:
            raise ValueError(f"unknown operationIds in operation_limits: {sorted(unknown)}")
        self.clock = clock or wall_clock
        self._seed = seed
        self.secret_key = secret_key or "sk_test_fake_" + "".join(
            random.Random(f"key-{seed}").choices("0123456789abcdefghijklmnopqrstuvwxyz", k=32)
        )
        self.store = Store(
            seed=seed,
            clock=self.clock,
            lockout_seconds=lockout_seconds,
            require_identifier=require_identifier,
        )
        self.stats = FakeStats(self.store)
        self.tokens = _tokens.TokenIssuer(seed, self.clock)
        self.webhooks = _webhooks.WebhookSender(seed, self.clock, f"ins_fake{seed & 0xFFFF:04x}")
        self.quotas = QuotaBook(rate_limit, operation_limits)
        self.fault_plan = FaultPlan(faults)
        self._host, self._port = host, port
        self._auth = f"Bearer {self.secret_key}"
        self._traces = 0
        self._runner: web.AppRunner | None = None
        self.app = self._make_app()

    # -- configuration -----------------------------------------------------------

    @property
    def faults(self) -> Faults | None:
        return self.fault_plan.config

    @faults.setter
    def faults(self, config: Faults | None) -> None:
        self.fault_plan = FaultPlan(config)

    def inject_fault(self, operation: str, *kinds: str | None) -> None:
        """Make the next requests to ``operation`` fail this way, in order."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operationId {operation!r}")
        self.fault_plan.inject(operation, *kinds)

    def reset(self) -> None:
        """Forget all users, counters, quota windows and queued faults."""
        self.store.__init__(  # type: ignore[misc]
            seed=self._seed,
            clock=self.clock,
            lockout_seconds=self.store.lockout_seconds,
            require_identifier=self.store.require_identifier,
        )
        self.stats.reset()
        self.quotas.reset()
        self.fault_plan = FaultPlan(self.fault_plan.config)

    def session_token(
        self,
        user_id: str,
        *,
        session_id: str | None = None,
        authorized_party: str | None = None,
        expires_in: float = _tokens.DEFAULT_EXPIRES_IN,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A session token for ``user_id`` as Clerk's frontend would send it.

        RS256-signed with this fake's key (served at ``GET /v1/jwks``; its PEM
        is ``fake.tokens.public_pem``), shaped like Clerk's version 2 session
        claims, issued now by ``fake.clock`` and valid for ``expires_in``
        seconds (negative for an expired one). ``claims`` adds or overrides
        claims; a None value removes one.
        """
        return self.tokens.mint(
            user_id,
            session_id=session_id,
            authorized_party=authorized_party,
            expires_in=expires_in,
            claims=claims,
        )

    def add_webhook_endpoint(self, url: str, *, secret: str | None = None) -> str:
        """POST signed ``user.created/updated/deleted`` events to ``url``; returns the secret.

        Every user change made through the API is delivered, signed with
        ``secret`` (a ``whsec_…`` string; generated when not given) as Svix
        signs Clerk's webhooks, and retried on a non-2xx answer. Deliveries run
        in the background: ``await fake.webhooks.drain()`` waits for them, and
        ``fake.webhooks.deliveries`` records each attempt's status.
        """
        return self.webhooks.add_endpoint(url, secret)

    # -- life cycle ----------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("FakeClerk is not running; use 'async with FakeClerk()'")
        return int(self._runner.addresses[0][1])

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, self._host, self._port).start()
        self._runner = runner

    async def aclose(self) -> None:
        await self.webhooks.aclose()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeClerk:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the application -------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=10 * 1024**2)
        app[STORE] = self.store
        app[_tokens.ISSUER] = self.tokens
        # Routes are mapped to operationIds here rather than by resource name,
        # because one path (e.g. /users) carries several operations.
        self._operation_of: dict[object, str] = {}
        for method, path, operation, handler in ROUTES:
            route = app.router.add_route(method, "/v1" + path, handler)
            self._operation_of[route] = operation
        self._control = {
            app.router.add_get(f"/{_CONTROL}/stats", self._stats),
            app.router.add_post(f"/{_CONTROL}/reset", self._reset),
        }
        return app

    async def _stats(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.stats.to_dict())

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return json_response({"reset": True})

    def _trace_id(self) -> str:
        self._traces += 1
        return f"{self._seed & 0xFFFF:04x}{self._traces:028x}"

    def _http_error(self, exc: web.HTTPException, long_message: str) -> web.Response:
        """aiohttp's HTTP exceptions as Clerk-shaped JSON, keeping headers such as Allow."""
        code = _HTTP_CODES.get(exc.status, "request_invalid")
        error = FakeError(exc.status, code, exc.reason, long_message)
        kept = {name: exc.headers[name] for name in ("Allow",) if name in exc.headers}
        return _error(error, self._trace_id(), kept)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await self._dispatch(request, handler)
        # Clerk's clock, as real Clerk sends it: clients compare it with the
        # created_at stamps of this fake (which read the same, possibly manual, clock).
        response.headers["Date"] = formatdate(self.clock(), usegmt=True)
        return response

    async def _dispatch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route
        operation = self._operation_of.get(route)
        if operation is None:
            if route in self._control:
                return await handler(request)
            try:
                return await handler(request)  # the router's own 404 / 405
            except web.HTTPException as exc:
                return self._http_error(exc, f"{request.method} {request.path} is not served here.")

        self.stats.requests[operation] += 1
        if request.headers.get("Authorization") != self._auth:
            return _error(_UNAUTHORIZED, self._trace_id())
        retry_after = self.quotas.check(operation, self.clock())
        if retry_after is not None:
            self.stats.rate_limited += 1
            limited = FakeError(
                429,
                "too_many_requests",
                "Too many requests",
                f"Rate limit exceeded; retry in {retry_after} seconds.",
                {"retry_after": retry_after},
            )
            return _error(limited, self._trace_id(), {"Retry-After": str(retry_after)})

        plan = self.fault_plan
        delay = plan.latency(operation)
        if delay:
            await asyncio.sleep(delay)
        fault = plan.decide(operation)
        if fault is not None:
            self.stats.faults += 1
            self.stats.faults_by_kind[fault] += 1
            if fault == "429":
                self.stats.rate_limited += 1
                limited = FakeError(
                    429, "too_many_requests", "Too many requests",
                    "Injected fault: rate limited.", {"retry_after": 1},
                )
                return _error(limited, self._trace_id(), {"Retry-After": "1"})
            if fault in _FAULT_STATUS:
                failed = FakeError(
                    _FAULT_STATUS[fault],
                    "internal_clerk_error",
                    "Oops, an unexpected error occurred",
                    "Injected fault: the fake answered before doing anything.",
                )
                return _error(failed, self._trace_id())
        try:
            response = await handler(request)
        except FakeError as exc:
            response = _error(exc, self._trace_id())
        except web.HTTPException as exc:  # aiohttp's own, e.g. 413 from the body size cap
            response = self._http_error(exc, exc.text or exc.reason)
        if request.method != "GET" and isinstance(response, web.Response):
            # The change is made (even if a fault below hides the answer): Clerk tells webhooks.
            self.webhooks.observe(operation, response.status, response.body)  # type: ignore[arg-type]
        if fault == "500_after":
            # The change is kept, yet the client hears a server error.
            failed = FakeError(
                500, "internal_clerk_error", "Oops, an unexpected error occurred",
                "Injected fault: the fake failed after doing the work.",
            )
            return _error(failed, self._trace_id())
        if fault == "drop_after" and request.transport is not None:
            # The change is applied; now vanish without answering, as when a
            # proxy or the network fails after the server did the work.
            request.transport.abort()
        return response
