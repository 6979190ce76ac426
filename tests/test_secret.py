"""The secret wrapper itself (``clerk_async._auth.Secret``): whatever renders it,
the key does not come out; only ``reveal()`` gives it, and only the transport
calls that.

These checks are direct on purpose: a ``__repr__`` that returned the key was
caught by no other test, because the end-to-end checks only see what the
SDK's own messages and frames happen to hold.
"""

from __future__ import annotations

import logging

import pytest

from clerk_async import AsyncClerk
from clerk_async._auth import ENV_VAR, Secret, instance_key_id, key_kind, secret_from
from clerk_sync import Clerk

KEY = "sk_live_WRAPPERsecret0123456789abcdefXYZ"
TAIL = KEY[len("sk_live_"):]  # the secret part: no piece of it may show


def renderings(secret: Secret) -> list[str]:
    return [
        repr(secret), str(secret), f"{secret}", f"{secret!r}", format(secret, ""),
        repr([secret]), repr({"key": secret}), repr((secret,)), str([secret]),
    ]


def test_no_rendering_of_the_wrapper_shows_the_key() -> None:
    secret = Secret(KEY)
    for text in renderings(secret):
        assert TAIL[:6] not in text, text
        assert text.count("sk_live_") <= 1
    assert repr(secret) == "'sk_live_…'" and str(secret) == repr(secret)


def test_the_wrapper_names_only_the_key_kind() -> None:
    assert repr(Secret("sk_test_abcdef")) == "'sk_test_…'"
    assert repr(Secret("not-a-clerk-key")) == "'sk_…'"  # not even the start of an odd key
    assert Secret(KEY).kind == "sk_live_" and Secret("whatever").kind == "sk_"


def test_the_wrapper_has_no_instance_dict_to_dump() -> None:
    secret = Secret(KEY)
    with pytest.raises(TypeError):
        vars(secret)
    with pytest.raises(AttributeError):
        secret.extra = 1  # type: ignore[attr-defined]


def test_reveal_and_instance_id() -> None:
    secret = Secret(KEY)
    assert secret.reveal() == KEY
    assert secret.instance_id == instance_key_id(KEY) != instance_key_id(KEY + "x")
    assert len(secret.instance_id) == 24 and TAIL[:6] not in secret.instance_id


def test_log_lines_with_the_wrapper_stay_clean(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="clerk_async.test"):
        logging.getLogger("clerk_async.test").debug("key=%s also %r", Secret(KEY), Secret(KEY))
    assert caplog.records and TAIL[:6] not in caplog.text


def test_client_reprs_hide_the_key() -> None:
    clerk = AsyncClerk(secret_key=KEY)
    sync = Clerk(secret_key=KEY)
    try:
        for text in (repr(clerk), str(clerk), repr(sync), repr(clerk.users), repr(sync.users)):
            assert TAIL[:6] not in text, text
    finally:
        sync.close()


def test_key_kind_reads_only_the_prefix() -> None:
    assert key_kind("sk_live_x") == "sk_live_" and key_kind("sk_test_x") == "sk_test_"
    assert key_kind("pk_test_x") is None and key_kind("") is None and key_kind(None) is None
    assert key_kind("xsk_test_") is None  # a prefix, not a substring


def test_secret_from_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "sk_test_fromenv")
    from_env = secret_from(None)
    assert from_env is not None and from_env.reveal() == "sk_test_fromenv"
    given = secret_from("sk_test_given")
    assert given is not None and given.reveal() == "sk_test_given"  # the argument wins
    monkeypatch.setenv(ENV_VAR, "")
    assert secret_from(None) is None  # an empty variable is no key
    monkeypatch.delenv(ENV_VAR)
    assert secret_from(None) is None and secret_from("") is None
    with pytest.raises(TypeError, match=r"^secret_key must be a str, got bytes$"):
        secret_from(b"sk_test_bytes")  # type: ignore[arg-type]


def test_instance_id_is_a_known_answer() -> None:
    # Processes share a quota through Redis keys named by this id, across SDK
    # versions: a change to the digest's label would silently split one quota in two.
    assert instance_key_id("sk_test_known_answer") == "a32d23a890673db81b806284"
    assert instance_key_id(None) == instance_key_id("") == "nokey"
