"""AWS Cognito: a JSON array of ``ListUsers`` users (every page, saved by you), or of
``AdminGetUser`` responses (``UserAttributes`` instead of ``Attributes``).

The API gives ``UserCreateDate`` as epoch *seconds* (a float); the AWS CLI
prints ISO text. Both are read. Names come from ``given_name``/``family_name``,
else from the standard ``name`` attribute split in two.

Cognito never exports password hashes. Clerk's ``awscognito`` hasher instead
records where to check the password at the user's first sign-in:
``awscognito#<user pool id>#<app client id>#<identifier>``, so both ids are
required. ``identifier`` says what users typed at Cognito's sign-in
(``email``, ``username`` or ``sub``). ``custom:*`` attributes go to
``private_metadata`` (custom attributes are writable by users only where the
app client allows it; the admin-only default fits private).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ._base import (
    MigrationError,
    PathLike,
    Reader,
    RowProblem,
    Skip,
    flag,
    has_identifier,
    identifiers,
    lost,
    parse_time,
    put_names,
    reset,
)

__all__ = ["CognitoReader"]

IDENTIFIERS = ("email", "username", "sub")


class CognitoReader(Reader):
    name = "cognito"
    signature = ("Username", "Attributes")
    expected = ("ListUsers users (Username, Attributes, UserCreateDate, ...) or AdminGetUser "
                "responses (Username, UserAttributes, ...)")
    #: Clerk field ← Cognito attribute.
    fields: ClassVar[dict[str, str]] = {
        "external_id": "sub",
        "first_name": "given_name",
        "last_name": "family_name",
        "locale": "locale",
    }
    metadata: ClassVar[dict[str, str]] = {"custom:*": "private_metadata"}

    def __init__(self, path: PathLike, *, user_pool_id: str | None = None,
                 app_client_id: str | None = None, identifier: str = "email",
                 metadata: Mapping[str, str] | None = None,
                 encoding: str = "utf-8-sig") -> None:
        super().__init__(path, metadata=metadata, encoding=encoding)
        if not user_pool_id or not app_client_id:
            raise MigrationError(
                "Cognito passwords migrate through Clerk's awscognito hasher, which needs "
                "--cognito-user-pool-id and --cognito-app-client-id (a public app client "
                "with ALLOW_USER_PASSWORD_AUTH)")
        if identifier not in IDENTIFIERS:
            raise MigrationError(f"--cognito-identifier must be one of {', '.join(IDENTIFIERS)}")
        self.pool, self.client, self.identifier = user_pool_id, app_client_id, identifier

    @classmethod
    def looks_like(cls, record: Mapping[str, Any]) -> bool:
        return "Username" in record and ("Attributes" in record or "UserAttributes" in record)

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        listed = record.get("Attributes", record.get("UserAttributes")) or []
        if not isinstance(listed, list):
            raise RowProblem("Attributes is not a list of {Name, Value}")
        attributes = {a["Name"]: a.get("Value") for a in listed
                      if isinstance(a, dict) and "Name" in a}
        user_id = str(attributes.get("sub") or record["Username"])
        row: dict[str, Any] = {}
        for clerk, cognito in self.fields.items():
            if attributes.get(cognito):
                row[clerk] = str(attributes[cognito])
        put_names(row, row.pop("first_name", None), row.pop("last_name", None),
                  attributes.get("name"))
        warnings = identifiers(row, "email_address",
                               [(attributes.get("email"), flag(attributes.get("email_verified")))])
        warnings += identifiers(row, "phone_number", [
            (attributes.get("phone_number"), flag(attributes.get("phone_number_verified")))])
        custom = {k.removeprefix("custom:"): v for k, v in attributes.items()
                  if k.startswith("custom:")}
        self.place_metadata(row, {"custom:*": custom or None})
        if not has_identifier(row):
            raise Skip("no email or phone number to sign in with")
        if record.get("UserCreateDate") not in (None, ""):
            row["created_at"] = parse_time(record["UserCreateDate"], "UserCreateDate", unit="s")
        if record.get("Enabled") is False:
            row["banned"] = True
        status = record.get("UserStatus")
        if status == "EXTERNAL_PROVIDER":
            row["skip_password_requirement"] = True
            warnings.append(lost("social login (federated identity provider)"))
            return user_id, row, warnings
        login = {"email": attributes.get("email"), "username": record["Username"],
                 "sub": attributes.get("sub")}[self.identifier]
        if not login:
            raise RowProblem(f"has no {self.identifier} to sign in with at Cognito")
        row["password_digest"] = f"awscognito#{self.pool}#{self.client}#{login}"
        row["password_hasher"] = "awscognito"
        if status != "CONFIRMED":
            warnings.append(reset(f"Cognito status {status}"))
        if record.get("MFAOptions") or record.get("UserMFASettingList"):
            warnings.append(lost("MFA (SMS or TOTP)"))
        return user_id, row, warnings
