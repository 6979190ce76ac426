"""Generate the sample import files ``users.jsonl`` (300 users) and ``users.csv`` (50).

Deterministic: the same seed always writes the same bytes, so the files can
be regenerated and diffed. Every user is synthetic (``example.com`` /
``example.org`` emails, 555 phone numbers, made-up bcrypt digests).

    python examples/make_users.py [--jsonl N] [--csv N] [--seed S] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import string
from pathlib import Path
from typing import Any

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia",
         "Tim", "Margaret", "John", "Hedy", "Linus", "Sophie", "Guido", "Katherine", "Dennis",
         "Leslie", "Shafi", "Yukihiro", "Anita", "Niklaus", "Lynn", "Bjarne", "Mary"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
        "Perlman", "Berners-Lee", "Hamilton", "McCarthy", "Lamarr", "Torvalds", "Wilson",
        "van Rossum", "Johnson", "Ritchie", "Lamport", "Goldwasser", "Matsumoto", "Borg",
        "Wirth", "Conway", "Stroustrup", "Keller"]
PLANS = ["free", "starter", "pro", "enterprise"]
SOURCES = ["web", "ios", "android", "partner", "import"]
LOCALES = ["en-US", "en-GB", "fr-FR", "de-DE", "ja-JP", "pt-BR"]
_BCRYPT_ALPHABET = "./" + string.ascii_letters + string.digits


def _bcrypt_digest(rng: random.Random) -> str:
    # Shaped like a real bcrypt hash ($2b$, cost, 22-char salt + 31-char hash);
    # it is random, so no password matches it.
    cost = rng.choice(["10", "12"])
    return f"$2b${cost}$" + "".join(rng.choices(_BCRYPT_ALPHABET, k=53))


def make_user(rng: random.Random, n: int, prefix: str) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    handle = f"{first}.{last}".lower().replace(" ", "").replace("-", "")
    user: dict[str, Any] = {}
    if rng.random() < 0.85:
        user["external_id"] = f"{prefix}-{n:05d}"
    user["email_address"] = [f"{handle}.{prefix}{n}@example.com"]
    if rng.random() < 0.1:
        user["email_address"].append(f"{handle}.{prefix}{n}.alt@example.org")
    if rng.random() < 0.6:
        # +1 555 then seven digits: valid E.164, distinct per file and row.
        offset = 0 if prefix == "legacy" else 5_000_000
        user["phone_number"] = [f"+1555{offset + n:07d}"]
    if rng.random() < 0.5:
        user["username"] = f"{first.lower()}_{prefix}{n}"
    if rng.random() < 0.05:
        user["web3_wallet"] = ["0x" + "".join(rng.choices("0123456789abcdef", k=40))]
    user["first_name"], user["last_name"] = first, last
    if rng.random() < 0.4:
        user["locale"] = rng.choice(LOCALES)
    user["public_metadata"] = {"plan": rng.choice(PLANS), "signup_source": rng.choice(SOURCES)}
    if rng.random() < 0.7:
        user["private_metadata"] = {
            "legacy_id": 100000 + n,
            "crm": {"segment": rng.choice(["smb", "mid", "ent"]), "score": rng.randint(0, 100)},
        }
    if rng.random() < 0.15:
        user["unsafe_metadata"] = {"theme": rng.choice(["light", "dark"])}
    if rng.random() < 0.3:
        user["password_digest"] = _bcrypt_digest(rng)
        user["password_hasher"] = "bcrypt"
    else:
        user["skip_password_requirement"] = True
    if rng.random() < 0.3:
        day = rng.randint(1, 28)
        user["created_at"] = f"2021-{rng.randint(1, 12):02d}-{day:02d}T12:00:00Z"
    return user


CSV_COLUMNS = ["external_id", "email_address", "phone_number", "username", "web3_wallet",
               "first_name", "last_name", "locale", "public_metadata", "private_metadata",
               "unsafe_metadata", "password_digest", "password_hasher",
               "skip_password_requirement", "created_at"]


def csv_cell(value: Any) -> str:
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jsonl", type=int, default=300)
    parser.add_argument("--csv", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out / "users.jsonl", "w", encoding="utf-8", newline="\n") as handle:
        for n in range(args.jsonl):
            handle.write(json.dumps(make_user(rng, n, "legacy"), ensure_ascii=False) + "\n")
    with open(args.out / "users.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for n in range(args.csv):
            user = make_user(rng, n, "csv")
            writer.writerow([csv_cell(user[c]) if c in user else "" for c in CSV_COLUMNS])


if __name__ == "__main__":
    main()
