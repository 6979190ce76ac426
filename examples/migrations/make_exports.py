"""Write one small synthetic export per source into this folder.

    python examples/migrations/make_exports.py     # needs the `testing` extra

The people are invented; the formats are the real ones (see the README's
"Migrating to Clerk"). Hashes are made with the parameters each system
publishes (bcrypt cost 10, Firebase's published scrypt test parameters, ...)
from deterministic salts, so running the script again rewrites the same files.
Each source folder has ``passwords.json`` ({external id: plaintext}) so tests
can prove the passwords survived the migration.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import bcrypt
from argon2 import low_level
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = Path(__file__).resolve().parent

# firebase/scrypt's published test parameters (its README and tests/01-known-value.sh).
FIREBASE = {
    "signer_key": "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0Qs"
                  "EmYUSDzZvpjeJ9WmXA==",
    "salt_separator": "Bw==",
    "rounds": 8,
    "mem_cost": 14,
}
COGNITO = {"user_pool_id": "eu-west-1_Ex4mpl3Pl", "app_client_id": "3n4mpl3c1i3nt1d5f0rd0c5"}


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _seed(name: str, size: int) -> bytes:
    return hashlib.sha256(name.encode()).digest()[:size]


def bcrypt_hash(password: str, name: str, prefix: bytes = b"$2b$") -> str:
    # bcrypt's base64 is the standard one over a different alphabet.
    text = base64.b64encode(_seed(name, 16)).decode()[:22]
    salt = b"$2b$10$" + text.translate(str.maketrans(_B64, _BCRYPT64)).encode()
    digest = bcrypt.hashpw(password.encode(), salt).decode()
    return prefix.decode() + digest[4:]  # Go (Supabase) writes $2a$, the same algorithm


def argon2id_hash(password: str, name: str) -> str:
    return low_level.hash_secret(password.encode(), _seed(name, 16), time_cost=2,
                                 memory_cost=19456, parallelism=1, hash_len=32,
                                 type=low_level.Type.ID).decode()


def django_pbkdf2(password: str, name: str, iterations: int = 600_000) -> str:
    salt = base64.b64encode(_seed(name, 9), b"Ab").decode()
    raw = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(raw).decode()}"


def firebase_hash(password: str, salt_b64: str) -> str:
    b = base64.b64decode
    derived = hashlib.scrypt(password.encode(), salt=b(salt_b64) + b(FIREBASE["salt_separator"]),
                             n=2 ** FIREBASE["mem_cost"], r=FIREBASE["rounds"], p=1, dklen=64)
    enc = Cipher(algorithms.AES(derived[:32]), modes.CTR(bytes(16))).encryptor()
    return base64.b64encode(enc.update(b(FIREBASE["signer_key"])) + enc.finalize()).decode()


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_ndjson(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")


def auth0(folder: Path) -> None:
    people = [
        # user_id, email, verified, phone, given, family, password, extra
        ("65f1c0ffee1234567890abcd", "ana.ruiz@example.org", True, "+34600111222", "Ana",
         "Ruiz", "correct horse 1"),
        ("65f1c0ffee1234567890abce", "kofi.mensah@example.org", False, None, "Kofi", "Mensah",
         "Kumasi-Blue-22"),
    ]
    profiles, hashes, passwords = [], [], {}
    for oid, email, verified, phone, given, family, password in people:
        user_id = f"auth0|{oid}"
        profiles.append({
            "user_id": user_id, "email": email, "email_verified": verified,
            "username": given.lower() + family.lower(), "phone_number": phone,
            "phone_verified": False, "given_name": given, "family_name": family,
            "name": f"{given} {family}", "app_metadata": {"plan": "pro"},
            "user_metadata": {"theme": "dark"}, "blocked": False,
            "created_at": "2023-04-02T09:15:00.000Z",
            "identities": [{"connection": "Username-Password-Authentication",
                            "provider": "auth0", "user_id": oid, "isSocial": False}],
        })
        hashes.append({
            "_id": {"$oid": oid}, "email": email, "email_verified": verified,
            "passwordHash": bcrypt_hash(password, user_id),
            "password_set_date": {"$date": "2023-04-02T09:15:00.000Z"}, "tenant": "acme",
            "connection": "Username-Password-Authentication", "_tmp_is_unique": True,
        })
        passwords[user_id] = password
    # An API-created user: the hash file names it by alt_id.
    profiles.append({"user_id": "auth0|legacy-4471", "email": "ines.duarte@example.org",
                     "email_verified": True, "given_name": "Inês", "family_name": "Duarte",
                     "blocked": True, "created_at": "2021-01-20T12:00:00.000Z"})
    hashes.append({"_id": {"$oid": "65f1c0ffee1234567890abcf"}, "alt_id": "legacy-4471",
                   "passwordHash": bcrypt_hash("Lisboa#1755", "legacy"),
                   "connection": "Username-Password-Authentication"})
    passwords["auth0|legacy-4471"] = "Lisboa#1755"
    profiles.append({"user_id": "google-oauth2|109876543210", "email": "mei.tanaka@example.org",
                     "email_verified": True, "given_name": "Mei", "family_name": "Tanaka",
                     "created_at": "2024-02-01T08:00:00.000Z"})
    _write_ndjson(folder / "users.ndjson", profiles)
    _write_ndjson(folder / "password_hashes.ndjson", hashes)
    _write_json(folder / "passwords.json", passwords)


def firebase(folder: Path) -> None:
    people = [
        ("Zx8k2PqLmN3vR7tY1wE5", "li.wei@example.net", True, "Li Wei", "user1password",
         "42xEC+ixf3L2lw==", "+8613800138000", '{"role":"editor"}', []),
        ("Qa7Hc2Lk9Pm3Rt6Wy1Zb", "amara.obi@example.net", False, "Amara Obi", "hunter2",
         "42xEC+ixf3L2lw==", None, None, []),
        ("Lp4Ns8Vb2Xc6Mz1Qw9Ke", "jonas.berg@example.net", True, "Jonas Berg", None, None,
         None, None, [("google.com", "118877665544")]),
    ]
    users, passwords = [], {}
    for local_id, email, verified, display, password, salt, phone, claims, providers in people:
        user: dict[str, Any] = {"localId": local_id, "email": email, "emailVerified": verified,
                                "displayName": display, "createdAt": "1682899200000",
                                "lastSignedInAt": "1714550400000", "disabled": False}
        if password:
            user["passwordHash"], user["salt"] = firebase_hash(password, salt), salt
            passwords[local_id] = password
        if phone:
            user["phoneNumber"] = phone
        if claims:
            user["customAttributes"] = claims
        user["providerUserInfo"] = [{"providerId": p, "rawId": raw, "email": email,
                                     "displayName": display} for p, raw in providers]
        users.append(user)
    _write_json(folder / "users.json", {"users": users})
    # The same users as the header-less CSV: 28 columns plus a trailing comma.
    with open(folder / "users.csv", "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        for u in users:
            cells = [u["localId"], u["email"], str(u["emailVerified"]).lower(),
                     u.get("passwordHash", ""), u.get("salt", ""), u["displayName"], ""]
            for provider in ("google.com", "facebook.com", "twitter.com", "github.com"):
                info = next((p for p in u["providerUserInfo"] if p["providerId"] == provider),
                            None)
                cells += ([info["rawId"], info["email"], info["displayName"], ""] if info
                          else ["", "", "", ""])
            cells += [u["createdAt"], u["lastSignedInAt"], u.get("phoneNumber", ""),
                      str(u["disabled"]).lower(), u.get("customAttributes", ""), ""]
            out.writerow(cells)
    _write_json(folder / "hash_params.json", FIREBASE)
    _write_json(folder / "passwords.json", passwords)


def supabase(folder: Path) -> None:
    fb_salt = "c2FsdHlzdXBh"
    rows = [
        {"id": "9b2f6c1e-4a7d-4e0b-8f3a-2c5d7e9f1a3b", "email": "sam.okafor@example.io",
         "password": "Lagos-Sunrise-7", "hash": "bcrypt",
         "email_confirmed_at": "2024-06-29 20:25:06.126079+00", "phone": "447700900123",
         "phone_confirmed_at": None, "raw_user_meta_data": {"full_name": "Sam Okafor"},
         "raw_app_meta_data": {"provider": "email", "providers": ["email"]},
         "banned_until": None, "created_at": "2024-06-29 20:25:06.126079+00"},
        {"id": "0c4e8a2b-6d1f-4b3a-9e7c-5a2d4f6b8c0e", "email": "priya.nair@example.io",
         "password": "Kochi monsoon 9", "hash": "argon2id", "email_confirmed_at": None,
         "phone": None, "phone_confirmed_at": None,
         "raw_user_meta_data": {"name": "Priya Nair", "avatar": "p.png"},
         "raw_app_meta_data": {"provider": "email"}, "banned_until": "2099-01-01 00:00:00+00",
         "created_at": "2024-07-01 10:00:00+00"},
        {"id": "7d1a3c5e-9f2b-4d6a-8c0e-1b3d5f7a9c2e", "email": "tomas.novak@example.io",
         "password": "Brno!River!4", "hash": "fbscrypt",
         "email_confirmed_at": "2024-08-02 11:00:00+00", "phone": "420601123456",
         "phone_confirmed_at": "2024-08-02 11:05:00+00",
         "raw_user_meta_data": {"full_name": "Tomáš Novák"}, "raw_app_meta_data": {},
         "banned_until": None, "created_at": "2024-08-02 11:00:00+00"},
        {"id": "3e5a7c9b-1d2f-4a6c-8e0b-2d4f6a8c0e1b", "email": "lucia.greco@example.io",
         "password": None, "hash": None, "email_confirmed_at": "2024-09-09 09:09:09+00",
         "phone": None, "phone_confirmed_at": None,
         "raw_user_meta_data": {"full_name": "Lucia Greco", "provider_id": "g-55"},
         "raw_app_meta_data": {"provider": "google", "providers": ["google"]},
         "banned_until": None, "created_at": "2024-09-09 09:09:09+00"},
    ]
    passwords = {}
    for r in rows:
        password, kind = r.pop("password"), r.pop("hash")
        if kind == "bcrypt":
            r["encrypted_password"] = bcrypt_hash(password, r["id"], b"$2a$")
        elif kind == "argon2id":
            r["encrypted_password"] = argon2id_hash(password, r["id"])
        elif kind == "fbscrypt":
            r["encrypted_password"] = (
                f"$fbscrypt$v=1,n={FIREBASE['mem_cost']},r={FIREBASE['rounds']},p=1,"
                f"ss={FIREBASE['salt_separator']},sk={FIREBASE['signer_key']}"
                f"${fb_salt}${firebase_hash(password, fb_salt)}")
        else:
            r["encrypted_password"] = ""
        if password:
            passwords[r["id"]] = password
    columns = ["id", "email", "encrypted_password", "email_confirmed_at", "phone",
               "phone_confirmed_at", "raw_user_meta_data", "raw_app_meta_data", "banned_until",
               "created_at"]
    # As psql's \copy ... csv header writes it: JSON columns as text, NULL as empty.
    with open(folder / "users.csv", "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(columns)
        for r in rows:
            out.writerow(["" if r[c] is None else json.dumps(r[c], ensure_ascii=False)
                          if isinstance(r[c], dict) else r[c] for c in columns])
    _write_json(folder / "users.json", [{c: r[c] for c in columns} for r in rows])
    _write_json(folder / "passwords.json", passwords)


def authjs(folder: Path) -> None:
    users = [
        {"id": "clx9k2m0a0000qz8r1b2c3d4e", "name": "Maya Cohen", "email": "maya@example.com",
         "emailVerified": "2024-03-11T08:02:17.000Z", "image": None},
        {"id": "clx9k2m0a0001qz8r5f6g7h8i", "name": "Diego Alvarez",
         "email": "diego@example.com", "emailVerified": None, "image": None},
        {"id": "clx9k2m0a0002qz8r9j0k1l2m", "name": "Fatima Zahra",
         "email": "fatima@example.com", "emailVerified": "2024-04-01T10:00:00.000Z",
         "image": "https://example.com/f.png"},
        {"id": "clx9k2m0a0003qz8r3n4o5p6q", "name": "Oskar", "email": "oskar@example.com",
         "emailVerified": "2024-05-05T05:05:05.000Z", "image": None},
    ]
    passwords = {"clx9k2m0a0000qz8r1b2c3d4e": "Haifa-Bay-2024",
                 "clx9k2m0a0001qz8r5f6g7h8i": "Sevilla:naranja:8",
                 "clx9k2m0a0003qz8r3n4o5p6q": "Malmo Bridge 16"}
    # The app added a Credentials-provider column; each hash from a different library.
    users[0]["password"] = bcrypt_hash(passwords[users[0]["id"]], users[0]["id"])
    users[1]["password"] = argon2id_hash(passwords[users[1]["id"]], users[1]["id"])
    users[3]["password"] = django_pbkdf2(passwords[users[3]["id"]], users[3]["id"])
    accounts = [{"id": "acc_1", "userId": "clx9k2m0a0002qz8r9j0k1l2m", "type": "oauth",
                 "provider": "github", "providerAccountId": "5566778"}]
    _write_json(folder / "users.json", {"users": users, "accounts": accounts})
    _write_json(folder / "passwords.json", passwords)


def cognito(folder: Path) -> None:
    def user(username: str, attrs: dict[str, str], status: str = "CONFIRMED",
             enabled: bool = True) -> dict[str, Any]:
        return {"Username": username,
                "Attributes": [{"Name": k, "Value": v} for k, v in attrs.items()],
                "UserCreateDate": "2022-11-05T14:20:31.512000+00:00",
                "UserLastModifiedDate": "2023-01-05T10:00:00.000000+00:00",
                "Enabled": enabled, "UserStatus": status}

    users = [
        user("5f3c2a10-7b8e-4c61-9d2f-0a1b2c3d4e5f", {
            "sub": "5f3c2a10-7b8e-4c61-9d2f-0a1b2c3d4e5f", "email": "omar@example.com",
            "email_verified": "true", "phone_number": "+14155550123",
            "phone_number_verified": "false", "given_name": "Omar", "family_name": "Haddad",
            "custom:tier": "gold"}),
        user("8a9b0c1d-2e3f-4a5b-6c7d-8e9f0a1b2c3d", {
            "sub": "8a9b0c1d-2e3f-4a5b-6c7d-8e9f0a1b2c3d", "email": "hana@example.com",
            "email_verified": "false", "given_name": "Hana", "family_name": "Kim"},
            enabled=False),
        user("Google_1029384756", {
            "sub": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f", "email": "rafael@example.com",
            "email_verified": "true", "given_name": "Rafael"}, status="EXTERNAL_PROVIDER"),
    ]
    _write_json(folder / "users.json", users)
    _write_json(folder / "cognito.json", COGNITO)
    # Clerk asks Cognito at first sign-in; these are the passwords Cognito holds.
    _write_json(folder / "passwords.json", {"5f3c2a10-7b8e-4c61-9d2f-0a1b2c3d4e5f": "Beirut-1987",
                                           "8a9b0c1d-2e3f-4a5b-6c7d-8e9f0a1b2c3d": "Seoul 2 Busan"})


def clerk(folder: Path) -> None:
    columns = ["id", "first_name", "last_name", "username", "primary_email_address",
               "primary_phone_number", "verified_email_addresses", "unverified_email_addresses",
               "verified_phone_numbers", "unverified_phone_numbers", "totp_secret",
               "password_digest", "password_hasher"]
    rows = [
        ["user_2kQ8vX1bT9mN4pR7sW3yZ6aD0fG", "Noa", "Levi", "noalevi", "noa@example.com",
         "+972501234567", "noa@example.com", "noa.old@example.com", "+972501234567", "",
         "JBSWY3DPEHPK3PXP", bcrypt_hash("Tel-Aviv-Sea-3", "noa"), "bcrypt"],
        ["user_2kQ8vX1bT9mN4pR7sW3yZ6aD0fH", "Erik", "Lund", "", "erik@example.com", "",
         "erik@example.com", "", "", "", "", django_pbkdf2("Oslo fjord 12", "erik", 1000),
         "pbkdf2_sha256_django"],
        ["user_2kQ8vX1bT9mN4pR7sW3yZ6aD0fJ", "Zanele", "Dube", "", "zanele@example.com", "",
         "zanele@example.com", "", "", "", "", "", ""],
    ]
    with open(folder / "users.csv", "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(columns)
        out.writerows(rows)
    _write_json(folder / "passwords.json", {
        "user_2kQ8vX1bT9mN4pR7sW3yZ6aD0fG": "Tel-Aviv-Sea-3",
        "user_2kQ8vX1bT9mN4pR7sW3yZ6aD0fH": "Oslo fjord 12"})


def django(folder: Path) -> None:
    # `manage.py dumpdata auth.User --indent 2`: one object per user, columns under
    # "fields", each password in the format of the hasher Django used for it.
    def sha1_hash(password: str, name: str) -> str:  # PBKDF2SHA1PasswordHasher
        salt = base64.b64encode(_seed(name, 9), b"Ab").decode()
        raw = hashlib.pbkdf2_hmac("sha1", password.encode(), salt.encode(), 100_000)
        return f"pbkdf2_sha1$100000${salt}${base64.b64encode(raw).decode()}"

    def bcrypt_sha256(password: str, name: str) -> str:  # BCryptSHA256PasswordHasher
        return "bcrypt_sha256$" + bcrypt_hash(hashlib.sha256(password.encode()).hexdigest(), name)

    people = [  # (pk, username, first, last, email, password, hasher, is_active)
        (1, "amina", "Amina", "Yusuf", "amina@example.org", "Kano-Market-7", django_pbkdf2, True),
        (2, "bjorn", "Björn", "Lund", "bjorn@example.org", "Malmö 2011", bcrypt_sha256, True),
        (3, "chen", "Chen", "Jie", "chen.jie@example.org", "Chengdu#panda",
         lambda pw, name: "argon2" + argon2id_hash(pw, name), True),
        (4, "dara", "Dara", "Walsh", "dara@example.org", "Galway-Bay-4", sha1_hash, False),
    ]
    users = [{"model": "auth.user", "pk": pk, "fields": {
        "password": hasher(password, f"django-{pk}"), "last_login": "2024-02-01T09:00:00Z",
        "is_superuser": False, "username": username, "first_name": first, "last_name": last,
        "email": email, "is_staff": False, "is_active": active,
        "date_joined": f"2022-0{pk}-15T10:30:00.123Z", "groups": [], "user_permissions": []}}
        for pk, username, first, last, email, password, hasher, active in people]
    # A user who only ever signed in through SSO: set_unusable_password() writes "!" + 40.
    users.append({"model": "auth.user", "pk": 5, "fields": {
        "password": "!" + base64.b64encode(_seed("django-5", 30)).decode(),
        "last_login": None, "is_superuser": False, "username": "emeka", "first_name": "Emeka",
        "last_name": "Obi", "email": "emeka@example.org", "is_staff": False, "is_active": True,
        "date_joined": "2023-01-02T03:04:05Z", "groups": [], "user_permissions": []}})
    _write_json(folder / "auth_user.json", users)
    _write_json(folder / "passwords.json", {str(p[0]): p[5] for p in people})


def main(target: Path = HERE) -> None:
    for make in (auth0, firebase, supabase, authjs, cognito, clerk, django):
        folder = target / make.__name__
        folder.mkdir(exist_ok=True)
        make(folder)
        print(f"wrote {folder}")


if __name__ == "__main__":
    main()
