"""How errors are built from responses and what they say (``clerk_async._errors``).

The transport tests prove which error a real exchange raises; these pin the
parsing and the one-line messages down field by field (see docs/mutation.md).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from clerk_async import (
    AuthenticationError,
    BadRequestError,
    ClerkAPIError,
    ClerkConnectionError,
    ClerkDecodeError,
    ConflictError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
)
from clerk_async._errors import _shorten, error_for_response, parse_retry_after


def body(*errors: Any, **extra: Any) -> bytes:
    return json.dumps({"errors": list(errors), **extra}).encode()


def test_connection_error_fields_and_defaults() -> None:
    plain = ClerkConnectionError("could not connect")
    assert str(plain) == "could not connect"
    assert (plain.method, plain.path, plain.request_sent) == ("", "", True)
    full = ClerkConnectionError("x", method="POST", path="/users", request_sent=False)
    assert (full.method, full.path, full.request_sent) == ("POST", "/users", False)


def test_decode_error_message_and_fields() -> None:
    plain = ClerkDecodeError("not JSON")
    assert str(plain) == "not JSON"
    assert (plain.status, plain.method, plain.path, plain.field, plain.excerpt) == (
        None, "", "", None, "")
    full = ClerkDecodeError("wrong type", status=200, method="GET", path="/users/u1",
                            field="emails[0].id", excerpt='{"id":  7}')
    assert str(full) == 'wrong type at emails[0].id [200 GET /users/u1] body: {"id": 7}'
    assert (full.status, full.method, full.path, full.field, full.excerpt) == (
        200, "GET", "/users/u1", "emails[0].id", '{"id":  7}')
    assert str(ClerkDecodeError("cut", method="GET", path="/x")) == "cut [GET /x]"
    long = str(ClerkDecodeError("big", excerpt="y" * 100))
    assert long == "big body: " + "y" * 79 + "…"


def test_shorten_flattens_and_cuts_at_the_limit() -> None:
    assert _shorten("a\n b\t c") == "a b c"
    assert _shorten("x" * 200) == "x" * 200
    assert _shorten("x" * 201) == "x" * 199 + "…"
    assert _shorten("abcdef", 4) == "abc…" and _shorten("abcd", 4) == "abcd"


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (401, AuthenticationError), (402, PaymentRequiredError),
     (403, PermissionDeniedError), (404, NotFoundError), (409, ConflictError),
     (422, UnprocessableEntityError), (429, RateLimitError), (500, ServerError),
     (503, ServerError), (599, ServerError), (418, ClerkAPIError), (499, ClerkAPIError)],
)
def test_the_class_follows_the_status(status: int, cls: type[ClerkAPIError]) -> None:
    error = error_for_response(status, {}, b"")
    assert type(error) is cls and error.status == status


def test_clerk_error_bodies_are_parsed() -> None:
    error = error_for_response(
        422, {"Retry-After": "2"},
        body("not an error object",
             {"code": "form_param_format_invalid", "message": "is invalid",
              "long_message": "email_address: must be valid", "meta": {"param_name": "e"}},
             {"long_message": 7, "meta": ["not", "a", "dict"]},
             clerk_trace_id="trace-body"),
        method="POST", path="/users",
    )
    first, second = error.errors  # the non-object entry is skipped, not the rest
    assert (first.code, first.message, first.long_message, first.meta) == (
        "form_param_format_invalid", "is invalid", "email_address: must be valid",
        {"param_name": "e"})
    assert (second.code, second.message, second.long_message, second.meta) == (
        "unknown", "", None, None)
    assert error.code == "form_param_format_invalid"
    assert (error.clerk_trace_id, error.retry_after, error.method, error.path) == (
        "trace-body", 2.0, "POST", "/users")
    assert str(error) == ("422 form_param_format_invalid: email_address: must be valid "
                          "(+1 more) [POST /users] retry after 2s trace_id=trace-body")


def test_summary_without_a_long_message_or_extras() -> None:
    error = error_for_response(404, {}, body({"code": "resource_not_found",
                                              "message": "not found"}))
    assert str(error) == "404 resource_not_found: not found"
    assert (error.method, error.path, error.retry_after, error.clerk_trace_id) == (
        "", "", None, None)


def test_trace_id_comes_from_the_body_then_either_header() -> None:
    assert error_for_response(500, {"X-Clerk-Trace-Id": "x"}, b"").clerk_trace_id == "x"
    assert error_for_response(500, {"Clerk-Trace-Id": "c"}, b"").clerk_trace_id == "c"
    both = {"X-Clerk-Trace-Id": "x", "Clerk-Trace-Id": "c"}
    assert error_for_response(500, both, b"").clerk_trace_id == "x"
    odd = json.dumps({"errors": [], "clerk_trace_id": 12}).encode()
    assert error_for_response(500, {"Clerk-Trace-Id": "c"}, odd).clerk_trace_id == "c"


def test_bodies_that_are_not_clerks_shape_keep_their_text() -> None:
    html = error_for_response(502, {}, "<html>Bad\n  gateway é</html>".encode())
    assert html.errors == [] and html.body == "<html>Bad\n  gateway é</html>"
    assert str(html) == "502 <html>Bad gateway é</html>"
    broken = error_for_response(500, {}, b"\xff\xfe oops")
    assert broken.body == "\ufffd\ufffd oops"
    assert error_for_response(500, {}, json.dumps([1, 2]).encode()).errors == []
    empty = error_for_response(503, {}, b"")
    assert (empty.errors, empty.body, str(empty)) == ([], "", "503")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), (" 3 ", 3.0), ("1.5", 1.5), ("-4", 0.0), ("nan", None),
     ("soon", None), ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
     ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0), ("Wed, 21 Oct 2015 07:28:00 -0000", None)],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=1445412480.0) == expected


def test_api_error_keeps_headers_and_defaults() -> None:
    headers = {"Retry-After": "1", "X-Other": "y"}
    assert error_for_response(429, headers, b"").headers == headers
    bare = ClerkAPIError(status=500, errors=[], clerk_trace_id=None, headers=headers, body="")
    assert (bare.method, bare.path, bare.headers, str(bare)) == ("", "", headers, "500")


def test_retry_after_dates_are_measured_from_now() -> None:
    wait = parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT")  # the real clock
    assert wait is not None and wait > 60 * 365 * 86400
