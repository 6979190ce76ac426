"""Test helpers: :class:`FakeClerk`, an in-memory Clerk Backend API on loopback.

    from clerk_async.testing import FakeClerk, Faults

    async with FakeClerk(rate_limit="100/10s", faults=Faults(rate=0.05)) as fake:
        ...  # fake.base_url, fake.secret_key, fake.store, fake.stats

A pytest plugin (``fake_clerk`` and ``clerk`` fixtures) is registered through the
``pytest11`` entry point; ``python -m clerk_async.testing serve`` runs it standalone.
"""

from ._clock import ManualClock
from ._errors import FakeError
from ._faults import FAULT_KINDS, Faults
from ._quota import Quota, parse_quota
from ._server import OPERATIONS, FakeClerk, FakeStats
from ._store import Store
from ._totp import totp_code

__all__ = [
    "FAULT_KINDS",
    "OPERATIONS",
    "FakeClerk",
    "FakeError",
    "FakeStats",
    "Faults",
    "ManualClock",
    "Quota",
    "Store",
    "parse_quota",
    "totp_code",
]
