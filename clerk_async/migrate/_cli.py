"""The ``clerk-users import --from SOURCE`` hook: source options, and a preview.

Kept apart from ``cli.py`` so the import command only asks this module for
rows; everything after that (pacing, journal, progress, failures file) is the
bulk engine as for any other import.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import Any

from . import SOURCES, MigrationError, Reader, read_source

__all__ = ["add_arguments", "open_source", "preview"]

#: flag dest → (sources it belongs to, read_source option name)
_OPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "auth0_hashes": (("auth0",), "hashes"),
    "auth0_connection": (("auth0",), "connection"),
    "firebase_signer_key": (("firebase",), "signer_key"),
    "firebase_salt_separator": (("firebase",), "salt_separator"),
    "firebase_rounds": (("firebase",), "rounds"),
    "firebase_mem_cost": (("firebase",), "mem_cost"),
    "authjs_accounts": (("authjs",), "accounts"),
    "clerk_passwords": (("clerk",), "passwords"),
    "cognito_user_pool_id": (("cognito",), "user_pool_id"),
    "cognito_app_client_id": (("cognito",), "app_client_id"),
    "cognito_identifier": (("cognito",), "identifier"),
    "django_verified_emails": (("django",), "verified_emails"),
    "password_hasher": (("supabase", "authjs", "django"), "password_hasher"),
}
#: Row fields never printed as they are.
_SECRET = ("password_digest", "password", "totp_secret", "backup_codes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--from`` and every source's options to the import subcommand."""
    group = parser.add_argument_group(
        "migrating from another system",
        "FILE is that system's export; see README 'Migrating to Clerk'")
    group.add_argument("--from", dest="source", choices=SOURCES, default=None,
                       help="read FILE as this system's export instead of CreateUser rows")
    group.add_argument("--auth0-hashes", metavar="FILE",
                       help="the password-hash NDJSON from Auth0 support, joined on user_id")
    group.add_argument("--auth0-connection", metavar="NAME",
                       help="use only this database connection's hashes")
    group.add_argument("--firebase-signer-key", metavar="B64",
                       help="base64_signer_key from the project's password hash parameters")
    group.add_argument("--firebase-salt-separator", metavar="B64",
                       help="base64_salt_separator (same place)")
    group.add_argument("--firebase-rounds", type=int, metavar="N", help="rounds (e.g. 8)")
    group.add_argument("--firebase-mem-cost", type=int, metavar="N",
                       help="mem_cost, the exponent (e.g. 14)")
    group.add_argument("--authjs-accounts", metavar="FILE",
                       help="the adapter's accounts table (JSON or CSV), for OAuth links")
    group.add_argument("--clerk-passwords", metavar="FILE",
                       help="the dashboard's user-export CSV, for digests and TOTP secrets "
                       "of a clerk-users export FILE")
    group.add_argument("--cognito-user-pool-id", metavar="ID", help="e.g. us-east-1_AbC123")
    group.add_argument("--cognito-app-client-id", metavar="ID",
                       help="a public app client with ALLOW_USER_PASSWORD_AUTH")
    group.add_argument("--cognito-identifier", choices=("email", "username", "sub"),
                       default=None, help="what users type at Cognito sign-in (default: email)")
    group.add_argument("--django-field", action="append", default=[], metavar="MEANING=COLUMN",
                       help="a custom user model's column for id, password, username, email, "
                       "first_name, last_name, is_active or date_joined; repeatable")
    group.add_argument("--django-unverified-emails", dest="django_verified_emails",
                       action="store_const", const=False, default=None,
                       help="import Django emails as reserved (unverified) rather than verified")
    group.add_argument("--password-hasher", metavar="NAME", default=None,
                       help="Clerk hasher for every stored hash (supabase, authjs, django), "
                       "instead of recognising each hash by its shape")
    group.add_argument("--metadata", action="append", default=[], metavar="FIELD=TARGET",
                       help="put the source's metadata FIELD into TARGET (public_metadata, "
                       "private_metadata, unsafe_metadata or none); repeatable")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for dest, (sources, name) in _OPTIONS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if args.source not in sources:
            flag = "--" + dest.replace("_", "-")
            if dest == "django_verified_emails":
                flag = "--django-unverified-emails"
            raise MigrationError(f"{flag} is an option of --from {' or '.join(sources)}")
        options[name] = value
    placements = _pairs(args.metadata, "--metadata", "FIELD=TARGET")
    if placements:
        options["metadata"] = placements
    fields = _pairs(getattr(args, "django_field", []), "--django-field", "MEANING=COLUMN")
    if fields:
        if args.source != "django":
            raise MigrationError("--django-field is an option of --from django")
        options["fields"] = fields
    encoding = getattr(args, "encoding", None)
    if encoding:
        options["encoding"] = encoding
    return options


def _pairs(items: list[str], flag: str, shape: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise MigrationError(f"{flag} {item!r}: expected {shape}")
        pairs[key] = value
    return pairs


def open_source(args: argparse.Namespace) -> Reader:
    """The checked reader for ``args.file`` (reads the export once); MigrationError if not."""
    options = _options(args)
    reader: Reader = read_source(args.file, args.source, **options)
    return reader


def _shown(name: str, value: Any) -> Any:
    if name in _SECRET and value is not None:
        return f"<{len(value)} items>" if isinstance(value, list) else f"<{len(value)} chars>"
    return value


def preview(reader: Reader, limit: int = 5) -> str:
    """The first rows as they will be sent (secrets masked), then the warning totals."""
    lines = [f"{reader.name} export {reader.path}: {reader.count} users"]
    records: Iterable[Any] = (r for r in reader.records()
                              if r.skipped is None and r.problem is None)
    sendable = reader.count - sum(reader.skipped.values()) - len(reader.problems)
    for number, record in enumerate(records, 1):
        if number > limit:
            lines.append(f"  ... {sendable - limit} more")
            break
        shown = {k: _shown(k, v) for k, v in record.row.items()}
        lines.append(f"  {record.source_id} -> {json.dumps(shown, ensure_ascii=False)}")
        lines += [f"      ! {warning}" for warning in record.warnings]
    if reader.warning_counts:
        lines.append("warnings:")
        lines += [f"  {count:>7}  {warning}"
                  for warning, count in reader.warning_counts.most_common()]
    else:
        lines.append("warnings: none")
    if reader.problems:
        lines.append(f"records that will fail ({len(reader.problems)}):")
        lines += [f"  record {number}: {problem}" for number, problem in reader.problems[:limit]]
        if len(reader.problems) > limit:
            lines.append(f"  ... {len(reader.problems) - limit} more")
    return "\n".join(lines)
