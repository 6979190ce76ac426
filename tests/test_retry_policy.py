"""The pure retry rules (``clerk_async._retry``), decision by decision.

The transport tests prove the loop end to end; these pin each rule down so a
one-character change in a bound or an operator fails a named test (see
docs/mutation.md).
"""

from __future__ import annotations

import random

import pytest

from clerk_async._retry import Attempt, RetryPolicy


class Ceiling(random.Random):
    """An rng whose "random" pick is always the top of the range: the ceiling itself."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize(
    ("field", "bad", "message"),
    [
        ("max_attempts", 0, "max_attempts must be >= 1, got 0"),
        ("base_delay", -0.5, "base_delay must be >= 0, got -0.5"),
        ("max_delay", -1.0, "max_delay must be >= 0, got -1.0"),
        ("deadline", -2.0, "deadline must be >= 0, got -2.0"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(field: str, bad: float, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        RetryPolicy(**{field: bad})  # type: ignore[arg-type]


def test_the_smallest_valid_settings_are_accepted() -> None:
    policy = RetryPolicy(max_attempts=1, base_delay=0, max_delay=0, deadline=0)
    assert policy.max_attempts == 1 and policy.backoff(3, Ceiling()) == 0.0


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    ceilings = [policy.backoff(attempt, Ceiling()) for attempt in range(1, 6)]
    assert ceilings == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_backoff_is_full_jitter_from_the_given_rng() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0)
    picks = [policy.backoff(4, random.Random(7)) for _ in range(3)]
    assert picks[0] == picks[1] == picks[2] == random.Random(7).uniform(0.0, 8.0)
    spread = [policy.backoff(4) for _ in range(200)]  # the module's own rng
    assert all(0.0 <= s <= 8.0 for s in spread) and len(set(spread)) > 100


def test_only_idempotent_requests_may_repeat_unless_the_caller_opts_in() -> None:
    policy = RetryPolicy()
    assert [policy.may_repeat(m) for m in ("GET", "PUT", "DELETE", "HEAD", "OPTIONS")] == [
        True] * 5
    assert not policy.may_repeat("POST") and not policy.may_repeat("PATCH")
    assert policy.may_repeat("POST", idempotent=True)
    assert RetryPolicy(retry_unsafe=True).may_repeat("POST")


@pytest.mark.parametrize(
    ("attempt", "safe", "expected"),
    [
        (Attempt(status=429), False, True),  # Clerk did not act on it: always safe
        (Attempt(status=None, request_sent=False), False, True),  # never left this host
        (Attempt(status=None, request_sent=True), False, False),  # may have been applied
        (Attempt(status=None, request_sent=True), True, True),
        (Attempt(status=503), False, False),
        (Attempt(status=503), True, True),
        (Attempt(status=500), True, True),
        (Attempt(status=501), True, False),
        (Attempt(status=404), True, False),
        (Attempt(status=409), True, False),
    ],
)
def test_what_is_retried(attempt: Attempt, safe: bool, expected: bool) -> None:
    assert attempt.retryable(RetryPolicy(), safe) is expected


def test_delay_honours_retry_after() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0)
    # A 429 waits exactly what the server said, even below the backoff.
    assert Attempt(status=429, retry_after=0.25).delay(policy, 3, Ceiling()) == 0.25
    # Other errors never wait less than Retry-After, nor less than their backoff.
    assert Attempt(status=503, retry_after=0.25).delay(policy, 3, Ceiling()) == 4.0
    assert Attempt(status=503, retry_after=9.0).delay(policy, 3, Ceiling()) == 9.0
    # Without Retry-After: the jittered backoff, drawn from the rng given.
    assert Attempt(status=503).delay(policy, 2, Ceiling()) == 2.0
    assert Attempt(status=None, request_sent=False).delay(policy, 1, Ceiling()) == 1.0


def test_the_defaults_are_the_ones_the_readme_states() -> None:
    """README, "Retries": ``AsyncClerk(retry=RetryPolicy(max_attempts=4, ...))`` is the default."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Retries\n", 1)[1].split("\n## ", 1)[0]
    stated = re.search(r"AsyncClerk\(retry=(RetryPolicy\(.*?\))\)", section, re.S)
    assert stated is not None, "the Retries section no longer states the default policy"
    assert eval(stated.group(1), {"RetryPolicy": RetryPolicy}) == RetryPolicy()


def test_a_transport_failure_counts_as_sent_unless_known_otherwise() -> None:
    # The safe default: a failure that may have reached Clerk is not repeated for
    # an unsafe request, so Clerk never acts twice on it.
    assert Attempt().retryable(RetryPolicy(), safe_to_repeat=False) is False
    assert Attempt().retryable(RetryPolicy(), safe_to_repeat=True) is True
