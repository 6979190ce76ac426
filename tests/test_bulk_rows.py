"""Reading import files and checking rows, without any HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from clerk_async import UNSET, CreateUserParams
from clerk_async.bulk import InputFileError, RowError, check_input, count_rows, read_rows, row_keys
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


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (CreateUserParams(email_address=[123]), "email_address"),  # type: ignore[list-item]
        (CreateUserParams(external_id=7), "external_id"),  # type: ignore[arg-type]
        (CreateUserParams(username="a\x00b"), "username"),
        (CreateUserParams(skip_password_checks="yes"), "skip_password_checks"),  # type: ignore[arg-type]
        (CreateUserParams(public_metadata={"x": {1}}), "public_metadata"),
    ],
)
def test_params_rows_get_the_checks_dict_rows_get(row: CreateUserParams, field: str) -> None:
    with pytest.raises(RowError) as info:
        params_from_row(row)
    assert info.value.field == field


async def test_a_badly_typed_params_row_fails_alone() -> None:
    # Regression: an identifier that was not a str ended the whole import with an
    # AttributeError from the journal's key, before any row was reported.
    from clerk_async import AsyncClerk
    from clerk_async.testing import FakeClerk

    rows = [CreateUserParams(email_address=[123]),  # type: ignore[list-item]
            CreateUserParams(email_address=["fine@example.com"])]
    async with FakeClerk() as fake, AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None
    ) as clerk:
        report = await clerk.users.bulk_create(rows)
    assert (report.created, report.failed) == (1, 1)
    assert (report.failures[0].row, report.failures[0].field) == (1, "email_address")
    assert len(fake.store.users) == 1


def test_keys_and_lenient_values() -> None:
    params = params_from_row({"email_address": "one@example.com", "last_name": None})
    assert params.email_address == ["one@example.com"] and params.last_name is None
    assert row_keys(params, 7) == ["email:one@example.com"]
    both = CreateUserParams(external_id="e1", email_address=["X@y.z"], username="Ann")
    assert row_keys(both, 1) == ["external_id:e1", "email:x@y.z", "username:ann"]
    # Without an identifier the content names the row, not its line.
    anonymous = row_keys(CreateUserParams(first_name="n"), 9)
    assert anonymous == row_keys(CreateUserParams(first_name="n"), 1)
    assert anonymous[0].startswith("content:")
    assert anonymous != row_keys(CreateUserParams(first_name="m"), 9)
    ready = CreateUserParams(email_address=["p@example.com"])
    assert params_from_row(ready) is ready


def test_example_files_are_valid() -> None:
    for name, expected in (("users.jsonl", 300), ("users.csv", 50)):
        rows = list(read_rows(EXAMPLES / name))
        assert len(rows) == expected
        for _, row in rows:
            assert not isinstance(row, RowError), row
            params_from_row(row)


def test_undecodable_lines_fail_alone_with_their_line_number(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    long_line = b'{"first_name": "' + b"x" * (1 << 20) + b'"}\n'
    path.write_bytes(
        b'\xef\xbb\xbf{"email_address": ["bom@example.com"]}\n'  # BOM: row 1 kept
        b'{"first_name": "caf\xe9"}\n'  # latin-1 byte
        b'{"first_name": "nul\\u0000"}\n'  # NUL inside a string
        + long_line
        + b'{"email_address": ["a@example.com"\n'  # broken JSON
        b'{"email_address": ["ok@example.com"]}\n'
    )
    rows = list(read_rows(path))
    assert rows[0] == (1, {"email_address": ["bom@example.com"]})
    problems = {n: r.message for n, r in rows if isinstance(r, RowError)}
    assert "UTF-8" in problems[2]
    assert "longer than" in problems[4] and "JSON" in problems[5]
    assert rows[-1] == (6, {"email_address": ["ok@example.com"]})
    with pytest.raises(RowError, match="NUL"):
        params_from_row(rows[2][1])  # type: ignore[arg-type]


def test_csv_bad_byte_overlong_field_and_nul_fail_only_their_rows(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"\xef\xbb\xbfemail_address,first_name\n"
        b"a@example.com,Ann\n"
        b"b@example.com,Caf\xe9\n"
        b"c@example.com," + b"y" * 200_000 + b"\n"
        b"d@example.com,N\x00l\n"
        b"e@example.com,Eve\n"
    )
    rows = list(read_rows(path))
    assert rows[0] == (2, {"email_address": ["a@example.com"], "first_name": "Ann"})
    problems = {n: r.message for n, r in rows if isinstance(r, RowError)}
    assert "utf-8" in problems[3] and "--encoding" in problems[3]
    assert "field" in problems[4] and "NUL" in problems[5]
    assert rows[-1] == (6, {"email_address": ["e@example.com"], "first_name": "Eve"})


def test_csv_in_another_encoding_reads_with_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("email_address,first_name\nz@example.com,Zoë\ny@example.com,Chloé\n"
                     .encode("cp1252"))
    with pytest.raises(InputFileError, match="--encoding"):
        read_rows(path)
    assert list(read_rows(path, encoding="cp1252")) == [
        (2, {"email_address": ["z@example.com"], "first_name": "Zoë"}),
        (3, {"email_address": ["y@example.com"], "first_name": "Chloé"})]
    with pytest.raises(InputFileError, match="unknown encoding"):
        read_rows(path, encoding="klingon")


def test_binary_file_is_refused_once(tmp_path: Path) -> None:
    path = tmp_path / "users.jsonl"
    path.write_bytes(b"PK\x03\x04\x00\x00binary zip data")
    with pytest.raises(InputFileError, match="binary"):
        check_input(path)
