"""The secret key: where it comes from, what kind it is, and how it stays hidden.

Everything else in the SDK holds a :class:`Secret` (never the bare string)
and asks it for the non-secret facts it needs: the key kind that picks the
default quota, and a one-way instance id that names the Clerk instance for
shared limiters. Only the transport ever calls :meth:`Secret.reveal`.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["ENV_VAR", "Secret", "instance_key_id", "key_kind", "screen_secret", "secret_from"]

ENV_VAR = "CLERK_SECRET_KEY"
_KINDS = ("sk_live_", "sk_test_")


def key_kind(secret_key: str | None) -> str | None:
    """``"sk_live_"`` / ``"sk_test_"`` for a key of that kind; never more of the key."""
    for prefix in _KINDS:
        if secret_key and secret_key.startswith(prefix):
            return prefix
    return None


def instance_key_id(secret_key: str | None) -> str:
    """A short, stable name for the Clerk instance behind ``secret_key``.

    Clients that share a key share a quota, so shared limiters key their
    state by this. It is a truncated SHA-256 of the key under a fixed label:
    enough to tell instances apart, useless for recovering the key.
    """
    if not secret_key:
        return "nokey"
    digest = hashlib.sha256(b"clerk-users/quota-instance\x00" + secret_key.encode())
    return digest.hexdigest()[:24]


class Secret:
    """Holds the key so that no repr, log line or rendered local can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'" + self.kind + "…'"

    __str__ = __repr__

    @property
    def kind(self) -> str:
        return key_kind(self._value) or "sk_"

    @property
    def instance_id(self) -> str:
        return instance_key_id(self._value)


def screen_secret(
    secret_key: object, source: str = "secret_key"
) -> tuple[str | None, Exception | None]:
    """``(key, None)`` with surrounding whitespace stripped, or ``(None, error)``.

    The error is returned, not raised, so that the caller can drop its own
    reference to the key before raising: a traceback rendered with its locals
    (``pytest -l``, Sentry) would otherwise print the key from the caller's
    frame. A key read from a file keeps its newline, hence the strip; any
    other whitespace or control character would only fail later, inside
    aiohttp, with the key in the frames. No message quotes the key.
    """
    if secret_key is None:
        return None, None
    if not isinstance(secret_key, str):
        return None, TypeError(f"{source} must be a str, got {type(secret_key).__name__}")
    key = secret_key.strip()
    for position, char in enumerate(key):
        if not "!" <= char <= "~":
            return None, ValueError(
                f"{source} has a character a Clerk secret key cannot hold (whitespace, a "
                f"control or non-ASCII character) at position {position}; check how the "
                "key was copied"
            )
    return key, None


def secret_from(secret_key: str | None) -> Secret | None:
    """The key passed in, else ``$CLERK_SECRET_KEY``; None when neither is set.

    Pass ``secret_key`` through :func:`screen_secret` first; the environment's
    value is screened here.
    """
    source = "secret_key"
    if secret_key is None:
        secret_key, source = os.environ.get(ENV_VAR) or None, f"secret_key (${ENV_VAR})"
    key, refused = screen_secret(secret_key, source)
    secret_key = None  # no frame of a rendered traceback may hold the key
    if refused is not None:
        raise refused
    return Secret(key) if key else None
