"""Errors the fake answers with, shaped like Clerk's error bodies."""

from __future__ import annotations

from typing import Any

__all__ = [
    "FakeError",
    "identifier_exists",
    "identifier_missing",
    "not_found",
    "param_invalid",
    "param_missing",
    "param_unknown",
]


class FakeError(Exception):
    """Raised anywhere in the fake; the server turns it into a Clerk error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        long_message: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.long_message = long_message or message
        self.meta = meta or {}

    def body(self, trace_id: str) -> dict[str, Any]:
        return {
            "errors": [
                {
                    "message": self.message,
                    "long_message": self.long_message,
                    "code": self.code,
                    "meta": self.meta,
                }
            ],
            "meta": {},
            "clerk_trace_id": trace_id,
        }


def not_found(what: str = "resource") -> FakeError:
    return FakeError(
        404, "resource_not_found", "not found", f"The requested {what} could not be found."
    )


def param_missing(name: str) -> FakeError:
    return FakeError(
        422,
        "form_param_missing",
        f"{name} must be included.",
        f"The parameter {name} is required but was not given.",
        {"param_name": name},
    )


def param_unknown(name: str) -> FakeError:
    return FakeError(
        422,
        "form_param_unknown",
        "is unknown",
        f"{name} is not a recognised parameter for this request.",
        {"param_name": name},
    )


def param_invalid(name: str, why: str, code: str = "form_param_format_invalid") -> FakeError:
    return FakeError(422, code, "is invalid", f"{name}: {why}", {"param_name": name})


def identifier_missing() -> FakeError:
    # What an instance with the usual sign-in settings says to a user without any
    # identifier: the request is understood but lacks required data, so
    # form_data_missing (form_identifier_not_found is the sign-in lookup failure).
    return FakeError(
        422,
        "form_data_missing",
        "missing data",
        "A user needs at least one identifier: email_address, phone_number, username or "
        "web3_wallet (or skip_user_requirement=true).",
    )


def identifier_exists(name: str) -> FakeError:
    return FakeError(
        422,
        "form_identifier_exists",
        "That identifier is taken. Please try another.",
        f"Another user already uses this {name}.",
        {"param_name": name},
    )
