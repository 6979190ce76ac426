"""Migrations from exports shaped as the providers' own tools write them.

Every fixture here is written for this file from the provider's documentation
or the exporter's source (named next to it), not taken from
``examples/migrations``; the examples are the project's own and could share
its blind spots.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import test_migrate as shared

from clerk_async import AsyncClerk, UnprocessableEntityError
from clerk_async.migrate import MigrationError, read_source
from clerk_async.migrate._hashes import by_content
from clerk_async.testing import FakeClerk

# The older migration tests' fixtures (FakeClerk on loopback, a client of it) and
# their in-process ``clerk-users import``.
fake, api, cli = shared.fake, shared.api, shared.cli

FIREBASE_PARAMS = {"signer_key": "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUE"
                   "CKbm0QsEmYUSDzZvpjeJ9WmXA==", "salt_separator": "Bw==", "rounds": 8,
                   "mem_cost": 14}


def write(path: Path, records: list[dict[str, Any]] | str) -> Path:
    path.write_text(records if isinstance(records, str) else json.dumps(records))
    return path


def only(path: Path, source: str, **options: Any) -> Any:
    (record,) = read_source(path, source, **options).records()  # type: ignore[call-overload]
    return record


# --------------------------------------------------------------------------- Cognito


# The shape of AWS's own ListUsers response example (cognito-idp API reference):
# UserCreateDate/UserLastModifiedDate are JSON numbers, epoch seconds with a fraction.
COGNITO_USER = {
    "Username": "22704aa3-fc10-479a-97eb-2af5806bd327",
    "Attributes": [{"Name": "sub", "Value": "22704aa3-fc10-479a-97eb-2af5806bd327"},
                   {"Name": "email_verified", "Value": "true"},
                   {"Name": "name", "Value": "Carlos Salazar"},
                   {"Name": "email", "Value": "carlos@example.com"}],
    "UserCreateDate": 1682955829.578,
    "UserLastModifiedDate": 1689030181.63,
    "Enabled": True,
    "UserStatus": "CONFIRMED",
}
COGNITO = {"user_pool_id": "us-east-1_EXAMPLE", "app_client_id": "1example23456789"}


def test_cognito_create_date_is_epoch_seconds_and_name_is_mapped(tmp_path: Path) -> None:
    record = only(write(tmp_path / "users.json", [COGNITO_USER]), "cognito", **COGNITO)
    assert record.row["created_at"] == "2023-05-01T15:43:49.578Z"  # not January 1970
    assert (record.row["first_name"], record.row["last_name"]) == ("Carlos", "Salazar")


def test_cognito_admin_get_user_and_given_family_names(tmp_path: Path) -> None:
    # AdminGetUser names the list UserAttributes; given_name/family_name win over name.
    user = {"Username": "ana", "UserCreateDate": "2022-11-05T14:20:31.512000+00:00",
            "UserAttributes": [{"Name": "sub", "Value": "s-1"},
                               {"Name": "email", "Value": "ana@example.com"},
                               {"Name": "name", "Value": "Ana Maria Ruiz"},
                               {"Name": "given_name", "Value": "Ana Maria"},
                               {"Name": "family_name", "Value": "Ruiz"}],
            "Enabled": True, "UserStatus": "CONFIRMED"}
    record = only(write(tmp_path / "users.json", [user]), "cognito", **COGNITO)
    assert (record.row["first_name"], record.row["last_name"]) == ("Ana Maria", "Ruiz")
    assert record.row["created_at"] == "2022-11-05T14:20:31.512Z"


# ------------------------------------------------------------- skipped rows and the summary


# Supabase auth.users columns (supabase/auth migrations): is_anonymous (2024),
# deleted_at (soft delete; the email is obfuscated), raw_user_meta_data.display_name
# (what Studio shows and writes).
SUPABASE_ROWS = [
    {"id": "5e2b1c9a-0000-4000-8000-000000000001", "aud": "authenticated",
     "email": "nadia@example.io", "encrypted_password": "", "email_confirmed_at":
     "2024-06-29 20:25:06.126079+00", "phone": None, "raw_user_meta_data":
     {"display_name": "Nadia Haddad"}, "raw_app_meta_data": {"provider": "github",
                                                              "providers": ["github"]},
     "created_at": "2024-06-29 20:25:06.126079+00", "is_anonymous": False, "deleted_at": None},
    {"id": "5e2b1c9a-0000-4000-8000-000000000002", "aud": "authenticated", "email": None,
     "encrypted_password": None, "raw_user_meta_data": {}, "raw_app_meta_data": {},
     "created_at": "2024-07-01 10:00:00+00", "is_anonymous": True, "deleted_at": None},
    {"id": "5e2b1c9a-0000-4000-8000-000000000003", "aud": "authenticated",
     "email": "deleted-5e2b1c9a@example.invalid", "encrypted_password": "",
     "raw_user_meta_data": {}, "raw_app_meta_data": {}, "created_at": "2024-07-02 10:00:00+00",
     "is_anonymous": False, "deleted_at": "2024-08-01 10:00:00+00"},
    # A magic-link user: the JSON record has no encrypted_password key at all.
    {"id": "5e2b1c9a-0000-4000-8000-000000000004", "aud": "authenticated",
     "email": "olu@example.io", "email_confirmed_at": None, "raw_user_meta_data":
     {"full_name": "Olu Bello"}, "raw_app_meta_data": {"provider": "email"},
     "created_at": "2024-07-03 10:00:00+00"},
]


async def test_skipped_rows_and_what_was_not_carried_end_every_run(
    fake: FakeClerk, api: AsyncClerk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write(tmp_path / "users.json", SUPABASE_ROWS)
    assert await cli(fake, str(export), "--from", "supabase") == 0
    out = capsys.readouterr().out
    users = {u.external_id: u async for u in api.users.iter()}
    assert set(users) == {SUPABASE_ROWS[0]["id"], SUPABASE_ROWS[3]["id"]}
    nadia = users[SUPABASE_ROWS[0]["id"]]
    assert (nadia.first_name, nadia.last_name) == ("Nadia", "Haddad")
    # A real run (not only --dry-run) ends with the table.
    assert "not carried (users):" in out
    assert "      1  social login (github)" in out
    assert "      1  anonymous: no email or phone number" in out
    assert "      1  deleted in Supabase (deleted_at set)" in out
    reader = read_source(export, "supabase")
    assert reader.not_carried() == {
        "not transferable": {"social login (github)": 1},
        "must reset password": {},
        "skipped": {"anonymous: no email or phone number": 1,
                    "deleted in Supabase (deleted_at set)": 1}}
    # A library caller gets the same table on the report bulk_create returns.
    fresh = read_source(export, "supabase")
    report = await api.users.bulk_create(fresh)
    assert report.not_carried == fresh.not_carried() == reader.not_carried()
    # --json carries the same table for machines (the rerun finds the users there).
    assert await cli(fake, str(export), "--from", "supabase", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["report"]["not_carried"] == reader.not_carried()
    assert summary["report"]["existed"] == 2


# firebase-tools accountExporter.ts (JSON): providerUserInfo entries, and newer exports
# carry mfaInfo (phoneInfo / totpInfo enrolments, identitytoolkit's MfaEnrollment).
FIREBASE_USERS = {"users": [
    {"localId": "mfaUser0000000000001", "email": "kim@example.net", "emailVerified": True,
     "passwordHash": "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZil"
     "o78198JAdRuid5lQ==", "salt": "42xEC+ixf3L2lw==", "createdAt": "1682899200000",
     "mfaInfo": [{"mfaEnrollmentId": "e1", "displayName": "phone", "phoneInfo": "+15555550100",
                  "enrolledAt": "2024-01-01T00:00:00Z"},
                 {"mfaEnrollmentId": "e2", "totpInfo": {}, "enrolledAt": "2024-01-02T00:00:00Z"}]},
    {"localId": "msUser00000000000002", "email": "ola@example.net", "emailVerified": True,
     "providerUserInfo": [{"providerId": "microsoft.com", "rawId": "ms-1",
                           "email": "ola@example.net"}], "createdAt": "1682899200000"},
    {"localId": "anon0000000000000003", "createdAt": "1682899200000"},
]}


def test_firebase_mfa_social_and_anonymous_are_counted(tmp_path: Path) -> None:
    reader = read_source(write(tmp_path / "users.json", FIREBASE_USERS), "firebase",
                         **FIREBASE_PARAMS)
    assert reader.not_carried() == {
        "not transferable": {"MFA enrolment (SMS)": 1, "MFA enrolment (TOTP)": 1,
                             "social login (microsoft.com)": 1},
        "must reset password": {},
        "skipped": {"anonymous: no email or phone number": 1}}


# --------------------------------------------------------------------------- Firebase CSV layouts


# firebase/scrypt README's sample line: firebase-tools before August 2018 wrote
# disabled (23), createdAt (24), lastLoginAt (25), phoneNumber (26) and a trailing comma.
FIREBASE_2017_CSV = (
    "kYi4EvWQlQTKSfnJ3dRSP6IH3ed2,user1@test.com,false,lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qz"
    "rCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==,42xEC+ixf3L2lw==,Test User 1,"
    + "," * 18 + "1508893925000,1508893925000,,\n")
# The current layout (accountExporter.ts transUserToArray): createdAt (23), lastLoginAt
# (24), phoneNumber (25), disabled (26), customAttributes (27), then a provider id in a
# further column (newer versions), then the trailing comma.
FIREBASE_NOW_CSV = (
    "Qa7Hc2Lk9Pm3Rt6Wy1Zb,amara@example.net,true,,,Amara Obi,," + "," * 16
    + "1682899200000,1714550400000,+2348012345678,false,\"{\"\"role\"\":\"\"admin\"\"}\","
    "microsoft.com,\n")


def test_firebase_csv_layouts_are_told_apart_by_content(tmp_path: Path) -> None:
    old = only(write(tmp_path / "old.csv", FIREBASE_2017_CSV), "firebase", **FIREBASE_PARAMS)
    assert old.row["created_at"] == "2017-10-25T01:12:05.000Z"
    assert "phone_number" not in old.row  # the last sign-in is no phone number
    assert old.row["password_hasher"] == "scrypt_firebase"
    now = only(write(tmp_path / "now.csv", FIREBASE_NOW_CSV), "firebase")
    assert now.row["phone_number"] == ["+2348012345678"]
    assert now.row["private_metadata"] == {"role": "admin"}
    assert now.warnings == ("not transferable: social login (microsoft.com)",)
    bad = write(tmp_path / "bad.csv", "a,b,c\n")
    with pytest.raises(MigrationError, match="3 cells in no layout firebase-tools writes"):
        read_source(bad, "firebase")


# --------------------------------------------------------------------------- Auth.js and Auth0


def test_authjs_prisma_snake_case_and_mongodb_exports(tmp_path: Path) -> None:
    # authjs.dev "Prisma" naming-convention section: @map("email_verified"), user_id.
    snake = write(tmp_path / "users.json", {
        "users": [{"id": "ck1", "name": "Ray Ito", "email": "ray@example.com",
                   "email_verified": "2024-03-11T08:02:17.000Z", "image": None}],
        "accounts": [{"id": "a1", "user_id": "ck1", "type": "oauth", "provider": "google",
                      "provider_account_id": "g-7"}]})
    ray = only(snake, "authjs")
    assert ray.row["email_address"] == ["ray@example.com"]
    assert "email_address_identification_status" not in ray.row  # verified
    assert ray.warnings == ("not transferable: social login (google)",)
    # @auth/mongodb-adapter documents as mongoexport writes them (extended JSON).
    mongo = write(tmp_path / "mongo.json", "\n".join(json.dumps(d) for d in [
        {"_id": {"$oid": "65f1c0ffee1234567890abcd"}, "name": "Lea Roth",
         "email": "lea@example.com", "emailVerified": {"$date": "2024-05-01T10:00:00.000Z"}},
        {"_id": {"$oid": "65f1c0ffee1234567890abce"}, "name": "Kai", "email": "kai@example.com",
         "emailVerified": None, "createdAt": {"$date": {"$numberLong": "1714557600000"}}}]))
    lea, kai = read_source(mongo, "authjs").records()
    assert lea.row["external_id"] == "65f1c0ffee1234567890abcd"
    assert kai.row["created_at"] == "2024-05-01T10:00:00.000Z"
    assert kai.row["email_address_identification_status"] == ["reserved"]


# auth0-extensions/auth0-user-import-export-extension: the export's default columns.
AUTH0_EXTENSION_CSV = (
    "Id,Nickname,Name,Given Name,Family Name,Email,Email Verified,Created At,Updated At\n"
    "auth0|5f7c8ec7c33c6c004bbafe82,maria,Maria Lopez,Maria,Lopez,maria@example.com,true,"
    "2020-10-06T15:30:15.123Z,2021-01-01T00:00:00.000Z\n"
    "google-oauth2|1057,tom,Tom Berg,,,tom@example.com,false,2021-02-03T04:05:06.000Z,\n")


def test_auth0_import_export_extension_layout(tmp_path: Path) -> None:
    maria, tom = read_source(write(tmp_path / "users.csv", AUTH0_EXTENSION_CSV),
                             "auth0").records()
    assert maria.row["external_id"] == "auth0|5f7c8ec7c33c6c004bbafe82"
    assert (maria.row["first_name"], maria.row["last_name"]) == ("Maria", "Lopez")
    assert maria.row["created_at"] == "2020-10-06T15:30:15.123Z"
    assert maria.warnings == ("must reset password: no password hash",)
    assert (tom.row["first_name"], tom.row["last_name"]) == ("Tom", "Berg")
    assert tom.row["email_address_identification_status"] == ["reserved"]
    # Its JSON export carries the same title-cased fields, booleans as JSON.
    as_json = [{"Id": "auth0|abc", "Email": "jo@example.com", "Email Verified": True,
                "Given Name": "Jo", "Created At": "2020-10-06T15:30:15.123Z"}]
    jo = only(write(tmp_path / "users.json", as_json), "auth0")
    assert (jo.row["external_id"], jo.row["first_name"]) == ("auth0|abc", "Jo")


def test_an_unknown_layout_is_refused_naming_what_was_expected(tmp_path: Path) -> None:
    export = write(tmp_path / "users.json", [{"uid": "1", "mail": "a@example.com"}])
    with pytest.raises(MigrationError, match=r"expected the adapter's users table \(id or _id"):
        read_source(export, "authjs")


# --------------------------------------------------------------------------- hash routing


def _django_hash(path: str, password: str, salt: str | None = None,
                 iterations: int | None = None) -> str:
    from django.utils.module_loading import import_string

    hasher = import_string(f"django.contrib.auth.hashers.{path}")()
    if iterations is not None:
        hasher.iterations = iterations
    if "BCrypt" in path:
        import bcrypt

        return str(hasher.encode(password, bcrypt.gensalt(4)))
    if "Argon2" in path:
        hasher.time_cost, hasher.memory_cost, hasher.parallelism = 1, 64, 1
    return str(hasher.encode(password, salt or hasher.salt()))


def _werkzeug_pbkdf2(password: str) -> str:
    # werkzeug.security.generate_password_hash(method="pbkdf2:sha256:1000")'s format.
    raw = hashlib.pbkdf2_hmac("sha256", password.encode(), b"w3rkSalt", 1000)
    return f"pbkdf2:sha256:1000$w3rkSalt${raw.hex()}"


def stored_hashes(password: str) -> dict[str, tuple[str, str]]:
    """Stored value → the Clerk hasher it must route to, made by each system's own code."""
    return {
        "Django PBKDF2": (_django_hash("PBKDF2PasswordHasher", password, "s4lt", 1000),
                          "pbkdf2_sha256_django"),
        "Django PBKDF2 SHA1": (_django_hash("PBKDF2SHA1PasswordHasher", password, "s4lt", 1000),
                               "pbkdf2_sha1"),
        "Django bcrypt_sha256": (_django_hash("BCryptSHA256PasswordHasher", password),
                                 "bcrypt_sha256_django"),
        "Django bcrypt": (_django_hash("BCryptPasswordHasher", password), "bcrypt"),
        "Django argon2": (_django_hash("Argon2PasswordHasher", password), "argon2id"),
        "Django salted md5": (_django_hash("MD5PasswordHasher", password, "s4lt"),
                              "md5_salted"),
        # UnsaltedMD5PasswordHasher (removed in Django 5.1) wrote "unsalted_md5$$<hex>".
        "Django unsalted md5": ("unsalted_md5$$" + hashlib.md5(password.encode()).hexdigest(),
                                "md5"),
        "werkzeug pbkdf2": (_werkzeug_pbkdf2(password), "pbkdf2_sha256"),
        # openwall phpass test vector for "test12345"
        "phpass": ("$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0", "phpass"),
    }


