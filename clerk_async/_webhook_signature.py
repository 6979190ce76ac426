"""The Standard Webhooks (Svix) signature: shared by the verifier and FakeClerk.

A delivery is signed as ``base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))``
where ``key`` is the base64 part of the ``whsec_…`` secret, and sent as
``v1,<signature>`` (several, space-separated, while a secret rotates).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from ._verify_errors import WebhookVerificationError

__all__ = ["SECRET_PREFIX", "secret_key", "signature"]

SECRET_PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_…`` secret; the message never shows the secret."""
    if not isinstance(secret, str) or not secret:
        raise TypeError("secret must be the endpoint's signing secret, a str like 'whsec_…'")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        # Padding is optional in the wild (the reference implementations add it).
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError(
            "the webhook signing secret is not 'whsec_' followed by base64"
        ) from None
    if not key:
        raise WebhookVerificationError("the webhook signing secret is empty")
    return key


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = b"%s.%d.%s" % (message_id.encode(), timestamp, body)
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
