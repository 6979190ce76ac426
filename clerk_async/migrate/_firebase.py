"""Firebase Auth: ``firebase auth:export`` as JSON (``{"users": [...]}``) or as
its header-less CSV, with the project's scrypt parameters.

The four parameters are required as soon as one user has a password hash:
without them the digest cannot be assembled, and a guessed default would
import passwords nobody can sign in with. ``customAttributes`` (custom claims,
set only by the Admin SDK) go to ``private_metadata``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
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
    load_records,
    lost,
    parse_time,
    put_names,
    readable,
    reset,
    text,
)
from ._hashes import FirebaseParams, firebase_digest

__all__ = ["FirebaseReader"]

_PROVIDERS = ("google.com", "facebook.com", "twitter.com", "github.com")
_HEAD = ("localId", "email", "emailVerified", "passwordHash", "salt", "displayName", "photoUrl",
         *(f"{provider}:{part}" for provider in _PROVIDERS
           for part in ("rawId", "email", "displayName", "photoUrl")))
#: The header-less CSV's layouts (firebase-tools ``accountExporter``): the same 23 cells,
#: then the tail. Before August 2018 the tail was disabled, createdAt, lastLoginAt,
#: phoneNumber (and the trailing comma: 28 cells); since then createdAt, lastLoginAt,
#: phoneNumber, disabled, customAttributes (29 cells), and newer versions add cells for
#: further providers from index 28 on.
CSV_LAYOUTS: dict[str, tuple[str, ...]] = {
    "before 2018-08": (*_HEAD, "disabled", "createdAt", "lastSignedInAt", "phoneNumber"),
    "current": (*_HEAD, "createdAt", "lastSignedInAt", "phoneNumber", "disabled",
                "customAttributes"),
}
_EPOCH_MS = re.compile(r"\d{9,}")
_BOOL = ("", "true", "false")
#: A provider id in a cell past the fixed columns: "microsoft.com", "apple.com", "oidc.x".
_PROVIDER_ID = re.compile(r"[a-z0-9-]+\.(com|org|net)|oidc\.[\w.-]+|saml\.[\w.-]+")


def csv_layout(cells: list[str]) -> str | None:
    """Which layout a CSV line has, told by content (the file has no header)."""
    def cell(i: int) -> str:
        return cells[i].strip().lower() if i < len(cells) else ""

    if len(cells) < 25:
        return None
    # The old layout never reached 29 cells; the current one starts its tail with
    # createdAt, which every account has.
    if len(cells) <= 28 and cell(23) in _BOOL and _EPOCH_MS.fullmatch(cell(24)):
        return "before 2018-08"
    if _EPOCH_MS.fullmatch(cell(23)) and cell(26) in _BOOL:
        return "current"
    return None


class FirebaseReader(Reader):
    name = "firebase"
    signature = ("localId",)
    expected = ("firebase auth:export output: JSON {\"users\": [...]} or the header-less CSV "
                "(localId, email, emailVerified, passwordHash, salt, ...; 28 or 29+ cells)")
    fields: ClassVar[dict[str, str]] = {"external_id": "localId"}
    metadata: ClassVar[dict[str, str]] = {"customAttributes": "private_metadata"}

    def __init__(self, path: PathLike, *, signer_key: str | None = None,
                 salt_separator: str | None = None, rounds: int | str | None = None,
                 mem_cost: int | str | None = None, metadata: Mapping[str, str] | None = None,
                 encoding: str = "utf-8-sig") -> None:
        super().__init__(path, metadata=metadata, encoding=encoding)
        self.params = FirebaseParams.from_options(signer_key, salt_separator, rounds, mem_cost)

    def load(self) -> Iterator[dict[str, Any]]:
        if self.path.suffix.lower() != ".csv":
            yield from load_records(self.path, self.encoding)
            return
        with readable(self.path, self.encoding), \
                open(self.path, encoding=self.encoding, newline="") as handle:
            for number, cells in enumerate(csv.reader(handle), 1):
                if any(cells):
                    yield self._from_cells(number, cells)

    def _from_cells(self, number: int, cells: list[str]) -> dict[str, Any]:
        layout = csv_layout(cells)
        if layout is None:
            raise MigrationError(
                f"{self.path}: line {number} has {len(cells)} cells in no layout "
                f"firebase-tools writes; expected {self.expected}")
        columns = CSV_LAYOUTS[layout]
        record: dict[str, Any] = dict(zip(columns, cells, strict=False))
        infos = [{"providerId": provider, "rawId": record.pop(f"{provider}:rawId")}
                 for provider in _PROVIDERS if record.get(f"{provider}:rawId")]
        # Cells past the fixed ones name further providers (Microsoft, Apple, ...).
        infos += [{"providerId": cell.strip()} for cell in cells[len(columns):]
                  if _PROVIDER_ID.fullmatch(cell.strip())]
        record["providerUserInfo"] = infos
        return {k: v for k, v in record.items() if ":" not in k and v != ""}

    def convert(self, record: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        local_id = str(record["localId"])
        row: dict[str, Any] = {"external_id": local_id}
        warnings = identifiers(row, "email_address",
                               [(text(record, "email"), flag(record.get("emailVerified")))])
        # Firebase only stores a phone number after an SMS check: it is verified.
        warnings += identifiers(row, "phone_number", [(text(record, "phoneNumber"), True)])
        providers = record.get("providerUserInfo") or []
        if not isinstance(providers, list):
            raise RowProblem("providerUserInfo is not a list")
        # "password" and "phone" entries are this account's own sign-in methods, not links.
        providers = [p for p in providers if _provider(p) not in ("password", "phone")]
        if not has_identifier(row):
            # Anonymous accounts (and provider-only ones without an email) have
            # nothing a Clerk user can be found or created by.
            raise Skip("anonymous: no email or phone number")
        put_names(row, None, None, record.get("displayName"), "displayName")
        if record.get("createdAt") not in (None, ""):
            row["created_at"] = parse_time(record["createdAt"], "createdAt")
        if flag(record.get("disabled"), "disabled"):
            row["banned"] = True
        self.place_metadata(row, {"customAttributes": record.get("customAttributes")})
        if record.get("passwordHash"):
            if self.params is None:
                raise MigrationError(
                    f"{self.path}: users have password hashes but the project's hash "
                    "parameters are not given: "
                    "pass --firebase-signer-key, --firebase-salt-separator, --firebase-rounds "
                    "and --firebase-mem-cost (Console > Authentication > Users > "
                    "Password hash parameters)")
            salt = text(record, "salt")
            if not salt or not isinstance(record["passwordHash"], str):
                raise RowProblem("has a password hash but no salt")
            row["password_digest"] = firebase_digest(record["passwordHash"], salt, self.params)
            row["password_hasher"] = "scrypt_firebase"
        else:
            row["skip_password_requirement"] = True
            if not providers:
                warnings.append(reset("no password hash"))
        warnings += [lost(f"social login ({_provider(p)})") for p in providers]
        for factor in record.get("mfaInfo") or []:
            kind = "TOTP" if isinstance(factor, dict) and "totpInfo" in factor else "SMS"
            warnings.append(lost(f"MFA enrolment ({kind})"))
        if record.get("photoUrl"):
            warnings.append(lost("profile image (upload it afterwards)"))
        return local_id, row, warnings


def _provider(info: Any) -> str:
    return str(info.get("providerId") or "unknown") if isinstance(info, dict) else "unknown"
