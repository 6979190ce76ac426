"""FakeClerk at the edges a careful user hits: offsets past every user,
``null`` where the spec wants an object, and ``serve`` on an address it
cannot have."""

from __future__ import annotations

import socket
import sys

import aiohttp
import pytest

from clerk_async.testing import FakeClerk
from clerk_async.testing.__main__ import main as serve_main


async def test_an_offset_past_every_user_is_an_empty_page() -> None:
    async with FakeClerk() as fake, aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {fake.secret_key}"}
    ) as session:
        fake.store.add_user(email_address="a@example.com")
        for offset in (sys.maxsize, sys.maxsize - 5, 2**70):
            for order in ("-created_at", "+email_address"):
                async with session.get(
                    fake.base_url + "/users", params={"offset": str(offset), "order_by": order}
                ) as response:
                    assert response.status == 200, await response.text()
                    assert await response.json() == []


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("field", ["public_metadata", "private_metadata", "unsafe_metadata"])
async def test_null_metadata_is_refused_as_clerk_does(method: str, field: str) -> None:
    async with FakeClerk() as fake, aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {fake.secret_key}"}
    ) as session:
        user = fake.store.add_user(email_address="a@example.com", private_metadata={"k": 1})
        url = f"{fake.base_url}/users/{user.id}/metadata"
        async with session.request(method, url, json={field: None}) as response:
            assert response.status == 422
            body = await response.json()
        assert body["errors"][0]["meta"] == {"param_name": field}
        assert "clerk_trace_id" in body
        assert fake.store.get(user.id).private_metadata == {"k": 1}


def _taken_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--port", "70000"], "error: --port must be between 0 and 65535, got 70000"),
        (["--port", "-1"], "error: --port must be between 0 and 65535, got -1"),
        # TEST-NET-1: an address no machine of ours has.
        (["--host", "192.0.2.1", "--port", "0"], "error: cannot listen on 192.0.2.1:0: "),
        (["--host", "no-such-host.invalid", "--port", "0"],
         "error: cannot listen on no-such-host.invalid:0: "),
    ],
)
def test_serve_on_an_address_it_cannot_have_is_one_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve_main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(says) and err.count("\n") == 1, err


def test_serve_on_a_port_in_use_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with _taken_port() as sock:
        port = sock.getsockname()[1]
        assert serve_main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}: ") and err.count("\n") == 1
    assert "in use" in err.lower()
