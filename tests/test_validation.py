"""Bad arguments fail fast, name the argument, and never reach the network."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from aioresponses import aioresponses

from clerk_async import AsyncClerk, CreateUserParams
from clerk_async.resources._base import path_segment

from conftest import API
from factories import user_json


def no_requests(mocked: aioresponses) -> None:
    assert not mocked.requests, f"a request was sent: {list(mocked.requests)}"


@pytest.mark.parametrize(
    "user_id", ["../users", "", " ", "a b", "a/b", "a?b", "a#b", "..", ".", "a\nb", "a\\b", "\x00"]
)
async def test_bad_path_ids_rejected_before_any_request(
    api: AsyncClerk, mocked: aioresponses, user_id: str
) -> None:
    with pytest.raises(ValueError, match="user_id"):
        await api.users.get(user_id)
    with pytest.raises(ValueError, match="user_id"):
        await api.users.delete_passkey(user_id, "idn_1")
    with pytest.raises(ValueError, match="passkey_identification_id"):
        await api.users.delete_passkey("user_1", user_id)
    no_requests(mocked)


async def test_non_string_id_rejected(api: AsyncClerk, mocked: aioresponses) -> None:
    with pytest.raises(TypeError, match="user_id"):
        await api.users.get(123)  # type: ignore[arg-type]
    no_requests(mocked)


def test_ids_are_percent_encoded_into_one_segment() -> None:
    assert path_segment("user_id", "user_%2F..") == "user_%252F.."
    assert path_segment("user_id", "üser") == "%C3%BCser"
    assert path_segment("user_id", "a+b:c@d") == "a%2Bb%3Ac%40d"


async def test_encoded_id_reaches_the_right_endpoint(
    api: AsyncClerk, mocked: aioresponses
) -> None:
    mocked.get(f"{API}/users/%C3%BCser%25", payload=user_json("üser%"))
    assert (await api.users.get("üser%")).id == "üser%"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"starting_after": "user_1", "order_by": "-updated_at"}, "starting_after"),
        ({"starting_after": "a/b"}, "starting_after"),
    ],
)
async def test_impossible_list_arguments(
    api: AsyncClerk, mocked: aioresponses, kwargs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        await api.users.list(**kwargs)
    no_requests(mocked)


async def test_limit_must_be_int(api: AsyncClerk, mocked: aioresponses) -> None:
    with pytest.raises(TypeError, match="limit"):
        await api.users.list(limit="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="limit"):
        await api.users.list(limit=True)  # type: ignore[arg-type]
    no_requests(mocked)


async def test_unknown_filter_names_the_filter(api: AsyncClerk, mocked: aioresponses) -> None:
    with pytest.raises(TypeError, match="emailaddress"):
        await api.users.list(emailaddress=["a@b.c"])  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="bogus"):
        await api.users.count(bogus=1)  # type: ignore[call-arg]
    no_requests(mocked)


async def test_iter_page_size_checked(api: AsyncClerk, mocked: aioresponses) -> None:
    with pytest.raises(ValueError, match="page_size"):
        async for _ in api.users.iter(page_size=0):
            pass
    no_requests(mocked)


@pytest.mark.parametrize("ids", [[], [f"user_{i}" for i in range(51)], ["ok", "bad id"]])
async def test_bulk_ban_arguments(api: AsyncClerk, mocked: aioresponses, ids: list[str]) -> None:
    with pytest.raises(ValueError, match="user_ids"):
        await api.users.bulk_ban(ids)
    with pytest.raises(ValueError, match="user_ids"):
        await api.users.bulk_unban(ids)
    no_requests(mocked)


@pytest.mark.parametrize(
    "bad", [{"x": {1, 2}}, {"x": b"bytes"}, {"x": object()}, {"x": math.nan}, {1: "int key"}]
)
async def test_metadata_must_be_json(api: AsyncClerk, mocked: aioresponses, bad: Any) -> None:
    with pytest.raises(ValueError, match="public_metadata"):
        await api.users.create(public_metadata=bad)
    with pytest.raises(ValueError, match="private_metadata"):
        await api.users.update_metadata("user_1", private_metadata=bad)
    with pytest.raises(ValueError, match="unsafe_metadata"):
        await api.users.replace_metadata("user_1", unsafe_metadata=bad)
    no_requests(mocked)


async def test_create_from_checks_a_ready_params_object(
    api: AsyncClerk, mocked: aioresponses
) -> None:
    # create() checks its arguments itself; create_from() must check the same
    # things on an object built elsewhere (a bulk import's rows), before sending.
    bogus: Any = ["verified", "bogus"]
    with pytest.raises(ValueError, match=r"email_address_identification_status\[1\]"):
        await api.users.create_from(CreateUserParams(
            email_address=["a@example.com", "b@example.com"],
            email_address_identification_status=bogus,
        ))
    with pytest.raises(ValueError, match="unsafe_metadata"):
        await api.users.create_from(CreateUserParams(unsafe_metadata={"x": {1, 2}}))
    no_requests(mocked)


async def test_other_impossible_arguments(api: AsyncClerk, mocked: aioresponses) -> None:
    with pytest.raises(ValueError, match="amount"):
        await api.users.adjust_billing_credit_balance(
            "user_1", amount=0, action="increase", idempotency_key="k")
    with pytest.raises(ValueError, match="idempotency_key"):
        await api.users.adjust_billing_credit_balance(
            "user_1", amount=5, action="increase", idempotency_key="")
    with pytest.raises(ValueError, match="password"):
        await api.users.verify_password("user_1", "")
    with pytest.raises(ValueError, match="code"):
        await api.users.verify_totp("user_1", "")
    with pytest.raises(ValueError, match="file"):
        await api.users.set_profile_image("user_1", b"")
    with pytest.raises(TypeError, match="file"):
        await api.users.set_profile_image("user_1", 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        await api.users.get_organization_memberships("user_1", limit=1000)
    with pytest.raises(ValueError, match="offset"):
        await api.users.get_instance_organization_memberships(offset=-5)
    with pytest.raises(ValueError, match="provider"):
        await api.users.get_oauth_access_token("user_1", "oauth/google")
    no_requests(mocked)


async def test_unset_omits_and_none_sends_null(api: AsyncClerk, mocked: aioresponses) -> None:
    mocked.patch(f"{API}/users/user_1", payload=user_json())
    await api.users.update("user_1", first_name="Ada", last_name=None)
    (call,) = next(iter(mocked.requests.values()))
    assert call.kwargs["data"] == b'{"first_name":"Ada","last_name":null}'


async def test_single_string_for_a_list_field_is_one_item(
    api: AsyncClerk, mocked: aioresponses
) -> None:
    mocked.post(f"{API}/users", payload=user_json())
    await api.users.create(email_address="ada@example.com")  # type: ignore[arg-type]
    (call,) = next(iter(mocked.requests.values()))
    assert call.kwargs["data"] == b'{"email_address":["ada@example.com"]}'


async def test_profile_image_from_path_bytes_and_file(
    api: AsyncClerk, mocked: aioresponses, tmp_path: Path
) -> None:
    image = tmp_path / "me.png"
    image.write_bytes(b"\x89PNG fake")
    url = f"{API}/users/user_1/profile_image"
    mocked.post(url, payload=user_json(has_image=True), repeat=True)
    await api.users.set_profile_image("user_1", image)
    await api.users.set_profile_image("user_1", b"\x89PNG fake", filename="x.png")
    with image.open("rb") as handle:
        await api.users.set_profile_image("user_1", handle)
    with image.open("r") as text_handle, pytest.raises(TypeError, match="binary"):
        await api.users.set_profile_image("user_1", text_handle)  # type: ignore[arg-type]
    assert sum(len(v) for v in mocked.requests.values()) == 3


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(hypothesis.strategies.one_of(
    hypothesis.strategies.text(),
    hypothesis.strategies.from_regex(r"[A-Za-z0-9_\-]{0,40}", fullmatch=True),
    hypothesis.strategies.sampled_from(["count", "totp", ".", "..", "user_1", "-"]),
))
def test_a_path_id_is_refused_or_encoded_into_exactly_one_segment(value: str) -> None:
    # The fast path for plain ids must agree with the full check: same refusals,
    # and whatever is accepted decodes back to the id and stays one segment.
    from urllib.parse import quote, unquote

    from clerk_async.resources._base import ROUTE_SEGMENTS

    try:
        encoded = path_segment("user_id", value)
    except ValueError:
        assert (
            value in ROUTE_SEGMENTS or value in ("", ".", "..")
            or any(c in "/?#\\" or c.isspace() or not c.isprintable() for c in value)
        )
        return
    assert encoded == quote(value, safe="") and unquote(encoded) == value
    assert not set(encoded) & set("/?#\\ ")
