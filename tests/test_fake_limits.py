"""Quotas, fault injection, stats, the CLI and the pytest plugin of FakeClerk."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from clerk_async.testing import FakeClerk, Faults, ManualClock, parse_quota

from spec_validation import Api, load_validator


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def _api(session: aiohttp.ClientSession, fake: FakeClerk) -> Api:
    api = Api(session, fake.base_url, load_validator())
    session.headers["Authorization"] = f"Bearer {fake.secret_key}"  # type: ignore[index]
    return api


def test_parse_quota() -> None:
    assert (parse_quota("100/10s").requests, parse_quota("100/10s").period) == (100, 10.0)
    assert parse_quota("20/s").period == 1.0 and parse_quota("5/2m").period == 120.0
    for bad in ("100", "0/10s", "x/1s"):
        with pytest.raises(ValueError):
            parse_quota(bad)
    with pytest.raises(ValueError):
        FakeClerk(operation_limits={"NoSuchOp": "1/s"})
    with pytest.raises(ValueError):
        Faults(rate=2)


async def test_instance_quota_blocks_until_retry_after(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with FakeClerk(require_identifier=False, rate_limit="3/10s", clock=clock) as fake:
        api = _api(session, fake)
        for _ in range(3):
            await api.call("GetUsersCount")
        clock.advance(4.1)
        reply = await api.call("GetUsersCount", expect=429)
        # The window opens in 5.9 s; Retry-After rounds up, so the block lasts to t=10.1.
        assert reply.code == "too_many_requests" and reply.headers["Retry-After"] == "6"
        clock.advance(5.95)
        # t=10.05: all three requests have left the window, so an operation that was
        # never refused passes...
        await api.call("GetUserList")
        # ...but the refused one stays blocked until its Retry-After has passed: only
        # the block, not the window, can answer 429 here.
        reply = await api.call("GetUsersCount", expect=429)
        assert reply.headers["Retry-After"] == "1"
        clock.advance(0.1)
        await api.call("GetUsersCount")
        assert fake.stats.rate_limited == 2
        assert fake.stats.requests["GetUsersCount"] == 6


async def test_other_operations_meet_only_the_instance_quota(
    session: aiohttp.ClientSession,
) -> None:
    clock = ManualClock()
    async with FakeClerk(rate_limit="2/10s", clock=clock) as fake:
        api = _api(session, fake)
        await api.call("GetUsersCount")
        await api.call("GetUsersCount")
        await api.call("GetUsersCount", expect=429)
        reply = await api.call("GetUserList", expect=429)  # the instance window is full
        assert reply.headers["Retry-After"] == "10"
        clock.advance(10)
        await api.call("GetUserList")
        await api.call("GetUsersCount")


async def test_window_edges(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with FakeClerk(rate_limit="2/10s", clock=clock) as fake:
        api = _api(session, fake)
        await api.call("GetUsersCount")
        clock.advance(9.5)
        await api.call("GetUsersCount")
        # Half a second until the first request leaves: Retry-After is at least 1 s.
        reply = await api.call("GetUserList", expect=429)
        assert reply.headers["Retry-After"] == "1"
        clock.advance(0.5)
        # Exactly one window after the first request it has left, and only it: one more
        # request fits, the next does not.
        await api.call("GetUsersCount")
        reply = await api.call("GetUsersCount", expect=429)
        assert reply.headers["Retry-After"] == "10"
        assert fake.stats.rate_limited == 2


async def test_operation_quota(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with FakeClerk(
        rate_limit="100/10s", operation_limits={"CreateUser": "2/10s"}, clock=clock,
        require_identifier=False,
    ) as fake:
        api = _api(session, fake)
        await api.call("CreateUser", json={})
        await api.call("CreateUser", json={})
        reply = await api.call("CreateUser", json={}, expect=429)
        assert reply.headers["Retry-After"] == "10"
        await api.call("GetUsersCount")  # another operation is not blocked
        clock.advance(10)
        await api.call("CreateUser", json={})
        assert fake.stats.users == 3


async def _fault_sequence(seed: int) -> list[int]:
    faults = Faults(rate=0.3, kinds=("500", "502", "503"), seed=seed)
    statuses = []
    async with (
        FakeClerk(require_identifier=False, faults=faults) as fake,
        aiohttp.ClientSession() as session,
    ):
        api = _api(session, fake)
        for _ in range(40):
            statuses.append((await api.call("GetUsersCount", expect=None)).status)
        assert fake.stats.faults == sum(s >= 500 for s in statuses)
    return statuses


async def test_faults_are_deterministic_per_seed() -> None:
    first, second, other = await asyncio.gather(
        _fault_sequence(1), _fault_sequence(1), _fault_sequence(2)
    )
    assert first == second != other
    assert {500, 502, 503} >= set(first) - {200} and set(first) - {200}


async def test_fault_scope_latency_and_injection(session: aiohttp.ClientSession) -> None:
    faults = Faults(rate=1.0, kinds=("503",), operations={"CreateUser"}, latency_ms=30)
    async with FakeClerk(require_identifier=False, faults=faults) as fake:
        api = _api(session, fake)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await api.call("GetUsersCount")  # not in scope: no fault, no latency
        reply = await api.call("CreateUser", json={}, expect=503)
        assert reply.code == "internal_clerk_error" and fake.stats.users == 0
        assert loop.time() - start >= 0.03
        fake.faults = None
        fake.inject_fault("CreateUser", "502", None, "500")
        statuses = [(await api.call("CreateUser", json={}, expect=None)).status for _ in range(4)]
        assert statuses == [502, 200, 500, 200]
        assert fake.stats.faults_by_kind == {"503": 1, "502": 1, "500": 1}


async def test_drop_after_applies_the_change(session: aiohttp.ClientSession) -> None:
    async with FakeClerk(require_identifier=False) as fake:
        _api(session, fake)
        fake.inject_fault("CreateUser", "drop_after")
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await session.post(fake.base_url + "/users", json={"username": "dropped"})
        assert fake.store.find("dropped") is not None
        async with session.post(fake.base_url + "/users", json={"username": "dropped"}) as resp:
            assert resp.status == 422  # a blind retry now meets the first attempt's user
        assert fake.stats.faults == 1


async def test_stats_and_reset(session: aiohttp.ClientSession) -> None:
    async with FakeClerk(require_identifier=False) as fake:
        api = _api(session, fake)
        await api.call("CreateUser", json={})
        await api.call("GetUser", "user_nope", expect=404)
        async with session.get(fake.root_url + "/__fake__/stats") as resp:
            stats = await resp.json()
        assert stats == {
            "requests": {"CreateUser": 1, "GetUser": 1},
            "rate_limited": 0,
            "faults": 0,
            "faults_by_kind": {},
            "users": 1,
        }
        async with session.post(fake.root_url + "/__fake__/reset") as resp:
            assert resp.status == 200
        assert fake.stats.to_dict()["requests"] == {} and fake.stats.users == 0


async def test_cli_serve() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clerk_async.testing",
        "serve",
        "--port",
        "0",
        "--secret-key",
        "sk_test_cli_key_1234",
        "--rate",
        "100/10s",
        "--op-rate",
        "CreateUser=20/10s",
        "--seed",
        "1",
        "--users",
        "3",
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 10)).decode() for _ in range(2)]
        base_url = lines[0].split("base_url: ")[1].strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        assert lines[1].split("secret_key: ")[1].strip() == "sk_test_cli_key_1234"
        root = base_url.removesuffix("/v1")
        headers = {"Authorization": "Bearer sk_test_cli_key_1234"}
        async with aiohttp.ClientSession(headers=headers) as client:
            async with client.get(base_url + "/users/count") as resp:
                assert (await resp.json())["total_count"] == 3
            async with client.get(root + "/__fake__/stats") as resp:
                stats = json.loads(await resp.text())
            assert stats["requests"] == {"GetUsersCount": 1} and stats["users"] == 3
            async with client.post(root + "/__fake__/reset") as resp:
                assert resp.status == 200
            async with client.get(root + "/__fake__/stats") as resp:
                assert (await resp.json())["users"] == 0
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0


@pytest.mark.fake_clerk(seed=42, rate_limit="50/10s")
async def test_plugin_fixture(fake_clerk: FakeClerk) -> None:
    assert fake_clerk.quotas.instance is not None
    assert fake_clerk.secret_key == FakeClerk(seed=42).secret_key
    async with (
        aiohttp.ClientSession() as client,
        client.get(
            fake_clerk.base_url + "/users",
            headers={"Authorization": f"Bearer {fake_clerk.secret_key}"},
        ) as resp,
    ):
        assert resp.status == 200 and await resp.json() == []