def test_hashes_route_by_content_and_verify_in_the_fake() -> None:
    from clerk_async.testing._hashers import check_digest

    for origin, (stored, hasher) in stored_hashes("test12345").items():
        routed, digest = by_content(stored)
        assert routed == hasher, origin
        assert check_digest(routed, digest, "test12345")[0] == "verified", origin
        assert check_digest(routed, digest, "test12346")[0] == "mismatch", origin


def test_password_hasher_option_forces_one_and_is_checked(tmp_path: Path) -> None:
    export = write(tmp_path / "users.json", [{"id": "u1", "email": "a@example.io",
                                              "encrypted_password": "5f4dcc3b5aa765d61d8327de"
                                              "b882cf99"}])
    assert read_source(export, "supabase").problems[0][1].startswith(
        "password hash matches no format")
    record = only(export, "supabase", password_hasher="md5")
    assert record.row["password_hasher"] == "md5"
    with pytest.raises(MigrationError, match="'md6' is not a Clerk hasher"):
        read_source(export, "supabase", password_hasher="md6")


async def test_password_hasher_flag_belongs_to_mixed_hash_sources(
    fake: FakeClerk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write(tmp_path / "users.json", [{"user_id": "auth0|1", "email": "a@example.org"}])
    assert await cli(fake, str(export), "--from", "auth0", "--password-hasher", "md5") == 2
    assert ("--password-hasher is an option of --from supabase or authjs or django"
            in capsys.readouterr().err)
    assert not fake.stats.requests


def test_read_source_names_itself_and_the_bad_option(tmp_path: Path) -> None:
    export = write(tmp_path / "users.json", SUPABASE_ROWS)
    with pytest.raises(MigrationError, match=r"read_source: source 'supabase' has no option "
                       r"'auth0_hashes' \(it takes: metadata, encoding, password_hasher\)"):
        read_source(export, "supabase", auth0_hashes="x")  # type: ignore[call-overload]


# --------------------------------------------------------------------------- Django


def django_export(tmp_path: Path, password: str) -> tuple[Path, dict[str, str]]:
    """``manage.py dumpdata auth.User`` output (Django serialization docs' JSON shape)."""
    hashes = stored_hashes(password)
    fields, origins = [], {}
    for pk, (origin, (stored, _)) in enumerate(hashes.items(), 1):
        if not origin.startswith("Django"):
            continue
        origins[str(pk)] = origin
        fields.append({"model": "auth.user", "pk": pk, "fields": {
            "password": stored, "last_login": None, "is_superuser": False,
            "username": f"user{pk}", "first_name": "Ada", "last_name": f"Nr{pk}",
            "email": f"user{pk}@example.org", "is_staff": False, "is_active": pk != 2,
            "date_joined": "2021-03-04T05:06:07.890Z", "groups": [], "user_permissions": []}})
    fields.append({"model": "auth.user", "pk": 99, "fields": {
        "password": "!Xq3unusablePasswordFromSetUnusable", "last_login": None,
        "username": "sso-only", "first_name": "", "last_name": "", "email": "sso@example.org",
        "is_active": True, "date_joined": "2022-01-01T00:00:00Z"}})
    return write(tmp_path / "auth_user.json", fields), origins


async def test_django_dumpdata_end_to_end_through_the_cli(
    fake: FakeClerk, api: AsyncClerk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    password = "Zürich-4-o'clock"
    export, origins = django_export(tmp_path, password)
    assert await cli(fake, str(export), "--from", "django") == 0
    out = capsys.readouterr().out
    users = {u.external_id: u async for u in api.users.iter()}
    assert len(users) == 8
    for pk, origin in origins.items():
        user = users[pk]
        assert (await api.users.verify_password(user.id, password)).verified, origin
        with pytest.raises(UnprocessableEntityError):
            await api.users.verify_password(user.id, password + "!")
    assert users["2"].banned and not users["1"].banned  # is_active=False
    assert users["1"].created_at == 1614834367890
    assert users["1"].username == "user1"
    assert not users["99"].password_enabled
    assert "      1  unusable or empty password in Django" in out


def test_django_auth_user_csv_and_a_custom_user_model(tmp_path: Path) -> None:
    # psql \copy auth_user to ... csv header: booleans as t/f, Postgres timestamps.
    csv_export = write(tmp_path / "auth_user.csv",
                       "id,password,last_login,is_superuser,username,first_name,last_name,"
                       "email,is_staff,is_active,date_joined\n"
                       "7,,,f,jo,Jo,Kim,jo@example.org,f,f,2020-01-02 03:04:05.123456+00\n")
    jo = only(csv_export, "django")
    assert jo.row["banned"] is True and jo.row["created_at"] == "2020-01-02T03:04:05.123Z"
    # A custom AbstractBaseUser model: USERNAME_FIELD = "email_address", joined_on.
    custom = write(tmp_path / "accounts_user.json", [
        {"model": "accounts.user", "pk": 3, "fields": {
            "password": "", "email_address": "lu@example.org", "joined_on": "2020-05-06",
            "active": True}}])
    lu = only(custom, "django", fields={"email": "email_address", "date_joined": "joined_on",
                                        "is_active": "active"})
    assert lu.row["email_address"] == ["lu@example.org"] and "banned" not in lu.row
    with pytest.raises(MigrationError, match="'mail' is not one of id, password"):
        read_source(custom, "django", fields={"mail": "x"})


async def test_django_custom_user_model_through_the_cli(
    fake: FakeClerk, api: AsyncClerk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write(tmp_path / "users.csv", "pk,password,email_address,active,joined_on\n"
                   "4," + _django_hash("PBKDF2PasswordHasher", "pw-4", "s4lt", 1000)
                   + ",mo@example.org,t,2020-05-06 07:08:09+00\n")
    assert await cli(fake, str(export), "--from", "django", "--django-field", "id=pk",
                     "--django-field", "email=email_address", "--django-field", "is_active=active",
                     "--django-field", "date_joined=joined_on", "--django-unverified-emails") == 0
    (user,) = [u async for u in api.users.iter()]
    assert user.external_id == "4" and user.email_addresses[0].reserved
    assert (await api.users.verify_password(user.id, "pw-4")).verified
    assert await cli(fake, str(export), "--from", "auth0", "--django-field", "id=pk") == 2
    assert "--django-field is an option of --from django" in capsys.readouterr().err


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("value", "why"), [
    (float("nan"), "created_at is not a timestamp in epoch ms: nan"),
    (float("inf"), "created_at is not a timestamp in epoch ms: inf"),
    (1e20, "created_at is not a timestamp in epoch ms: 1e+20"),
    (True, "created_at is not a timestamp: True"),
])
def test_bad_dates_fail_their_row(tmp_path: Path, value: Any, why: str) -> None:
    rows = [{"user_id": "auth0|1", "email": "a@example.org", "created_at": value},
            {"user_id": "auth0|2", "email": "b@example.org"}]
    reader = read_source(write(tmp_path / "users.json", rows), "auth0")
    assert reader.problems == [(1, why)]
    assert [number for number, row in reader if isinstance(row, dict)] == [2]


@pytest.mark.parametrize(("field", "value", "why"), [
    ("email", ["a@example.org"], "email is a list, expected text"),
    ("given_name", {"first": "A"}, "given_name is a dict, expected text"),
])
def test_values_of_the_wrong_type_are_not_coerced(
    tmp_path: Path, field: str, value: Any, why: str
) -> None:
    row = {"user_id": "auth0|1", "email": "a@example.org", field: value}
    assert read_source(write(tmp_path / "u.json", [row]), "auth0").problems == [(1, why)]


def test_null_hash_is_no_hash(tmp_path: Path) -> None:
    row = {"id": "u1", "name": "A", "email": "a@example.com", "emailVerified": None,
           "password": None}
    record = only(write(tmp_path / "u.json", [row]), "authjs")
    assert "password_digest" not in record.row and record.row["skip_password_requirement"]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("u.json", b'[{"user_id": "auth0|1", "email": "a@exa', "not valid JSON"),
    ("u.csv", b"user_id,email\nauth0|1,caf\xe9@example.org\n", "not utf-8-sig text"),
    ("u.csv", b"user_id,email\nauth0|1," + b"x" * (132 * 1024) + b"\n", "not readable as CSV"),
])
async def test_damaged_files_are_refused_with_exit_2_not_a_traceback(
    fake: FakeClerk, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
    content: bytes, message: str
) -> None:
    export = tmp_path / name
    export.write_bytes(content)
    assert await cli(fake, str(export), "--from", "auth0") == 2
    assert message in capsys.readouterr().err
    assert not fake.store.users


