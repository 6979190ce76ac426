"""Clerk → Clerk: ``clerk-users export`` from one FakeClerk, ``import --from clerk``
into another (with the dashboard CSV for password digests), then compare."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

import pytest

from clerk_async import AsyncClerk
from clerk_async.cli import main
from clerk_async.models import User
from clerk_async.testing import FakeClerk

# pyca/bcrypt's published vector, so the digest is known without hashing here.
DIGEST, PASSWORD = "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm", "Kk4DQuMMfZL9o"


async def run(monkeypatch: pytest.MonkeyPatch, fake: FakeClerk, *argv: str) -> int:
    monkeypatch.setenv("CLERK_SECRET_KEY", fake.secret_key)
    return await asyncio.to_thread(main, [*argv, "--base-url", fake.base_url, "--rate", "none"])


def comparable(user: User) -> dict[str, Any]:
    """What a migration must carry over, independent of the instance's ids."""
    primary_email = next((e.email_address for e in user.email_addresses
                          if e.id == user.primary_email_address_id), None)
    return {
        "external_id": user.external_id,
        "names": (user.first_name, user.last_name, user.username),
        "primary_email": primary_email,
        "emails": sorted((e.email_address, bool(e.reserved)) for e in user.email_addresses),
        "phones": sorted((p.phone_number, bool(p.reserved)) for p in user.phone_numbers),
        "metadata": (user.public_metadata, user.private_metadata, user.unsafe_metadata),
        "created_at": user.created_at,
        "banned": user.banned,
        "password_enabled": user.password_enabled,
    }


async def test_export_from_one_instance_import_into_another(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with FakeClerk() as source, FakeClerk() as target, \
            AsyncClerk(secret_key=source.secret_key, base_url=source.base_url,
                       rate_limit=None) as old, \
            AsyncClerk(secret_key=target.secret_key, base_url=target.base_url,
                       rate_limit=None) as new:
        noa = await old.users.create(
            external_id="legacy-1", first_name="Noa", last_name="Levi", username="noalevi",
            email_address=["noa@example.com", "noa.old@example.com"],
            email_address_identification_status=["verified", "reserved"],
            phone_number=["+972501234567"], phone_number_identification_status=["reserved"],
            public_metadata={"team": "blue"}, private_metadata={"stripe": "cus_1"},
            unsafe_metadata={"theme": "dark"}, created_at="2021-03-04T05:06:07.089Z",
            password_digest=DIGEST, password_hasher="bcrypt")
        erik = await old.users.create(email_address=["erik@example.com"], first_name="Erik",
                                      skip_password_requirement=True)
        await old.users.ban(erik.id)

        export = tmp_path / "users.jsonl"
        assert await run(monkeypatch, source, "export", str(export)) == 0
        # The dashboard's CSV is the only place Clerk exports digests.
        dashboard = tmp_path / "dashboard.csv"
        with dashboard.open("w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["id", "primary_email_address", "password_digest", "password_hasher"])
            out.writerow([noa.id, "noa@example.com", DIGEST, "bcrypt"])
        assert await run(monkeypatch, target, "import", str(export), "--from", "clerk",
                         "--clerk-passwords", str(dashboard)) == 0

        before = sorted([comparable(u) async for u in old.users.iter()],
                        key=lambda c: str(c["primary_email"]))
        after = sorted([comparable(u) async for u in new.users.iter()],
                       key=lambda c: str(c["primary_email"]))
        assert after == before
        moved = [u async for u in new.users.iter(external_id=["legacy-1"])]
        assert (await new.users.verify_password(moved[0].id, PASSWORD)).verified


async def test_a_dashboard_csv_from_another_instance_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeClerk() as source, FakeClerk() as target:
        source.store.add_user(email_address="one@example.com")
        export = tmp_path / "users.jsonl"
        assert await run(monkeypatch, source, "export", str(export)) == 0
        dashboard = tmp_path / "dashboard.csv"
        dashboard.write_text("id,password_digest,password_hasher\n"
                             f"user_somebodyElse,{DIGEST},bcrypt\n")
        assert await run(monkeypatch, target, "import", str(export), "--from", "clerk",
                         "--clerk-passwords", str(dashboard)) == 2
        assert "user_somebodyElse" in capsys.readouterr().err
        assert target.store.users == {}
