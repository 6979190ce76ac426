"""AWS Cognito: a JSON array of ``ListUsers`` users (every page, saved by you).

Cognito never exports password hashes. Clerk's ``awscognito`` hasher instead
records where to check the password at the user's first sign-in:
``awscognito#<user pool id>#<app client id>#<identifier>``, so both ids are
required. ``identifier`` says what users typed at Cognito's sign-in
(``email``, ``username`` or ``sub``). ``custom:*`` attributes go to
``private_metadata`` (custom attributes are writable by users only where the
app client allows it; the admin-only default fits private).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ._base import MigrationError, PathLike, Reader, RowProblem, flag, identifiers, parse_time

__all__ = ["CognitoReader"]

IDENTIFIERS = ("email", "username", "sub")


class CognitoReader(Reader):
    name = "cognito"
    signature = ("Username", "Attributes")
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
                 **options: Any) -> None:
        super().__init__(path, **options)
        if not user_pool_id or not app_client_id:
            raise MigrationError(
                "Cognito passwords migrate through Clerk's awscognito hasher, which needs "
                "--cognito-user-pool-id and --cognito-app-client-id (a public app client "
                "with ALLOW_USER_PASSWORD_AUTH)")
        if identifier not in IDENTIFIERS:
            raise MigrationError(f"--cognito-identifier must be one of {', '.join(IDENTIFIERS)}")
        self.pool, self.client, self.identifier = user_pool_id, app_client_id, identifier

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        attributes = {a["Name"]: a.get("Value") for a in record.get("Attributes") or []
                      if isinstance(a, dict) and "Name" in a}
        user_id = str(attributes.get("sub") or record["Username"])
        row: dict[str, Any] = {}
        for clerk, cognito in self.fields.items():
            if attributes.get(cognito):
                row[clerk] = str(attributes[cognito])
        warnings = identifiers(row, "email_address",
                               [(attributes.get("email"), flag(attributes.get("email_verified")))])
        warnings += identifiers(row, "phone_number", [
            (attributes.get("phone_number"), flag(attributes.get("phone_number_verified")))])
        custom = {k.removeprefix("custom:"): v for k, v in attributes.items()
                  if k.startswith("custom:")}
        self.place_metadata(row, {"custom:*": custom or None})
        if record.get("UserCreateDate"):
            row["created_at"] = parse_time(record["UserCreateDate"], "UserCreateDate")
        if record.get("Enabled") is False:
            row["banned"] = True
        status = record.get("UserStatus")
        if status == "EXTERNAL_PROVIDER":
            row["skip_password_requirement"] = True
            warnings.append("social login: the provider link is not transferable")
            return user_id, row, warnings
        login = {"email": attributes.get("email"), "username": record["Username"],
                 "sub": attributes.get("sub")}[self.identifier]
        if not login:
            raise RowProblem(f"has no {self.identifier} to sign in with at Cognito")
        row["password_digest"] = f"awscognito#{self.pool}#{self.client}#{login}"
        row["password_hasher"] = "awscognito"
        if status != "CONFIRMED":
            warnings.append(f"Cognito status {status}: the password may not work until reset")
        return user_id, row, warnings
