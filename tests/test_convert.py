"""The JSON helpers and the converter in ``clerk_async._convert`` (no spec needed)."""

from __future__ import annotations

import datetime
import decimal
import importlib.util
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from clerk_async._convert import (
    check_json_value,
    converter,
    dumps,
    loads,
    structure,
    to_body,
    unstructure,
)
from clerk_async._errors import ClerkDecodeError
from clerk_async._types import UNSET
from clerk_async.models import (
    CreateUserParams,
    MetadataParams,
    OTPVerification,
    TotalCount,
    UnknownVerification,
    UserIdsParams,
)
from clerk_async.models.users import EmailAddress

# --------------------------------------------------------------------------- JSON


def test_dumps_is_compact_and_keeps_non_ascii() -> None:
    assert dumps({"name": "Zoë", "n": [1, 2.5, None, True]}) == (
        '{"name":"Zoë","n":[1,2.5,null,true]}'.encode()
    )


def test_loads_accepts_bytes_and_str() -> None:
    assert loads(b'{"a": [1, "\xc3\xa9"]}') == {"a": [1, "é"]}
    assert loads('{"a": null}') == {"a": None}


def test_stdlib_fallback_without_orjson() -> None:
    code = (
        "import sys; sys.modules['orjson'] = None\n"
        "from clerk_async._convert import dumps, loads\n"
        "assert dumps({'n': 'Zoë', 'x': [1, None]}) == '{\"n\":\"Zoë\",\"x\":[1,null]}'.encode()\n"
        "assert loads(b'{\"a\": 1}') == {'a': 1}\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- check_json_value


@pytest.mark.parametrize(
    "value",
    [
        None,
        {},
        {"a": 1, "b": [1, 2.5, "x", None, True, {"c": []}], "é": "ü"},
        [1, (2, 3)],
        2**63 - 1,
        -(2**63),
        0.0,
    ],
)
def test_check_json_value_accepts(value: Any) -> None:
    check_json_value(value, "public_metadata")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"x": {1, 2}}, "public_metadata['x'] is not JSON-serialisable: set"),
        ({"x": b"raw"}, "public_metadata['x'] is not JSON-serialisable: bytes"),
        ({"a": [1, object()]}, "public_metadata['a'][1] is not JSON-serialisable: object"),
        ({"x": math.nan}, "public_metadata['x'] is not JSON-serialisable: nan"),
        ({"x": math.inf}, "public_metadata['x'] is not JSON-serialisable: inf"),
        ({"x": -math.inf}, "public_metadata['x'] is not JSON-serialisable: -inf"),
        ({1: "a"}, "public_metadata is not JSON-serialisable: key 1 is a int, not a str"),
        ({"d": datetime.date(2024, 1, 1)}, "public_metadata['d'] is not JSON-serialisable: date"),
        ({"d": decimal.Decimal("1.5")}, "public_metadata['d'] is not JSON-serialisable: Decimal"),
        ({"big": 2**70}, "public_metadata['big'] is not JSON-serialisable: integer out of 64"),
    ],
)
def test_check_json_value_refuses(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        check_json_value(value, "public_metadata")
    assert str(info.value).startswith(message)


def test_check_json_value_cycle() -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(ValueError, match="nested too deeply"):
        check_json_value(cyclic, "private_metadata")


# --------------------------------------------------------------------------- structure


def test_structure_ignores_unknown_keys_and_fills_missing_optionals() -> None:
    obj = structure({"object": "total_count", "total_count": 3, "new_field": 1}, TotalCount)
    assert obj == TotalCount(object="total_count", total_count=3)
    link = {"type": "oauth_google", "id": "idn_1"}
    email = structure(
        {
            "object": "email_address",
            "email_address": "a@example.com",
            "reserved": False,
            "verification": None,
            "linked_to": [link],
            "created_at": 1,
            "updated_at": 2,
        },
        EmailAddress,
    )
    assert email.id is None and email.matches_sso_connection is None
    assert email.linked_to[0].type == "oauth_google"


def test_structure_list_and_missing_required_key() -> None:
    data = [{"object": "total_count", "total_count": n} for n in range(3)]
    assert [c.total_count for c in structure(data, list[TotalCount])] == [0, 1, 2]
    with pytest.raises(ClerkDecodeError, match="missing required field") as caught:
        structure({"object": "total_count"}, TotalCount)
    assert caught.value.field == "total_count"
    with pytest.raises(ClerkDecodeError) as caught:
        structure([*data, {"object": "total_count", "total_count": "3"}], list[TotalCount])
    assert caught.value.field == "[3].total_count"


def test_passthrough_does_not_copy_metadata() -> None:
    meta = {"a": {"b": [1, 2]}}
    obj = structure({"user_ids": ["u1", "u2"]}, UserIdsParams)
    assert obj.user_ids == ["u1", "u2"]
    params = structure({"public_metadata": meta}, MetadataParams)
    assert params.public_metadata is meta
    assert params.private_metadata is UNSET


def test_verification_dispatch_and_unknown() -> None:
    hook = converter.get_structure_hook(EmailAddress)
    base = {
        "object": "email_address",
        "email_address": "a@example.com",
        "reserved": False,
        "linked_to": [],
        "created_at": 1,
        "updated_at": 2,
    }
    otp: dict[str, Any] = {
        "object": "verification_otp",
        "status": "verified",
        "strategy": "email_code",
    }
    otp |= {"attempts": 1, "expire_at": None, "channel": "sms", "verified_at_client": None}
    email = hook({**base, "verification": otp}, EmailAddress)
    assert isinstance(email.verification, OTPVerification)
    assert email.verification.channel == "sms"
    assert unstructure(email)["verification"] == otp

    odd = {"object": "verification_quantum", "strategy": "email_code", "status": "new", "x": 1}
    email = hook({**base, "verification": odd}, EmailAddress)
    assert email.verification == UnknownVerification(
        object="verification_quantum", strategy="email_code", status="new", raw=odd
    )
    assert unstructure(email)["verification"] is odd
    assert unstructure(email.verification) is odd


def test_unstructure_round_trips_verification_union() -> None:
    value = OTPVerification(status="verified", strategy="phone_code", attempts=None)
    assert unstructure(value)["strategy"] == "phone_code"


# --------------------------------------------------------------------------- requests


def test_to_body_drops_unset_and_keeps_none() -> None:
    params = CreateUserParams(
        email_address=["a@example.com"], first_name=None, public_metadata={"k": "é"}
    )
    assert to_body(params) == {
        "email_address": ["a@example.com"],
        "first_name": None,
        "public_metadata": {"k": "é"},
    }
    assert unstructure(params) == to_body(params)
    assert to_body(MetadataParams()) == {}
    assert dumps(to_body(MetadataParams(private_metadata={"x": None}))) == (
        b'{"private_metadata":{"x":null}}'
    )


def test_structure_request_keeps_unset_for_missing() -> None:
    params = structure({"first_name": None, "username": "ann"}, CreateUserParams)
    assert params.first_name is None
    assert params.username == "ann"
    assert params.last_name is UNSET


def _generator() -> Any:
    path = Path(__file__).resolve().parents[1] / "scripts" / "gen_models.py"
    spec = importlib.util.spec_from_file_location("gen_models_for_tests", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_keyword_property_names_use_json_name() -> None:
    gen = _generator()
    fields = [
        gen.FieldSpec("from", "from_", "str", False, gen.field_line("from", "str", None)),
        gen.FieldSpec(
            "class", "class_", "str", True, gen.field_line("class", "str | None", "None")
        ),
    ]
    writer = gen.CodecWriter()
    source = "\n".join([
        "from typing import Any",
        "import attrs",
        "from clerk_async.models._runtime import *",
        "_set = object.__setattr__",
        "_new = object.__new__",
        *gen.emit_model_class("Renamed", "A class with keyword-named fields.", fields),
        *writer.decoder("Renamed", fields),
        *writer.encoder("Renamed", fields),
    ])
    namespace: dict[str, Any] = {}
    exec(compile(source, "<generated for a test>", "exec"), namespace)
    renamed, decode, encode = (namespace[n] for n in ("Renamed", "_d_Renamed", "_e_Renamed"))
    obj = decode({"from": "a", "class": None})
    assert obj == renamed(from_="a", class_=None)
    assert [a.metadata.get("json") for a in attrs.fields(renamed)] == ["from", "class"]
    assert encode(obj) == {"from": "a", "class": None}
    assert to_body(renamed(from_="a")) == {"from": "a", "class": None}
