"""FakeClerk at the protocol's edges, where schemathesis and Clerk's JS SDK found it
unlike Clerk: every answer is Clerk-shaped JSON, never aiohttp's text/plain."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from clerk_async.testing import FakeClerk

from spec_validation import Api, validated_api


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeClerk]:
    async with FakeClerk() as server:
        yield server


@pytest_asyncio.fixture
async def api(fake: FakeClerk) -> AsyncIterator[Api]:
    async with validated_api(fake.base_url, fake.secret_key) as client:
        yield client


def clerk_shaped(body: dict[str, object], code: str) -> None:
    errors = body["errors"]
    assert isinstance(errors, list) and errors[0]["code"] == code
    assert set(errors[0]) == {"message", "long_message", "code", "meta"}
    assert isinstance(body["clerk_trace_id"], str)


async def test_malformed_multipart_part_header_is_a_clerk_400(api: Api, fake: FakeClerk) -> None:
    uid = fake.store.add_user(email_address="img@example.com").id
    for broken in (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename\x00="x"\r\n'
        b"\r\nabc\r\n--b--\r\n",
        b"--b\r\nno colon in this header line\r\n\r\nabc\r\n--b--\r\n",
    ):
        reply = await api.call(
            "SetUserProfileImage", uid, data=broken, expect=400,
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert reply.headers["Content-Type"].startswith("application/json")
        clerk_shaped(reply.body, "malformed_request")
    assert not fake.store.users[uid].image


async def test_405_names_the_allowed_methods(fake: FakeClerk) -> None:
    headers = {"Authorization": f"Bearer {fake.secret_key}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.put(f"{fake.base_url}/users") as response,
    ):
        assert response.status == 405
        assert set(response.headers["Allow"].split(",")) == {"GET", "POST"}
        clerk_shaped(await response.json(), "request_invalid")


async def test_a_user_needs_an_identifier_by_default(api: Api, fake: FakeClerk) -> None:
    reply = await api.call("CreateUser", json={"first_name": "Nobody"}, expect=422)
    clerk_shaped(reply.body, "form_data_missing")
    assert "email_address" in reply.body["errors"][0]["long_message"]
    await api.call("CreateUser", json={}, expect=422)
    assert fake.stats.users == 0
    # Clerk's own escape hatch, and any one identifier, are enough.
    await api.call("CreateUser", json={"skip_user_requirement": True})
    await api.call("CreateUser", json={"username": "someone"})
    fake.reset()  # the setting outlives a reset
    await api.call("CreateUser", json={}, expect=422)


async def test_identifier_requirement_can_be_turned_off() -> None:
    async with FakeClerk(require_identifier=False) as fake, \
            validated_api(fake.base_url, fake.secret_key) as api:
        await api.call("CreateUser", json={})
        fake.reset()
        await api.call("CreateUser", json={})
        assert fake.stats.users == 1


async def test_empty_starting_after_is_ignored_like_other_empty_params(
    api: Api, fake: FakeClerk
) -> None:
    fake.store.add_user(email_address="one@example.com")
    reply = await api.call("GetUserList", params={"starting_after": "", "limit": ""})
    assert len(reply.body) == 1


async def test_oversize_body_is_a_clerk_413(fake: FakeClerk) -> None:
    headers = {"Authorization": f"Bearer {fake.secret_key}", "Content-Type": "application/json"}
    body = b'{"first_name": "' + b"x" * (10 * 1024**2) + b'"}'
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(f"{fake.base_url}/users", data=io.BytesIO(body)) as response,
    ):
        assert response.status == 413
        assert response.content_type == "application/json"
        clerk_shaped(await response.json(), "request_body_too_large")
        assert response.headers["X-Clerk-Trace-Id"]


@pytest.mark.parametrize("email", ["\u0000@x.com", "a\u0000b@x.com", "a@x\u0007.com",
                                   "a@x.com\u007f", "a\u001fb@x.com", "a@x.com\nb@y.com"])
async def test_control_characters_in_an_email_are_refused(
    api: Api, fake: FakeClerk, email: str
) -> None:
    reply = await api.call("CreateUser", json={"email_address": [email]}, expect=422)
    clerk_shaped(reply.body, "form_param_format_invalid")
    assert fake.stats.users == 0
