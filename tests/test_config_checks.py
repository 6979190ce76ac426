"""Client configuration a newcomer (or an attacker) gets wrong: the base URL
with or without ``/v1``, keys read from files, header names and values that
would smuggle a second header, and timeouts or retry settings that mean
"forever". Each is either made to work or refused at construction, naming
the argument and never echoing the key.
"""

from __future__ import annotations

import math
import traceback

import pytest
from _pytest._code import ExceptionInfo
from hostile import Hostile, json_handler

from clerk_async import AsyncClerk, RetryPolicy
from clerk_async.testing import FakeClerk
from clerk_sync import Clerk

from factories import user_json

KEY = "sk_test_CONFIGsecretKEY0123456789abcdef"
#: Bad keys, as module constants so that no test frame holds them as a local.
BAD_KEYS = {
    "inner newline": "sk_test_CONFIG\nsecretKEY0123456789",
    "NUL": "sk_test_CONFIGsecret\x00KEY0123456789",
    "inner space": "sk_test_CONFIG secretKEY0123456789",
    "vertical tab": "sk_test_CONFIGsecret\x0bKEY0123456789",
    "non-ASCII": "sk_test_CONFIGsecret\u00e9KEY0123456789",
}


def rendered(error: BaseException) -> str:
    """The error as ``traceback`` and ``pytest -l`` print it, locals included."""
    plain = "".join(
        traceback.TracebackException.from_exception(error, capture_locals=True).format()
    )
    pytest_style = str(ExceptionInfo.from_exception(error).getrepr(showlocals=True, chain=True))
    return plain + pytest_style


# -- base URL ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_base_url_works_with_or_without_v1(
    suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeClerk() as fake:
        fake.store.add_user(email_address="a@example.com")
        # The way Clerk's own SDKs configure it: the API root, no version.
        monkeypatch.setenv("CLERK_API_URL", fake.root_url + suffix)
        async with AsyncClerk(secret_key=fake.secret_key, rate_limit=None) as from_env:
            assert await from_env.users.count() == 1
            assert from_env.base_url == fake.base_url
        given = AsyncClerk(secret_key=fake.secret_key, base_url=fake.root_url + suffix,
                           rate_limit=None)
        async with given:
            assert await given.users.count() == 1


def test_a_path_prefix_keeps_its_place_before_v1() -> None:
    # A proxy mounted under a path: Clerk's SDKs add the version after it too.
    assert AsyncClerk(secret_key=KEY, base_url="https://proxy.example/clerk").base_url == (
        "https://proxy.example/clerk/v1"
    )
    with pytest.raises(TypeError, match="base_url must be a str"):
        AsyncClerk(secret_key=KEY, base_url=b"https://api.clerk.com")  # type: ignore[arg-type]


# -- the secret key ----------------------------------------------------------------------


async def test_surrounding_whitespace_of_a_key_read_from_a_file_is_stripped() -> None:
    routes = {("GET", "/v1/users/user_1"): json_handler(user_json())}
    async with Hostile(routes) as server, AsyncClerk(
        secret_key=f"  {KEY}\n", base_url=server.base_url, rate_limit=None
    ) as clerk:
        await clerk.users.get("user_1")
    assert server.seen[0].headers["Authorization"] == "Bearer " + KEY


@pytest.mark.parametrize("kind", sorted(BAD_KEYS))
@pytest.mark.parametrize("client", [AsyncClerk, Clerk])
def test_a_key_with_inner_whitespace_or_control_characters_is_refused_unseen(
    kind: str, client: type[AsyncClerk] | type[Clerk]
) -> None:
    with pytest.raises(ValueError, match="secret_key has a character") as info:
        client(secret_key=BAD_KEYS[kind])
    text = rendered(info.value)
    assert "CONFIG" not in text and "secretKEY" not in text, text


