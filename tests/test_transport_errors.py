"""What a failed attempt turns into (``clerk_async._transport._connection_error``):
a one-line message naming the request and what went wrong, and a text-only cause.

The end-to-end tests prove which class a real failure raises; these pin the
message and the cause down (see docs/mutation.md).
"""

from __future__ import annotations

from yarl import URL

from clerk_async import ClerkConnectionError, ClerkTimeoutError
from clerk_async._transport import Request, TransportCause, _connection_error

REQUEST = Request(method="GET", url=URL("http://127.0.0.1:1/v1/users/u1"),
                  log_path="/v1/users/u1")


class Unprintable(OSError):
    def __str__(self) -> str:
        raise RuntimeError("half-built")


def test_message_names_the_request_and_the_failure() -> None:
    error, cause = _connection_error(ClerkConnectionError, "could not connect to Clerk",
                                     ConnectionRefusedError("refused"), REQUEST, sent=False)
    assert type(error) is ClerkConnectionError
    assert str(error) == ("could not connect to Clerk [GET /v1/users/u1]: "
                          "ConnectionRefusedError: refused")
    assert (error.method, error.path, error.request_sent) == ("GET", "/v1/users/u1", False)
    assert not error._permanent  # type: ignore[attr-defined]
    assert isinstance(cause, TransportCause)
    assert str(cause) == "builtins.ConnectionRefusedError: refused"
    assert cause.type_name == "builtins.ConnectionRefusedError"


def test_failures_without_text_and_permanent_ones() -> None:
    error, cause = _connection_error(ClerkTimeoutError, "timed out waiting for Clerk",
                                     TimeoutError(), REQUEST, sent=True, permanent=True)
    assert type(error) is ClerkTimeoutError and error.request_sent is True
    assert str(error) == "timed out waiting for Clerk [GET /v1/users/u1]: TimeoutError"
    assert error._permanent is True  # type: ignore[attr-defined]
    assert str(cause) == "builtins.TimeoutError"
    odd, odd_cause = _connection_error(ClerkConnectionError, "connection to Clerk failed",
                                       Unprintable(), REQUEST, sent=True)
    assert str(odd) == "connection to Clerk failed [GET /v1/users/u1]: Unprintable"
    assert str(odd_cause).endswith("Unprintable") and ": " not in str(odd_cause)