def test_metadata_none_never_parses_the_field(tmp_path: Path) -> None:
    # firebase-tools wraps customAttributes in quotes it does not always escape.
    line = FIREBASE_NOW_CSV.replace('"{""role"":""admin""}"', "{role:admin}")
    export = write(tmp_path / "users.csv", line)
    assert read_source(export, "firebase").problems == [(1, "customAttributes is not JSON")]
    record = only(export, "firebase", metadata={"customAttributes": "none"})
    assert "private_metadata" not in record.row


async def test_dry_run_lists_the_records_that_will_fail(
    fake: FakeClerk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"user_id": "auth0|1", "email": "a@example.org", "created_at": True},
            {"user_id": "auth0|2", "email": "b@example.org"}]
    export = write(tmp_path / "users.json", rows)
    assert await cli(fake, str(export), "--from", "auth0", "--dry-run") == 1
    out = capsys.readouterr().out
    assert "records that will fail (1):\n  record 1: created_at is not a timestamp: True" in out
    assert re.search(r"validated \(dry run\) +1\n", out) and not fake.store.users


@pytest.mark.parametrize("on_exists", ["skip", "update", "error"])
async def test_two_accounts_sharing_an_email_are_a_conflict_not_a_merge(
    fake: FakeClerk, api: AsyncClerk, tmp_path: Path, on_exists: str
) -> None:
    rows = [{"user_id": "auth0|first", "email": "Sam@example.org", "email_verified": True},
            {"user_id": "google-oauth2|second", "email": "sam@example.org",
             "email_verified": True}]
    export = write(tmp_path / "users.json", rows)
    assert await cli(fake, str(export), "--from", "auth0", "--on-exists", on_exists) == 1
    users = [u async for u in api.users.iter()]
    assert [u.external_id for u in users] == ["auth0|first"]
    failures = (tmp_path / "users.json.failures.jsonl").read_text()
    assert ("google-oauth2|second: conflict: shares its email address with record 1 "
            "(auth0|first)") in failures