def test_a_bad_key_in_the_environment_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", BAD_KEYS["inner space"])
    refused = r"^secret_key \(\$CLERK_SECRET_KEY\) has a character"
    with pytest.raises(ValueError, match=refused) as info:
        AsyncClerk()
    # Only the frames the SDK adds: the test's monkeypatch holds the key itself.
    sdk_frames = info.value.__traceback__.tb_next  # type: ignore[union-attr]
    assert "secretKEY" not in "".join(traceback.format_tb(sdk_frames))
    text = "".join(
        traceback.StackSummary.extract(traceback.walk_tb(sdk_frames), capture_locals=True)
        .format()
    )
    assert "secretKEY" not in text, text
    monkeypatch.setenv("CLERK_SECRET_KEY", f"{KEY}\r\n")
    assert repr(AsyncClerk()._transport.sender._secret) == "'sk_test_…'"  # type: ignore[attr-defined]


# -- headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Authorization ", " Authorization", "X: y", "X-A\r\nAuthorization", "", "X A", "Ä"],
)
def test_header_names_must_be_tokens(name: str) -> None:
    with pytest.raises(ValueError, match="default_headers has an invalid header name"):
        AsyncClerk(secret_key=KEY, default_headers={name: "1"})
    with pytest.raises(ValueError, match="extra_headers has an invalid header name"):
        AsyncClerk(secret_key=KEY).with_options(extra_headers={name: "1"})


@pytest.mark.parametrize("bad", ["\x00", "\r", "\n", "\x0b", "\x0c", "\x7f", "\x1b"])
def test_header_values_refuse_control_characters(bad: str) -> None:
    with pytest.raises(ValueError, match=r"default_headers\['X-A'\] must not contain"):
        AsyncClerk(secret_key=KEY, default_headers={"X-A": f"a{bad}b"})
    with pytest.raises(ValueError, match=r"extra_headers\['X-A'\] must not contain"):
        AsyncClerk(secret_key=KEY).with_options(extra_headers={"X-A": f"a{bad}b"})


async def test_a_tab_in_a_header_value_is_fine_and_only_one_authorization_is_sent() -> None:
    routes = {("GET", "/v1/users/user_1"): json_handler(user_json())}
    async with Hostile(routes) as server, AsyncClerk(
        secret_key=KEY, base_url=server.base_url, rate_limit=None,
        default_headers={"X-Note": "a\tb"},
    ) as clerk:
        await clerk.users.get("user_1")
    headers = server.seen[0].headers
    assert headers["X-Note"] == "a\tb"
    assert headers["Authorization"] == "Bearer " + KEY


# -- timeouts and retry policies ---------------------------------------------------------


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, 0, -1.0, 1e300, True])
def test_timeouts_that_mean_forever_or_never_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="timeout must be a positive, finite number"):
        AsyncClerk(secret_key=KEY, timeout=bad)
    with pytest.raises(ValueError, match="timeout must be a positive, finite number"):
        AsyncClerk(secret_key=KEY).with_options(timeout=bad)
    with pytest.raises(ValueError, match="timeout must be a positive, finite number"):
        Clerk(secret_key=KEY).with_options(timeout=bad)


def test_retry_policy_defaults_are_the_readme_s() -> None:
    # README: RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=30, deadline=120,
    # retry_unsafe=False).
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.base_delay, policy.max_delay, policy.deadline,
            policy.retry_unsafe) == (4, 0.5, 30.0, 120.0, False)


@pytest.mark.parametrize(
    ("field", "bad", "error", "message"),
    [
        ("max_attempts", math.nan, TypeError, "max_attempts must be an int, got float"),
        ("max_attempts", 2.5, TypeError, "max_attempts must be an int, got float"),
        ("max_attempts", True, TypeError, "max_attempts must be an int, got bool"),
        ("max_attempts", 0, ValueError, "max_attempts must be >= 1"),
        ("deadline", math.inf, ValueError, "deadline must be finite"),
        ("deadline", math.nan, ValueError, "deadline must be finite"),
        ("max_delay", math.inf, ValueError, "max_delay must be finite"),
        ("base_delay", math.nan, ValueError, "base_delay must be finite"),
        ("deadline", "10", TypeError, "deadline must be a number of seconds, got str"),
        ("retry_unsafe", 1, TypeError, "retry_unsafe must be a bool"),
    ],
)
def test_retry_policies_that_retry_forever_are_refused(
    field: str, bad: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        RetryPolicy(**{field: bad})  # type: ignore[arg-type]
