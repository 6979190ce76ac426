"""Errors of request authentication and webhook checks.

Both carry a short machine-readable ``reason`` and a message a person can act
on; neither ever holds the token, the signature or the signing secret, because
error trackers and logs record messages and reprs verbatim.
"""

from __future__ import annotations

from typing import Literal

from ._errors import ClerkError

__all__ = ["TokenFailure", "TokenVerificationError", "WebhookVerificationError"]

TokenFailure = Literal[
    "expired",
    "not_active_yet",
    "bad_signature",
    "unknown_key",
    "bad_algorithm",
    "unauthorized_party",
    "bad_audience",
    "malformed",
    "jwks_unavailable",
]


class TokenVerificationError(ClerkError):
    """A session token that must not be trusted; ``reason`` says why.

    ``reason`` is one of :data:`TokenFailure`. The message names the check that
    failed and never includes the token.
    """

    def __init__(self, reason: TokenFailure, message: str) -> None:
        super().__init__(message)
        self.reason: TokenFailure = reason

    def __repr__(self) -> str:
        return f"TokenVerificationError(reason={self.reason!r}, message={str(self)!r})"

    def __reduce__(self) -> tuple[type[TokenVerificationError], tuple[TokenFailure, str]]:
        return (type(self), (self.reason, str(self)))


class WebhookVerificationError(ClerkError):
    """A webhook delivery whose signature, timestamp or body cannot be trusted."""
