"""Reading import files and checking rows, without any HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from clerk_async import UNSET, CreateUserParams
from clerk_async.bulk import RowError, count_rows, read_rows, row_keys
from clerk_async.bulk._rows import params_from_row

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_csv_cells_become_create_params(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text(
        "external_id,email_address,phone_number,backup_codes,public_metadata,banned,"
        "create_organizations_limit,password_digest,password_hasher,first_name\n"
        'x1,a@example.com; b@example.com,+15550000001,c1;c2,"{""plan"":""pro""}",TRUE,3,'
        "$2b$10$abc,my_own_hasher,Ada\n"
        "\n"
        ",c@example.com,,,,false,,,,\n",
        encoding="utf-8",
    )
    rows = list(read_rows(path))
    assert [n for n, _ in rows] == [2, 4]
    first = rows[0][1]
    assert isinstance(first, dict)
    params = params_from_row(first)
    assert params.email_address == ["a@example.com", "b@example.com"]
    assert params.backup_codes == ["c1", "c2"]
    assert params.public_metadata == {"plan": "pro"}
    assert params.banned is True and params.create_organizations_limit == 3
    assert params.password_hasher == "my_own_hasher"  # passed through, Clerk decides
    second = rows[1][1]
    assert second == {"email_address": ["c@example.com"], "banned": False}
    assert params_from_row(second).external_id is UNSET  # empty cell: not sent
    assert count_rows(path) == 2


def test_csv_bad_cells_name_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "email_address,public_metadata,banned\n"
        "a@example.com,{not json},false\n"
        "b@example.com,,maybe\n"
        "c@example.com,,true,extra\n"
        "d@example.com,{},\n",
        encoding="utf-8",
    )
    rows = list(read_rows(path))
    errors = {n: r for n, r in rows if isinstance(r, RowError)}
    assert errors[2].field == "public_metadata" and "JSON" in errors[2].message
    assert errors[3].field == "banned"
    assert "cells" in errors[4].message
    assert rows[-1] == (5, {"email_address": ["d@example.com"], "public_metadata": {}})


def test_unknown_csv_column_fails_each_row(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("email_address,colour\na@example.com,blue\n", encoding="utf-8")
    ((number, row),) = list(read_rows(path))
    assert number == 2 and isinstance(row, RowError) and row.field == "colour"


def test_jsonl_lines_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    path.write_text('{"email_address": ["a@example.com"]}\n\n{oops\n[1, 2]\n', encoding="utf-8")
    rows = list(read_rows(path))
    assert rows[0] == (1, {"email_address": ["a@example.com"]})
    assert rows[1][0] == 3 and isinstance(rows[1][1], RowError)
    assert rows[2][0] == 4 and isinstance(rows[2][1], RowError)
    assert count_rows(path) == 3


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"nope": 1}, "nope"),
        ({"first_name": 5}, "first_name"),
        ({"email_address": [1]}, "email_address"),
        ({"public_metadata": {"x": {1, 2}}}, "public_metadata"),
        ({"create_organizations_limit": True}, "create_organizations_limit"),
        ({"password_hasher": None}, "password_hasher"),
        ({"password_digest": "abc"}, "password_hasher"),
    ],
)
def test_row_checks_name_the_field(row: dict[str, object], field: str) -> None:
    with pytest.raises(RowError) as info:
        params_from_row(row)
    assert info.value.field == field


def test_keys_and_lenient_values() -> None:
    params = params_from_row({"email_address": "one@example.com", "last_name": None})
    assert params.email_address == ["one@example.com"] and params.last_name is None
    assert row_keys(params, 7) == ["email:one@example.com"]
    both = CreateUserParams(external_id="e1", email_address=["X@y.z"], username="Ann")
    assert row_keys(both, 1) == ["external_id:e1", "email:x@y.z", "username:ann"]
    assert row_keys(CreateUserParams(first_name="n"), 9) == ["row:9"]
    ready = CreateUserParams(email_address=["p@example.com"])
    assert params_from_row(ready) is ready


def test_example_files_are_valid() -> None:
    for name, expected in (("users.jsonl", 300), ("users.csv", 50)):
        rows = list(read_rows(EXAMPLES / name))
        assert len(rows) == expected
        for _, row in rows:
            assert not isinstance(row, RowError), row
            params_from_row(row)
