"""pytest fixtures that sign a fake user in: ``Authorization`` headers, ready to send.

Kept apart from ``pytest_plugin`` (which re-exports them) and, like it, loading
nothing beyond pytest at import. Expiry follows the fake's clock, so a test on
a ``ManualClock`` can advance past it; the token lives an hour by default so
that a slow test on the wall clock never sees it expire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._server import FakeClerk

__all__ = ["SessionHeaders", "clerk_session_headers", "clerk_session_headers_sync"]

HEADERS_LIFETIME = 3600.0


class SessionHeaders(dict[str, str]):
    """``{"Authorization": "Bearer <token>"}`` plus who it signs in as.

    ``user_id`` is a user created in the fake's store, ``session_id`` the
    token's ``sid``, ``token`` the bare session token (for cookies).
    """

    user_id: str
    session_id: str
    token: str

    def __repr__(self) -> str:
        # The token is a credential even in tests: reprs land in CI logs.
        return f"SessionHeaders(user_id={self.user_id!r}, session_id={self.session_id!r})"


def session_headers(
    fake: FakeClerk, *, email_address: str = "signed.in@example.com"
) -> SessionHeaders:
    """Create a user in ``fake`` and headers carrying a session token for them."""
    user = fake.store.add_user(email_address=email_address, first_name="Signed", last_name="In")
    session_id = "sess_" + user.id.removeprefix("user_")
    token = fake.session_token(user.id, session_id=session_id, expires_in=HEADERS_LIFETIME)
    headers = SessionHeaders(Authorization=f"Bearer {token}")
    headers.user_id, headers.session_id, headers.token = user.id, session_id, token
    return headers


@pytest.fixture
def clerk_session_headers(fake_clerk: FakeClerk) -> SessionHeaders:
    """Headers signing a new user of ``fake_clerk`` in (async tests)."""
    return session_headers(fake_clerk)


@pytest.fixture
def clerk_session_headers_sync(fake_clerk_sync: FakeClerk) -> SessionHeaders:
    """Headers signing a new user of ``fake_clerk_sync`` in (sync tests, e.g. Django)."""
    return session_headers(fake_clerk_sync)
