"""Migrations end to end: each example export goes through ``clerk-users import
--from SOURCE`` into a FakeClerk on loopback, then passwords, identifier
statuses, external ids and metadata are checked through the API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from clerk_async import AsyncClerk, UnprocessableEntityError
from clerk_async.cli import main
from clerk_async.migrate import MigrationError, read_source
from clerk_async.models import User
from clerk_async.testing import FakeClerk

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "migrations"
FIREBASE = json.loads((EXAMPLES / "firebase" / "hash_params.json").read_text())
COGNITO = json.loads((EXAMPLES / "cognito" / "cognito.json").read_text())
FIREBASE_FLAGS = ["--firebase-signer-key", FIREBASE["signer_key"], "--firebase-salt-separator",
                  FIREBASE["salt_separator"], "--firebase-rounds", str(FIREBASE["rounds"]),
                  "--firebase-mem-cost", str(FIREBASE["mem_cost"])]
COGNITO_FLAGS = ["--cognito-user-pool-id", COGNITO["user_pool_id"],
                 "--cognito-app-client-id", COGNITO["app_client_id"]]


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeClerk]:
    async with FakeClerk() as server:
        monkeypatch.setenv("CLERK_SECRET_KEY", server.secret_key)
        yield server


@pytest.fixture
async def api(fake: FakeClerk) -> AsyncIterator[AsyncClerk]:
    async with AsyncClerk(secret_key=fake.secret_key, base_url=fake.base_url,
                          rate_limit=None) as client:
        yield client


async def cli(fake: FakeClerk, *args: str) -> int:
    """``clerk-users import ...`` in-process, against the fake on loopback."""
    argv = ["import", *args, "--base-url", fake.base_url, "--rate", "none"]
    return await asyncio.to_thread(main, argv)


async def users_by_external_id(api: AsyncClerk) -> dict[str, User]:
    return {u.external_id or u.id: u async for u in api.users.iter()}


def emails(user: User) -> list[tuple[str, str]]:
    """(address, "verified" | "reserved"), primary first."""
    out = [(e.email_address, "reserved" if e.reserved else "verified")
           for e in user.email_addresses]
    out.sort(key=lambda item: item[0] != _primary_email(user))
    return out


def _primary_email(user: User) -> str | None:
    return next((e.email_address for e in user.email_addresses
                 if e.id == user.primary_email_address_id), None)


def phones(user: User) -> list[tuple[str, str]]:
    return [(p.phone_number, "reserved" if p.reserved else "verified")
            for p in user.phone_numbers]


async def check_passwords(api: AsyncClerk, users: dict[str, User], folder: str) -> None:
    passwords = json.loads((EXAMPLES / folder / "passwords.json").read_text())
    for external_id, user in users.items():
        if external_id in passwords:
            assert user.password_enabled, external_id
            assert (await api.users.verify_password(user.id, passwords[external_id])).verified
            with pytest.raises(UnprocessableEntityError):
                await api.users.verify_password(user.id, passwords[external_id] + "?")
        else:
            assert not user.password_enabled, external_id


# --------------------------------------------------------------------------- every source


async def test_auth0_export_with_hash_file(fake: FakeClerk, api: AsyncClerk) -> None:
    folder = EXAMPLES / "auth0"
    assert await cli(fake, str(folder / "users.ndjson"), "--from", "auth0",
                     "--auth0-hashes", str(folder / "password_hashes.ndjson")) == 0
    users = await users_by_external_id(api)
    assert set(users) == {"auth0|65f1c0ffee1234567890abcd", "auth0|65f1c0ffee1234567890abce",
                          "auth0|legacy-4471", "google-oauth2|109876543210"}
    ana = users["auth0|65f1c0ffee1234567890abcd"]
    assert emails(ana) == [("ana.ruiz@example.org", "verified")]
    assert phones(ana) == [("+34600111222", "reserved")]
    assert (ana.username, ana.first_name, ana.last_name) == ("anaruiz", "Ana", "Ruiz")
    # app_metadata is admin-only; user_metadata is user-editable in Auth0.
    assert ana.private_metadata == {"plan": "pro"} and ana.unsafe_metadata == {"theme": "dark"}
    assert ana.public_metadata == {}
    assert emails(users["auth0|65f1c0ffee1234567890abce"]) == [
        ("kofi.mensah@example.org", "reserved")]
    assert users["auth0|legacy-4471"].banned  # blocked, and joined through alt_id
    assert ana.created_at == 1680426900000
    await check_passwords(api, users, "auth0")


@pytest.mark.parametrize("export", ["users.json", "users.csv"])
async def test_firebase_json_and_headerless_csv(
    fake: FakeClerk, api: AsyncClerk, export: str
) -> None:
    assert await cli(fake, str(EXAMPLES / "firebase" / export), "--from", "firebase",
                     *FIREBASE_FLAGS) == 0
    users = await users_by_external_id(api)
    li, amara = users["Zx8k2PqLmN3vR7tY1wE5"], users["Qa7Hc2Lk9Pm3Rt6Wy1Zb"]
    assert (li.first_name, li.last_name) == ("Li", "Wei")
    assert phones(li) == [("+8613800138000", "verified")]
    assert li.private_metadata == {"role": "editor"}
    assert emails(amara) == [("amara.obi@example.net", "reserved")]
    assert li.created_at == 1682899200000
    await check_passwords(api, users, "firebase")  # Jonas signs in with Google only


@pytest.mark.parametrize("export", ["users.csv", "users.json"])
async def test_supabase_csv_and_json(fake: FakeClerk, api: AsyncClerk, export: str) -> None:
    assert await cli(fake, str(EXAMPLES / "supabase" / export), "--from", "supabase") == 0
    users = await users_by_external_id(api)
    sam = users["9b2f6c1e-4a7d-4e0b-8f3a-2c5d7e9f1a3b"]
    assert phones(sam) == [("+447700900123", "reserved")]  # the "+" Supabase strips is back
    assert sam.unsafe_metadata == {"full_name": "Sam Okafor"}
    assert sam.private_metadata == {"provider": "email", "providers": ["email"]}
    priya = users["0c4e8a2b-6d1f-4b3a-9e7c-5a2d4f6b8c0e"]
    assert emails(priya) == [("priya.nair@example.io", "reserved")] and priya.banned
    tomas = users["7d1a3c5e-9f2b-4d6a-8c0e-1b3d5f7a9c2e"]
    assert (tomas.first_name, tomas.last_name) == ("Tomáš", "Novák")
    assert phones(tomas) == [("+420601123456", "verified")]
    # bcrypt ($2a$), argon2id and $fbscrypt$ hashes each routed to their hasher.
    await check_passwords(api, users, "supabase")


async def test_authjs_users_and_accounts(fake: FakeClerk, api: AsyncClerk) -> None:
    assert await cli(fake, str(EXAMPLES / "authjs" / "users.json"), "--from", "authjs") == 0
    users = await users_by_external_id(api)
    assert emails(users["clx9k2m0a0001qz8r5f6g7h8i"]) == [("diego@example.com", "reserved")]
    assert emails(users["clx9k2m0a0000qz8r1b2c3d4e"]) == [("maya@example.com", "verified")]
    oskar = users["clx9k2m0a0003qz8r3n4o5p6q"]
    assert (oskar.first_name, oskar.last_name) == ("Oskar", None)  # a one-word name is kept
    await check_passwords(api, users, "authjs")  # Fatima: GitHub only


async def test_cognito_passwords_through_the_pool(fake: FakeClerk, api: AsyncClerk) -> None:
    assert await cli(fake, str(EXAMPLES / "cognito" / "users.json"), "--from", "cognito",
                     *COGNITO_FLAGS) == 0
    users = await users_by_external_id(api)
    omar = users["5f3c2a10-7b8e-4c61-9d2f-0a1b2c3d4e5f"]
    assert omar.private_metadata == {"tier": "gold"}
    assert phones(omar) == [("+14155550123", "reserved")]
    hana = users["8a9b0c1d-2e3f-4a5b-6c7d-8e9f0a1b2c3d"]
    assert hana.banned and emails(hana) == [("hana@example.com", "reserved")]
    # What Clerk would ask Cognito at first sign-in: the pool holds the passwords.
    passwords = json.loads((EXAMPLES / "cognito" / "passwords.json").read_text())
    for external_id, password in passwords.items():
        address = _primary_email(users[external_id])
        assert address is not None
        fake.store.cognito_users[(COGNITO["user_pool_id"], COGNITO["app_client_id"],
                                  address)] = password
    await check_passwords(api, users, "cognito")  # Rafael: federated, no password


async def test_django_dumpdata_example(fake: FakeClerk, api: AsyncClerk) -> None:
    assert await cli(fake, str(EXAMPLES / "django" / "auth_user.json"), "--from", "django") == 0
    users = await users_by_external_id(api)
    assert users["4"].banned and not users["1"].banned  # is_active=False
    assert (users["2"].username, users["2"].first_name) == ("bjorn", "Björn")
    assert users["1"].created_at == 1642242600123
    await check_passwords(api, users, "django")  # pbkdf2 sha256/sha1, bcrypt_sha256, argon2


async def test_clerk_dashboard_csv(fake: FakeClerk, api: AsyncClerk) -> None:
    assert await cli(fake, str(EXAMPLES / "clerk" / "users.csv"), "--from", "clerk") == 0
    users = await users_by_external_id(api)
    noa = users["user_2kQ8vX1bT9mN4pR7sW3yZ6aD0fG"]
    assert emails(noa) == [("noa@example.com", "verified"), ("noa.old@example.com", "reserved")]
    assert noa.totp_enabled and noa.username == "noalevi"
    await check_passwords(api, users, "clerk")


# --------------------------------------------------------------------------- refusals


async def test_firebase_hashes_without_parameters_are_refused_before_sending(
    fake: FakeClerk, capsys: pytest.CaptureFixture[str]
) -> None:
    export = str(EXAMPLES / "firebase" / "users.json")
    assert await cli(fake, export, "--from", "firebase") == 2
    assert "--firebase-signer-key" in capsys.readouterr().err
    assert await cli(fake, export, "--from", "firebase", *FIREBASE_FLAGS[:6]) == 2
    assert "missing --firebase-mem-cost" in capsys.readouterr().err
    assert await cli(fake, export, "--from", "firebase",
                     *FIREBASE_FLAGS[:6], "--firebase-mem-cost", "16384") == 2
    assert "exponent" in capsys.readouterr().err
    assert fake.store.users == {} and not fake.stats.requests


async def test_auth0_hash_record_without_a_user_is_listed_not_fatal(
    fake: FakeClerk, api: AsyncClerk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The hash file arrives by support ticket, later than the user export (Auth0's
    # "export password hashes" article): it can hold users the export lacks.
    hashes = tmp_path / "hashes.ndjson"
    lines = (EXAMPLES / "auth0" / "password_hashes.ndjson").read_text()
    stray = {"_id": {"$oid": "0123456789abcdef01234567"}, "passwordHash": "$2b$10$" + "a" * 53,
             "connection": "Username-Password-Authentication"}
    hashes.write_text(lines + json.dumps(stray) + "\n")
    assert await cli(fake, str(EXAMPLES / "auth0" / "users.ndjson"), "--from", "auth0",
                     "--auth0-hashes", str(hashes)) == 0
    out = capsys.readouterr().out
    users = await users_by_external_id(api)
    assert len(users) == 4 and "auth0|0123456789abcdef01234567" not in users
    assert "auth0|0123456789abcdef01234567 has a password hash but is not in" in out
    # Another connection's hashes are left out with --auth0-connection.
    stray["connection"] = "other-db"
    hashes.write_text(lines + json.dumps(stray) + "\n")
    reader = read_source(EXAMPLES / "auth0" / "users.ndjson", "auth0", hashes=hashes,
                         connection="Username-Password-Authentication")
    assert reader.notices == []


@pytest.mark.parametrize(("export", "source", "guess"), [
    ("supabase/users.json", "firebase", "supabase"),
    ("auth0/users.ndjson", "cognito", "auth0"),
    ("cognito/users.json", "authjs", "cognito"),
])
async def test_a_file_of_another_source_is_refused(
    fake: FakeClerk, capsys: pytest.CaptureFixture[str], export: str, source: str, guess: str
) -> None:
    extra = COGNITO_FLAGS if source == "cognito" else []
    assert await cli(fake, str(EXAMPLES / export), "--from", source, *extra) == 2
    assert f"--from {guess}" in capsys.readouterr().err
    assert fake.store.users == {}


async def test_usage_errors_name_the_flag(
    fake: FakeClerk, capsys: pytest.CaptureFixture[str]
) -> None:
    cognito = str(EXAMPLES / "cognito" / "users.json")
    assert await cli(fake, cognito, "--from", "cognito") == 2
    assert "--cognito-user-pool-id" in capsys.readouterr().err
    assert await cli(fake, cognito, "--from", "auth0", "--firebase-rounds", "8") == 2
    assert "--firebase-rounds is an option of --from firebase" in capsys.readouterr().err
    assert await cli(fake, cognito, "--from", "cognito", *COGNITO_FLAGS,
                     "--metadata", "custom:*=everywhere") == 2
    assert "'everywhere' is not one of" in capsys.readouterr().err
    assert not fake.stats.requests


async def test_unrecognised_hash_fails_its_row_only_and_is_never_quoted(
    fake: FakeClerk, api: AsyncClerk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = json.loads((EXAMPLES / "supabase" / "users.json").read_text())
    secret = "hunter2-plaintext-in-the-hash-column"
    rows[1]["encrypted_password"] = secret
    export = tmp_path / "users.json"
    export.write_text(json.dumps(rows))
    assert await cli(fake, str(export), "--from", "supabase") == 1  # a failed row, not exit 2
    captured = capsys.readouterr()
    failures = (tmp_path / "users.json.failures.jsonl").read_text()
    assert "matches no format Clerk accepts" in failures
    for shown in (captured.out, captured.err, failures):
        assert secret[:4] not in shown
    users = await users_by_external_id(api)
    assert len(users) == len(rows) - 1 and rows[1]["id"] not in users


# --------------------------------------------------------------------------- options and preview


async def test_metadata_placement_is_overridable(fake: FakeClerk, api: AsyncClerk) -> None:
    folder = EXAMPLES / "auth0"
    assert await cli(fake, str(folder / "users.ndjson"), "--from", "auth0", "--auth0-hashes",
                     str(folder / "password_hashes.ndjson"),
                     "--metadata", "user_metadata=public_metadata",
                     "--metadata", "app_metadata=none") == 0
    ana = (await users_by_external_id(api))["auth0|65f1c0ffee1234567890abcd"]
    assert ana.public_metadata == {"theme": "dark"}
    assert ana.unsafe_metadata == {} and ana.private_metadata == {}


async def test_dry_run_previews_rows_and_warning_counts_without_secrets(
    fake: FakeClerk, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = EXAMPLES / "auth0"
    assert await cli(fake, str(folder / "users.ndjson"), "--from", "auth0", "--dry-run",
                     "--auth0-hashes", str(folder / "password_hashes.ndjson")) == 0
    out = capsys.readouterr().out
    assert "auth0 export" in out and "4 users" in out
    assert '"password_digest": "<60 chars>"' in out and "$2b$10$" not in out
    assert "      1  not transferable: social login (google-oauth2)" in out
    assert "validated (dry run)" in out
    assert fake.store.users == {}


def test_read_source_gives_lazy_rows_with_warnings_for_bulk_create() -> None:
    reader = read_source(EXAMPLES / "authjs" / "users.json", "authjs")
    assert reader.count == 4
    records = list(reader.records())
    assert records[2].warnings == ("not transferable: social login (github)",
                                   "not transferable: profile image (upload it afterwards)")
    rows = list(reader)
    assert rows == [(r.number, r.row) for r in records] and "email_address" in rows[0][1]
    with pytest.raises(MigrationError, match="read_source: unknown source 'okta'"):
        read_source(EXAMPLES / "authjs" / "users.json", "okta")


def test_auth0_csv_export_strips_the_injection_guard(tmp_path: Path) -> None:
    export = tmp_path / "users.csv"
    export.write_text("user_id,email,email_verified,given_name,user_metadata\n"
                      "'auth0|abc,'ana@example.org,true,'Ana,\"'{\"\"a\"\": 1}\"\n")
    (record,) = read_source(export, "auth0").records()
    row: dict[str, Any] = record.row
    assert row["external_id"] == "auth0|abc" and row["email_address"] == ["ana@example.org"]
    assert row["first_name"] == "Ana" and row["unsafe_metadata"] == {"a": 1}
    assert "email_address_identification_status" not in row  # all verified


def test_authjs_csv_tables_with_an_accounts_file(tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text('id,name,email,"emailVerified",image,"createdAt"\n'
                     "u1,Ada Lovelace,ada@example.com,2024-01-01 10:00:00+00,,"
                     "2023-12-24T18:00:00Z\n"
                     "u2,Grace,grace@example.com,,,\n")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text('"userId",provider,"providerAccountId"\nu2,google,g-1\n')
    ada, grace = read_source(users, "authjs", accounts=accounts).records()
    assert ada.row["created_at"] == "2023-12-24T18:00:00.000Z"
    assert ada.warnings == ("no password hash and no OAuth account: email sign-in only",)
    assert grace.row["email_address_identification_status"] == ["reserved"]
    assert grace.warnings == ("unverified email imported as reserved",
                              "not transferable: social login (google)")
    accounts.write_text("user,provider\nu2,google\n")
    with pytest.raises(MigrationError, match="accounts: each account needs userId"):
        read_source(users, "authjs", accounts=accounts)


@pytest.mark.parametrize(("options", "message"), [
    ({"signer_key": "not base64!", "salt_separator": "Bw==", "rounds": 8, "mem_cost": 14},
     "--firebase-signer-key is not base64"),
    ({"signer_key": "Bw==", "salt_separator": "Bw==", "rounds": 0, "mem_cost": 14},
     "--firebase-rounds must be 1..64"),
    ({"signer_key": "Bw==", "salt_separator": "Bw==", "rounds": "eight", "mem_cost": 14},
     "are integers"),
    ({"rounds": 8}, "missing --firebase-signer-key, --firebase-salt-separator, "
     "--firebase-mem-cost"),
])
def test_firebase_parameters_are_checked_not_completed(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(MigrationError, match=message):
        read_source(EXAMPLES / "firebase" / "users.json", "firebase", **options)


@pytest.mark.parametrize(("stored", "message"), [
    ("$fbscrypt$v=1,n=16384,r=8,p=1,ss=Bw==,sk=a2V5$c2FsdA==$aGFzaA==",
     "$fbscrypt$ n=16384 must be Firebase's mem_cost exponent (<= 20)"),
    ("$fbscrypt$v=1,n=14,r=8,p=2,ss=Bw==,sk=a2V5$c2FsdA==$aGFzaA==",
     "$fbscrypt$ hash with p != 1 has no Clerk equivalent"),
    ("$fbscrypt$garbage", "malformed $fbscrypt$ hash"),
])
def test_supabase_fbscrypt_hashes_that_cannot_be_converted(
    tmp_path: Path, stored: str, message: str
) -> None:
    export = tmp_path / "users.json"
    export.write_text(json.dumps([{"id": "s1", "email": "s@example.io",
                                   "encrypted_password": stored}]))
    assert read_source(export, "supabase").problems == [(1, message)]


def test_exports_that_are_not_lists_of_users_are_refused(tmp_path: Path) -> None:
    for text, message in [('{\n"a": [], "b": []}', "expected a list of users"),
                          ("[1, 2]", "every user must be a JSON object"),
                          ('{"user_id": "auth0|1"}\nnot json\n', "line 2 is not JSON"),
                          ('{"user_id": "auth0|1"}\n[1]\n', "line 2 is not a JSON object")]:
        export = tmp_path / "users.json"
        export.write_text(text)
        with pytest.raises(MigrationError, match=message):
            read_source(export, "auth0")
    with pytest.raises(MigrationError, match="no such file"):
        read_source(tmp_path / "absent.json", "auth0")
    with pytest.raises(MigrationError, match="exports have no 'colour' to place"):
        read_source(EXAMPLES / "auth0" / "users.ndjson", "auth0", metadata={"colour": "none"})


def test_example_exports_are_what_the_committed_script_makes(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_exports",
                                                  EXAMPLES / "make_exports.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    # Bytecode caches are not exports: importing make_exports above writes one
    # whenever the interpreter writes bytecode (a newcomer's default).
    committed = sorted(p.relative_to(EXAMPLES) for p in EXAMPLES.rglob("*")
                       if p.is_file() and p.parent != EXAMPLES
                       and "__pycache__" not in p.parts)
    assert made == committed
    for name in made:
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name
