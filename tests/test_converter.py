"""``clerk_async.converter`` is the one conversion path, and its hooks install
on a converter of the user's own (``clerk_async.models.register_hooks``)."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Any

import attrs
import cattrs
import pytest
from hostile import Hostile, json_handler

import clerk_async
from clerk_async import AsyncClerk, ClerkDecodeError, CreateUserParams, User, _convert
from clerk_async.models import UnknownVerification, register_hooks

from factories import user_json

KEY = "sk_test_" + "x" * 32


def _with_unknown_verification() -> dict[str, Any]:
    email = {
        "id": "idn_1", "object": "email_address", "email_address": "a@example.com",
        "reserved": False, "linked_to": [], "created_at": 1, "updated_at": 2,
        "verification": {"object": "verification_quantum", "status": "verified", "x": 1},
    }
    return user_json("user_1", email_addresses=[email])


def test_the_public_converter_is_a_cattrs_converter() -> None:
    assert isinstance(clerk_async.converter, cattrs.Converter)
    assert clerk_async.converter is _convert.converter


def test_register_hooks_makes_a_plain_converter_decode_like_ours() -> None:
    mine = register_hooks(cattrs.Converter())
    data = _with_unknown_verification()
    user = mine.structure(data, User)
    assert user == clerk_async.converter.structure(data, User)
    verification = user.email_addresses[0].verification
    assert isinstance(verification, UnknownVerification) and verification.raw["x"] == 1
    with pytest.raises(ClerkDecodeError) as caught:
        mine.structure([data, {**data, "banned": "no"}], list[User])
    assert caught.value.field == "[1].banned"
    assert mine.unstructure(CreateUserParams(first_name="Ada")) == {"first_name": "Ada"}
    assert mine.unstructure(user)["email_addresses"][0]["verification"]["x"] == 1


@attrs.frozen
class Audit:  # a user's own class holding one of our models
    user: User
    seen: datetime.date


def test_register_hooks_leaves_the_users_own_classes_to_their_converter() -> None:
    mine = register_hooks(cattrs.Converter())
    mine.register_structure_hook(datetime.date, lambda v, _: datetime.date.fromisoformat(v))
    audit = mine.structure({"user": user_json("user_9"), "seen": "2026-12-05"}, Audit)
    assert audit.seen == datetime.date(2026, 12, 5) and audit.user.id == "user_9"
    # Our hook runs inside theirs; cattrs groups what fails in a class of the user's.
    with pytest.raises(cattrs.ClassValidationError) as caught:
        mine.structure({"user": user_json(id=9), "seen": "2026-12-05"}, Audit)
    (inner,) = caught.value.exceptions
    assert isinstance(inner, ClerkDecodeError) and inner.field == "id"


def test_a_plain_converter_cannot_tell_the_verification_kinds_apart() -> None:
    # Why register_hooks exists: cattrs alone has no way to pick the union's member.
    with pytest.raises(TypeError, match="disambiguate"):
        cattrs.Converter().structure(_with_unknown_verification(), User)


def test_the_sdk_converter_refuses_what_it_has_no_hook_for() -> None:
    for cl in (dict, str, int):
        with pytest.raises(TypeError, match="no decoder"):
            clerk_async.converter.structure("3", cl)


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async with Hostile({("GET", "/v1/users/user_1"): json_handler(user_json("user_1"))}) as h:
        yield h.base_url


async def test_users_get_is_structured_by_the_converter(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Any] = []
    real = _convert.converter

    class Watching:
        def structure(self, data: Any, cl: Any) -> Any:
            asked.append(cl)
            return real.structure(data, cl)

    monkeypatch.setattr(_convert, "converter", Watching())
    async with AsyncClerk(secret_key=KEY, base_url=server, rate_limit=None) as clerk:
        user = await clerk.users.get("user_1")
    assert user.id == "user_1" and asked == [User]
