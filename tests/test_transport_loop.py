"""The retry and pacing loop alone, over a fake single-attempt sender (no aiohttp)."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import aiohttp
import pytest
from yarl import URL

from clerk_async import (
    ClerkAPIError,
    ClerkConnectionError,
    ClerkError,
    ClerkTimeoutError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from clerk_async._ratelimit import LocalLimiter, Quota
from clerk_async._transport import (
    RATE_LIMITED_ATTEMPTS_FACTOR,
    CallOptions,
    Request,
    Response,
    Transport,
)

from factories import VirtualClock

Outcome = Response | ClerkConnectionError


class FakeSender:
    """Answers each attempt with the next scripted outcome and records the requests."""

    def __init__(self, outcomes: Sequence[Outcome]) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[Request] = []
        self.closed = False

    def ready(self) -> None:
        if self.closed:
            raise ClerkError("closed")

    async def send(self, request: Request) -> Response:
        self.requests.append(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, ClerkConnectionError):
            raise outcome
        return outcome

    async def aclose(self) -> None:
        self.closed = True


def ok(body: bytes = b"{}") -> Response:
    return Response(status=200, headers={}, body=body)


def status(code: int, **headers: str) -> Response:
    return Response(status=code, headers=headers, body=b'{"errors": []}')


def dropped(sent: bool = True) -> ClerkConnectionError:
    return ClerkConnectionError("dropped", request_sent=sent)


def transport(
    outcomes: Sequence[Outcome], clock: VirtualClock, *, retry: RetryPolicy | None = None,
    timeout: float = 30.0, limiter: LocalLimiter | None = None,
) -> tuple[Transport, FakeSender]:
    sender = FakeSender(outcomes)
    policy = retry if retry is not None else RetryPolicy(max_attempts=4, base_delay=1.0)
    return Transport(
        base_url=URL("https://api.example.test/v1"), sender=sender,
        options=CallOptions(timeout=timeout, retry=policy), sleep=clock.sleep, clock=clock,
        limiter=limiter,
    ), sender


async def test_success_returns_the_body() -> None:
    loop, sender = transport([ok(b"[1]")], VirtualClock())
    assert await loop.request("GetUser", "GET", "/users/u") == b"[1]"
    request = sender.requests[0]
    assert str(request.url) == "https://api.example.test/v1/users/u"
    assert request.log_path == "/v1/users/u" and request.timeout == 30.0


async def test_get_retried_after_503_and_dropped_connection() -> None:
    clock = VirtualClock()
    loop, sender = transport([status(503), dropped(), ok()], clock)
    assert await loop.request("GetUser", "GET", "/users/u") == b"{}"
    assert len(sender.requests) == 3
    assert loop.stats["GetUser"].retries == 2 and len(clock.sleeps) == 2


async def test_post_not_retried_once_it_may_have_been_sent() -> None:
    loop, sender = transport([dropped(sent=True), ok()], VirtualClock())
    with pytest.raises(ClerkConnectionError):
        await loop.request("CreateUser", "POST", "/users", body=b"{}")
    assert len(sender.requests) == 1
    loop, sender = transport([dropped(sent=False), ok()], VirtualClock())
    assert await loop.request("CreateUser", "POST", "/users", body=b"{}") == b"{}"
    assert sender.requests[0].headers["Content-Type"] == "application/json"


async def test_permanent_transport_failures_are_not_retried() -> None:
    failure = dropped(sent=False)
    failure._permanent = True  # type: ignore[attr-defined]
    loop, sender = transport([failure, ok()], VirtualClock())
    with pytest.raises(ClerkConnectionError):
        await loop.request("GetUser", "GET", "/users/u")
    assert len(sender.requests) == 1


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_redirects_are_errors_never_retried(code: int) -> None:
    loop, sender = transport([status(code, Location="https://evil.test/x"), ok()], VirtualClock())
    with pytest.raises(ClerkAPIError, match=rf"{code} unexpected_redirect.*https://evil.test/x"):
        await loop.request("GetUser", "GET", "/users/u")
    assert len(sender.requests) == 1


async def test_attempt_timeouts_shrink_to_the_deadline() -> None:
    clock = VirtualClock()
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=1.0, deadline=4.0)
    timeouts = [ClerkTimeoutError("slow", request_sent=False) for _ in range(5)]
    loop, sender = transport(timeouts, clock, retry=policy, timeout=3.0)

    async def send(request: Request) -> Response:
        sender.requests.append(request)
        clock.now += request.timeout  # each attempt uses its whole timeout
        raise sender.outcomes.pop(0)

    sender.send = send  # type: ignore[method-assign]
    with pytest.raises(ClerkTimeoutError):
        await loop.request("GetUser", "GET", "/users/u")
    assert sender.requests[0].timeout == 3.0
    assert all(r.timeout <= 4.0 - 3.0 for r in sender.requests[1:])
    assert clock.now <= 4.0 + 1e-9


async def test_429_blocks_the_operation_in_the_limiter() -> None:
    clock = VirtualClock()
    limiter = LocalLimiter(Quota(100, 10.0), clock=clock, sleep=clock.sleep)
    loop, _ = transport([status(429, **{"Retry-After": "3"}), ok()], clock, limiter=limiter)
    assert await loop.request("GetUser", "GET", "/users/u") == b"{}"
    assert loop.stats["GetUser"].rate_limited == 1
    assert clock.now >= 3.0


async def test_views_share_sender_and_stats_but_not_options() -> None:
    loop, sender = transport([ok(), ok()], VirtualClock())
    view = loop.with_options(timeout=1.5, extra_headers={"X-A": "1"})
    await view.request("GetUser", "GET", "/users/u")
    await loop.request("GetUser", "GET", "/users/u")
    assert [r.timeout for r in sender.requests] == [1.5, 30.0]
    assert [dict(r.headers) for r in sender.requests] == [{"X-A": "1"}, {}]
    assert view.stats is loop.stats and loop.stats["GetUser"].requests == 2
    await view.aclose()
    assert loop.closed


async def test_5xx_for_post_is_final() -> None:
    loop, sender = transport([status(502), ok()], VirtualClock())
    with pytest.raises(ServerError):
        await loop.request("CreateUser", "POST", "/users", body=b"{}")
    assert len(sender.requests) == 1


async def test_query_params_are_sent_and_a_bodyless_call_has_no_content_type() -> None:
    loop, sender = transport([ok()], VirtualClock())
    await loop.request("ListUsers", "GET", "/users", params=[("limit", "5"), ("q", "a b")])
    request = sender.requests[0]
    assert str(request.url) == "https://api.example.test/v1/users?limit=5&q=a+b"
    assert request.log_path == "/v1/users" and "Content-Type" not in request.headers
    assert request.body is None and request.method == "GET"


async def test_stats_count_requests_retries_429s_and_quota_wait() -> None:
    clock = VirtualClock()
    limiter = LocalLimiter(Quota(100, 10.0), clock=clock, sleep=clock.sleep)
    loop, _ = transport(
        [status(429, **{"Retry-After": "3"}), ok()], clock, limiter=limiter
    )
    await loop.request("GetUser", "GET", "/users/u")
    stats = loop.stats["GetUser"]
    assert (stats.requests, stats.retries, stats.rate_limited) == (2, 1, 1)
    assert stats.quota_wait == pytest.approx(3.0)  # the second attempt waited out the block
    assert clock.sleeps == [3.0]  # in the limiter, not in a sleep of the loop's own
    assert limiter._blocked_until == {"GetUser": 3.0}


@pytest.mark.parametrize(("code", "kind"), [(300, "unexpected_redirect"), (400, "bad")])
async def test_300_is_a_redirect_and_400_an_api_error(code: int, kind: str) -> None:
    body = b'{"errors": [{"code": "bad", "message": "no"}]}'
    answer = Response(status=code, headers={"Location": "https://elsewhere.test/"}, body=body)
    loop, sender = transport([answer, ok()], VirtualClock())
    with pytest.raises(ClerkAPIError) as raised:
        await loop.request("GetUser", "GET", "/users/u")
    assert raised.value.status == code and kind in str(raised.value)
    assert len(sender.requests) == 1


async def test_a_dropped_attempt_is_logged_with_its_body_when_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    sender = FakeSender([dropped(sent=False), status(429, **{"Retry-After": "1"}), ok()])
    loop = Transport(
        base_url=URL("https://api.example.test/v1"), sender=sender,
        options=CallOptions(timeout=30.0, retry=RetryPolicy(max_attempts=2, base_delay=1.0)),
        sleep=clock.sleep, clock=clock, log_bodies=True,
    )
    with caplog.at_level(logging.DEBUG, logger="clerk_async"):
        await loop.request("CreateUser", "POST", "/users", body=b'{"a": 1}')
    lines = [r.getMessage() for r in caplog.records if r.name == "clerk_async"]
    assert len(lines) == 3
    assert lines[0].startswith("POST /v1/users -> no response in ")
    assert lines[0].endswith('(attempt 1, trace_id=-) body={"a": 1}')
    assert lines[1].startswith("POST /v1/users -> 429 in ")
    assert lines[1].endswith('(attempt 2, trace_id=-) body={"a": 1}')
    assert lines[2].startswith("POST /v1/users -> 200 in ")
    assert lines[2].endswith('(attempt 3, trace_id=-) body={"a": 1}')


async def test_the_encoded_path_goes_out_byte_for_byte() -> None:
    loop, sender = transport([ok()], VirtualClock())
    await loop.request("GetUser", "GET", "/users/a%7Eb")  # yarl would unquote %7E to ~
    assert str(sender.requests[0].url) == "https://api.example.test/v1/users/a%7Eb"


async def test_the_form_factory_reaches_the_sender() -> None:
    loop, sender = transport([ok()], VirtualClock())

    def form() -> aiohttp.FormData:
        return aiohttp.FormData()

    await loop.request("UploadImage", "POST", "/users/u/profile_image", form=form)
    assert sender.requests[0].form is form and sender.requests[0].body is None


async def test_quota_wait_adds_up_over_calls() -> None:
    clock = VirtualClock()
    limiter = LocalLimiter(Quota(1, 1.0), clock=clock, sleep=clock.sleep)
    loop, _ = transport([ok(), ok(), ok()], clock, limiter=limiter)
    for _ in range(3):
        await loop.request("GetUser", "GET", "/users/u")
    assert loop.stats["GetUser"].quota_wait == pytest.approx(2 * 1.02)


@pytest.mark.parametrize("budget", [30.0, 0.5])
async def test_a_slot_beyond_the_deadline_fails_at_once_naming_the_call(budget: float) -> None:
    clock = VirtualClock()
    clock.now = 1000.0  # the deadline is a point in time, not a duration
    period = 60.0 if budget > 1 else 0.8
    limiter = LocalLimiter(Quota(1, period), clock=clock, sleep=clock.sleep)
    loop, sender = transport([ok(), ok()], clock, limiter=limiter, timeout=budget,
                             retry=RetryPolicy(max_attempts=2, deadline=budget))
    await loop.request("GetUser", "GET", "/users/u")
    with pytest.raises(RateLimitError) as raised:
        await loop.request("GetUser", "GET", "/users/u2")
    error = raised.value
    wait = period * 1.02
    assert clock.now == 1000.0 and len(sender.requests) == 1  # no wait, nothing sent
    assert (error.method, error.path, error.status) == ("GET", "/v1/users/u2", 429)
    assert error.retry_after == pytest.approx(wait)
    assert error.errors[0].code == "quota_wait_exceeds_deadline"
    assert error.errors[0].message == (
        f"the next request slot of the quota is {wait:.3f}s away, beyond the call's "
        f"{budget:g}s deadline; nothing was sent")


@pytest.mark.parametrize("answer", [status(302, Location="/x"), status(422), status(503)])
async def test_api_errors_name_the_method_and_path(answer: Response) -> None:
    loop, _ = transport([answer], VirtualClock(), retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ClerkAPIError) as raised:
        await loop.request("UpdateUser", "PATCH", "/users/u9", body=b"{}")
    assert (raised.value.method, raised.value.path) == ("PATCH", "/v1/users/u9")


async def test_429s_do_not_use_up_attempts_but_are_capped() -> None:
    clock = VirtualClock()
    policy = RetryPolicy(max_attempts=2, base_delay=1.0)
    limited = [status(429, **{"Retry-After": "1"}) for _ in range(12)]
    loop, sender = transport(limited, clock, retry=policy)
    with pytest.raises(RateLimitError):
        await loop.request("GetUser", "GET", "/users/u")
    assert len(sender.requests) == 2 * RATE_LIMITED_ATTEMPTS_FACTOR == 10
    assert loop.stats["GetUser"].rate_limited == 10
    # Between 429s the two real attempts are still there.
    loop, sender = transport([status(429, **{"Retry-After": "1"}), status(503),
                              status(429, **{"Retry-After": "1"}), ok()], clock, retry=policy)
    assert await loop.request("GetUser", "GET", "/users/u") == b"{}"


async def test_backoff_grows_per_real_attempt_with_the_transports_own_jitter() -> None:
    clock = VirtualClock()
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=30.0)
    loop, _ = transport([status(429), status(503), status(503), ok()], clock, retry=policy)
    loop._rng = random.Random(7)
    expected = random.Random(7)
    await loop.request("GetUser", "GET", "/users/u")
    # A 429 without Retry-After backs off like a first attempt; 429s do not count.
    assert clock.sleeps == [expected.uniform(0, 1.0), expected.uniform(0, 1.0),
                            expected.uniform(0, 2.0)]


async def test_a_retry_due_exactly_at_the_deadline_still_goes() -> None:
    clock = VirtualClock()
    policy = RetryPolicy(max_attempts=2, base_delay=1.0, deadline=2.0)
    loop, sender = transport([status(503, **{"Retry-After": "2"}), ok()], clock, retry=policy)
    assert await loop.request("GetUser", "GET", "/users/u") == b"{}"
    assert clock.now == 2.0 and sender.requests[1].timeout == 0.001
