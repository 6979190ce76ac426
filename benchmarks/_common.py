"""Helpers shared by the benchmarks: a FakeClerk child process, CPU pinning,
peak RSS, a fully populated user page, and the optional official SDK.

Not a public module; the scripts in this folder import it as ``_common``.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KEY = "sk_test_bench_0000000000000000000000"


@contextmanager
def exported(ref: str | None) -> Iterator[Path | None]:
    """Commit *ref* of this repository as a temporary checkout (``git archive``), for a
    before/after on the same run, e.g. at ``git merge-base HEAD main``; None: no ref."""
    if ref is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="clerk-before-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield Path(tmp)


def pin(pid: int, core: int) -> None:
    """Pin a process (0: this one) to one core, when the OS allows and it exists."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > core:
        os.sched_setaffinity(pid, {core})


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB.

    On Linux this is ``VmHWM``: ``ru_maxrss`` would carry over the parent's
    peak across ``fork`` + ``exec``, hiding a child's own smaller peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB else


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def json_parser() -> tuple[str, Any, Any]:
    """(name, loads, dumps) of the JSON library our client uses: orjson when installed.

    The "bare aiohttp" floor uses the same one, so "ours / bare" compares like
    with like; ``json.loads`` is reported beside it as a second floor.
    """
    try:
        import orjson
    except ImportError:
        return "json.loads", json.loads, lambda obj: json.dumps(obj).encode()
    return "orjson", orjson.loads, orjson.dumps


@dataclass(frozen=True)
class Server:
    """A running FakeClerk child process."""

    base_url: str
    root_url: str
    secret_key: str
    pid: int

    def stats(self) -> dict[str, Any]:
        """The fake's counters (``/__fake__/stats``): requests, rate_limited, users."""
        with urllib.request.urlopen(self.root_url + "/__fake__/stats", timeout=30) as resp:
            data: dict[str, Any] = json.loads(resp.read())
        return data


