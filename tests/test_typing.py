"""The closed sets of the API are ``Literal`` types that a user's mypy enforces.

The mypy test runs in a directory outside the repo against the *installed*
package, as a user's project would: it proves the editable install is visible
to static tools and that a wrong ``order_by`` is caught before run time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest

from clerk_async import (
    AsyncClerk,
    CreditAction,
    IdentificationStatus,
    InvitationStatus,
    MembershipOrderBy,
    UserOrderBy,
)
from clerk_async.testing import FakeClerk

from spec import operations, parameters, request_schema, requires_spec

GOOD = '''\
from clerk_async import AsyncClerk
from clerk_sync import Clerk


async def newest(clerk: AsyncClerk) -> list[str]:
    users = await clerk.users.list(order_by="-created_at", limit=5)
    return [user.id for user in users]


def names(clerk: Clerk) -> list[str | None]:
    return [user.first_name for user in clerk.users.iter(order_by="+last_name")]


def auth0() -> int:
    from clerk_async.migrate import read_source

    return read_source("users.ndjson", "auth0", hashes="hashes.ndjson", check=False).count
'''

BAD = '''\
from clerk_async import AsyncClerk


async def newest(clerk: AsyncClerk) -> None:
    await clerk.users.list(order_by="created")
'''

# read_source's options are typed per source: a typo is caught (issue 21).
BAD_MIGRATE = '''\
from clerk_async.migrate import read_source

read_source("users.ndjson", "auth0", auth0_hashes="hashes.ndjson")
'''


def test_users_mypy_sees_the_installed_package_and_its_literals(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "bad_migrate.py").write_text(BAD_MIGRATE)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         "good.py", "bad.py", "bad_migrate.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("MYPY")},
    )
    output = result.stdout + result.stderr
    assert "import-not-found" not in output, output
    assert "good.py" not in output, output
    assert re.search(r'bad\.py:5: error: Argument "order_by" .*"Literal\[\'created\'\]"', output)
    assert re.search(r'bad_migrate\.py:3: error: Unexpected keyword argument "auth0_hashes" '
                     r'for overloaded function "read_source"', output)
    assert "Found 3 errors in 2 files (checked 3 source files)" in output
    assert result.returncode == 1


EVOLVE_GOOD = """\
import attrs

from clerk_async import User, converter


def renamed(user: User) -> User:
    changed = attrs.evolve(user, first_name="x")
    assert attrs.fields(User).first_name.name == "first_name"
    return changed


def decoded(data: object) -> User:
    return converter.structure(data, User)
"""

EVOLVE_BAD = """\
import attrs

from clerk_async import User


def renamed(user: User) -> User:
    return attrs.evolve(user, frist_name="x")
"""


def test_attrs_evolve_on_a_model_type_checks_and_a_misspelt_field_does_not(
    tmp_path: Path,
) -> None:
    # A user's script outside the repo, checked by mypy --strict against the installed package.
    (tmp_path / "good.py").write_text(EVOLVE_GOOD)
    (tmp_path / "bad.py").write_text(EVOLVE_BAD)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         "good.py", "bad.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("MYPY")},
    )
    output = result.stdout + result.stderr
    assert "good.py" not in output, output
    assert re.search(r'bad\.py:7: error: Unexpected keyword argument "frist_name"', output), output
    assert "Found 1 error in 1 file (checked 2 source files)" in output, output


def _choices(literal: Any) -> set[str]:
    return set(get_args(literal))


@requires_spec
@pytest.mark.parametrize(
    ("operation", "name", "literal"),
    [
        ("UsersGetOrganizationInvitations", "status", InvitationStatus),
        ("CreateUser", "email_address_identification_status", IdentificationStatus),
        ("CreateUser", "phone_number_identification_status", IdentificationStatus),
        ("AdjustUserBillingCreditBalance", "action", CreditAction),
    ],
)
def test_enum_literals_match_the_spec(operation: str, name: str, literal: Any) -> None:
    op = operations()[operation][2]
    schemas = {p["name"]: p["schema"] for p in parameters(op)}
    body = request_schema(op)
    if body is not None:
        schemas.update(body[1].get("properties", {}))
    schema = schemas[name]
    enum = schema.get("enum") or schema["items"]["enum"]
    assert _choices(literal) == set(enum)


@requires_spec
@pytest.mark.parametrize(
    ("operation", "literal"),
    [("GetUserList", UserOrderBy), ("InstanceGetOrganizationMemberships", MembershipOrderBy)],
)
def test_order_by_literals_name_every_field_the_spec_lists(operation: str, literal: Any) -> None:
    # The spec lists the fields in prose only, so compare against the words in it.
    op = operations()[operation][2]
    text = next(p["description"] for p in parameters(op) if p["name"] == "order_by")
    fields = {choice.lstrip("+-") for choice in _choices(literal)}
    for field in fields:
        assert field in text
    assert _choices(literal) == {f"{sign}{field}" for field in fields for sign in ("", "+", "-")}


async def test_wrong_closed_set_values_are_refused_naming_the_argument(
    clerk: AsyncClerk, fake_clerk: FakeClerk
) -> None:
    wrong: Any = "created"
    with pytest.raises(ValueError, match=r"^order_by must be one of 'created_at'.*got 'created'"):
        await clerk.users.list(order_by=wrong)
    with pytest.raises(ValueError, match=r"^order_by must be one of"):
        await clerk.users.iter(order_by=wrong).__anext__()
    with pytest.raises(ValueError, match=r"^order_by must be one of"):
        await clerk.users.get_instance_organization_memberships(order_by=wrong)
    with pytest.raises(ValueError, match=r"^status must be one of 'pending'"):
        await clerk.users.get_organization_invitations("user_1", status=wrong)
    with pytest.raises(ValueError, match=r"^action must be one of 'increase', 'decrease'"):
        await clerk.users.adjust_billing_credit_balance(
            "user_1", amount=5, action=wrong, idempotency_key="k"
        )
    with pytest.raises(ValueError, match=r"^phone_number_identification_status\[1\] must be"):
        await clerk.users.create(
            phone_number=["+15555550100", "+15555550101"],
            phone_number_identification_status=["verified", wrong],
        )
    assert fake_clerk.stats.to_dict()["requests"] == {}
    # The right values go through.
    assert await clerk.users.list(order_by="-last_sign_in_at") == []