@contextmanager
def fake_server(
    *,
    users: int = 0,
    rate: str | None = None,
    latency_ms: float = 0.0,
    key: str = KEY,
    core: int | None = 0,
    fault_rate: float = 0.0,
    fault_kinds: str | None = None,
) -> Iterator[Server]:
    """FakeClerk in its own process (``python -m clerk_async.testing serve``).

    It is pinned to ``core`` (and should be kept off the client's core) so that
    the client's CPU measurements do not include the server's work.
    """
    command = [
        sys.executable, "-m", "clerk_async.testing", "serve",
        "--port", "0", "--secret-key", key, "--users", str(users),
    ]
    if rate:
        command += ["--rate", rate]
    if latency_ms:
        command += ["--latency-ms", str(latency_ms)]
    if fault_rate:
        command += ["--fault-rate", str(fault_rate)]
    if fault_kinds:
        command += ["--fault-kinds", fault_kinds]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        if core is not None:
            pin(proc.pid, core)
        assert proc.stdout is not None
        base_url = root_url = ""
        for line in proc.stdout:
            if line.startswith("FakeClerk base_url:"):
                base_url = line.split(":", 1)[1].strip()
            elif line.startswith("FakeClerk control:"):
                root_url = line.split(":", 1)[1].split("/__fake__")[0].strip()
                break
        if not base_url or not root_url:
            raise RuntimeError(f"FakeClerk did not start (exit {proc.poll()})")
        yield Server(base_url=base_url, root_url=root_url, secret_key=key, pid=proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a wedged server
            proc.kill()
            proc.wait(10)


def official_sdk() -> ModuleType | None:
    """Clerk's official SDK (``clerk-backend-api``, the ``bench`` extra), if installed."""
    try:
        import clerk_backend_api
    except ImportError:
        return None
    return clerk_backend_api


# How the official SDK's README says to retry: its ``RetryConfig`` with exponential
# backoff (the SDK's own default intervals), connection errors retried, and
# ``status_codes_override`` adding 429 to the 5XX it retries by default. A response's
# Retry-After is then slept as given. This is the best it can be configured.
OFFICIAL_BEST_RETRY = ('RetryConfig("backoff", BackoffStrategy(500, 60_000, 1.5, 3_600_000), '
                       'True, status_codes_override=["429", "5XX"])')


def official_best_retry_config() -> Any:
    """The official SDK's documented retry configuration, at its best for a quota (see above)."""
    from clerk_backend_api.utils import BackoffStrategy, RetryConfig

    return RetryConfig("backoff", BackoffStrategy(500, 60_000, 1.5, 3_600_000), True,
                       status_codes_override=["429", "5XX"])


# --------------------------------------------------------------------------- fixtures


def _verification(obj: str, strategy: str, expire_at: int | None = None) -> dict[str, Any]:
    return {
        "object": obj, "status": "verified", "strategy": strategy,
        "attempts": None, "expire_at": expire_at,
    }


def _full_user_template() -> dict[str, Any]:
    """One user with every nested list filled, rendered by FakeClerk's own store
    (so its shape is Clerk's), plus SAML and enterprise accounts, identification
    links and SCIM metadata, which the fake does not produce itself."""
    from clerk_async.testing._model import render_user
    from clerk_async.testing._store import Store

    store = Store(seed=1)
    user = store.add_user(
        email_address=["ada@example.com", "ada.lovelace@example.org"],
        phone_number=["+15555550100", "+15555550101"],
        web3_wallet=["0x" + "ab" * 20],
        first_name="Ada", last_name="Lovelace", username="ada_lovelace",
        external_id="crm-000001",
        public_metadata={"plan": "pro", "seats": 5, "features": ["a", "b"]},
        private_metadata={"stripe_customer": "cus_123", "flags": {"beta": True}},
        unsafe_metadata={"theme": "dark"},
    )
    store.seed_passkey(user.id, "Laptop")
    store.seed_passkey(user.id, "Phone")
    google = store.seed_external_account(user.id, "oauth_google")
    store.seed_external_account(user.id, "oauth_github")
    membership = store.seed_organization_membership(
        user.id, role="org:admin",
        permissions=["org:sys_profile:manage", "org:sys_memberships:read"],
    )
    data = render_user(user, store.now_ms())
    now = data["created_at"]
    data["organization_memberships"] = [store.render_membership(membership)]
    data["email_addresses"][0]["linked_to"] = [
        {"type": "oauth_google", "id": google.identification_id},
        {"type": "saml_account", "id": "samlacc_2abc"},
    ]
    data["scim"] = {"directory_id": "scimdir_1", "directory_enabled": True, "external_id": "x-1"}
    data["saml_accounts"] = [{
        "id": "samlacc_2abc", "object": "saml_account", "provider": "saml_okta",
        "active": True, "email_address": "ada@example.com", "first_name": "Ada",
        "last_name": "Lovelace", "provider_user_id": "okta|123",
        "last_authenticated_at": now, "public_metadata": {"dept": "eng"},
        "verification": _verification("verification_saml", "saml", now + 600_000),
        "saml_connection": {
            "id": "samlc_1", "name": "Okta", "domain": "example.com",
            "domains": ["example.com"], "active": True, "provider": "saml_okta",
            "sync_user_attributes": True, "allow_subdomains": False,
            "allow_idp_initiated": False, "disable_additional_identifications": False,
            "created_at": now, "updated_at": now,
        },
    }]
    data["enterprise_accounts"] = [{
        "id": "entacc_1", "object": "enterprise_account", "protocol": "saml",
        "provider": "saml_okta", "active": True, "email_address": "ada@example.com",
        "first_name": "Ada", "last_name": "Lovelace", "provider_user_id": "okta|123",
        "enterprise_connection_id": "entc_1", "public_metadata": {"dept": "eng"},
        "verification": _verification("verification_saml", "saml", now + 600_000),
        "enterprise_connection": {
            "id": "entc_1", "protocol": "saml", "provider": "saml_okta", "name": "Okta",
            "logo_public_url": None, "domain": "example.com", "domains": ["example.com"],
            "active": True, "sync_user_attributes": True, "allow_subdomains": False,
            "allow_idp_initiated": False, "disable_additional_identifications": False,
            "created_at": now, "updated_at": now,
        },
        "last_authenticated_at": now,
    }]
    return data


def full_user_page(n: int = 500) -> bytes:
    """A ``GET /users?limit=n`` body: ``n`` full users (distinct ids), as JSON bytes."""
    text = json.dumps(_full_user_template())
    template_id = json.loads(text)["id"]
    page = [json.loads(text.replace(template_id, f"user_{i:027d}")) for i in range(n)]
    return json.dumps(page, separators=(",", ":")).encode()


def ours_validates_scalars() -> bool:
    """Whether our decoder rejects wrong scalar types in a user, as pydantic does.

    Probes a few required and optional fields with a value of the wrong type
    that a lenient decoder would keep; True only when every one is refused.
    """
    from clerk_async.models import User
    from clerk_async.resources._base import decode

    user = _full_user_template()
    for name, wrong in (("id", 12345), ("created_at", "soon"), ("banned", "yes"),
                        ("first_name", ["x"])):
        body = json.dumps([{**user, name: wrong}]).encode()
        try:
            decode(body, list[User], "GET", "/users")
        except Exception:
            continue
        return False
    return True


# --------------------------------------------------------------------------- canned server

_CANNED_SERVER = r"""
import asyncio, sys

BODY = sys.stdin.buffer.read()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


class Canned(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while True:  # GET requests only: no bodies to skip
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.buffer = self.buffer[end + 4:]
            self.transport.write(RESPONSE)


async def main():
    server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@contextmanager
def canned_server(body: bytes, core: int | None = 0) -> Iterator[str]:
    """A minimal HTTP/1.1 keep-alive server in its own process answering every
    GET with ``body``; yields its base URL. Far faster and steadier than
    FakeClerk, for measuring small client-side differences by wall time."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CANNED_SERVER],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    try:
        if core is not None:
            pin(proc.pid, core)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(body)
        proc.stdin.close()
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
