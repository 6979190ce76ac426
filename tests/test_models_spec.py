"""The generated models against Clerk's OpenAPI spec.

Every schema the SDK decodes must have exactly the spec's properties, with the
right nullability, and a maximal payload (every property present) must survive
``unstructure(structure(x)) == x``. The spec is read from
``../shared/clerk-openapi`` (or ``$CLERK_OPENAPI_DIR``); without it these tests
skip.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Union

import attrs
import pytest

from clerk_async._convert import structure, to_body, unstructure
from clerk_async._types import UNSET, UnsetType
from clerk_async.models import (
    INLINE_RESPONSE_MODELS,
    SCHEMA_MODELS,
    VERIFICATION_BY_OBJECT,
    UnknownVerification,
)
from clerk_async.models.requests import REQUEST_MODELS

import spec as spec_file
from spec import MAIN_SPEC, SPEC_DIR, TOTP_SPEC, operation_table, operations

REPO = Path(__file__).resolve().parents[1]
# --------------------------------------------------------------------------- spec access


class Spec:
    def __init__(self) -> None:
        merged = spec_file.spec()
        self.schemas = merged["components"]["schemas"]
        self.responses = merged["components"]["responses"]
        self.ops: dict[str, Any] = {op_id: op for op_id, (_, _, op) in operations().items()}

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def object_schema(self, name: str) -> dict[str, Any]:
        schema: dict[str, Any] = self.schemas[name]
        if schema.get("type") == "array":
            schema = schema["items"]
        return schema

    def props(self, schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
        props: dict[str, Any] = {}
        required = set(schema.get("required", []))
        for part in [schema, *schema.get("allOf", [])]:
            props.update(part.get("properties", {}))
            required.update(part.get("required", []))
        return props, required

    def nullable(self, prop: dict[str, Any]) -> bool:
        if "nullable" in prop:
            return bool(prop["nullable"])
        if "$ref" in prop:
            return bool(self.resolve(prop).get("nullable", False))
        return False

    def inline_200(self, op_id: str) -> dict[str, Any]:
        resp = self.ops[op_id]["responses"]["200"]
        while "$ref" in resp:
            resp = self.responses[resp["$ref"].rsplit("/", 1)[-1]]
        schema: dict[str, Any] = resp["content"]["application/json"]["schema"]
        return schema

    def body(self, op_id: str) -> dict[str, Any]:
        schema = self.ops[op_id]["requestBody"]["content"]["application/json"]["schema"]
        return self.resolve(schema)


@pytest.fixture(scope="module")
def spec() -> Spec:
    if not (MAIN_SPEC.is_file() and TOTP_SPEC.is_file()):
        pytest.skip(f"Clerk OpenAPI spec not found in {SPEC_DIR} (set CLERK_OPENAPI_DIR)")
    return Spec()


# --------------------------------------------------------------------------- helpers


def json_fields(cls: type[Any]) -> dict[str, attrs.Attribute[Any]]:
    attrs.resolve_types(cls)
    return {a.metadata.get("json", a.name): a for a in attrs.fields(cls)}


def admits_none(tp: Any) -> bool:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return type(None) in typing.get_args(tp)
    return tp is Any


def admits_unset(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType) and UnsetType in typing.get_args(tp)


def is_verification_oneof(spec: Spec, prop: dict[str, Any]) -> bool:
    options = prop.get("oneOf", [])
    return bool(options) and all(
        o.get("$ref", "").rsplit("/", 1)[-1].startswith("verification_") for o in options
    )


FREE_OBJECT = {"plan": "pro", "n": 3, "nested": {"tags": ["a", "é"], "x": None}, "ok": True}


def build(spec: Spec, schema: dict[str, Any], nulls: bool, variant: int) -> Any:
    """A maximal JSON value for *schema*: every property present.

    *nulls*: nullable properties are ``None`` (else filled). *variant* picks which
    option of each verification ``oneOf`` is used (modulo the option count).
    """
    if "$ref" in schema:
        return build(spec, spec.resolve(schema), nulls, variant)
    for combo in ("oneOf", "anyOf", "allOf"):
        options = schema.get(combo)
        if options and (len(options) == 1 or combo == "oneOf"):
            if len(options) == 1 and "$ref" in options[0]:
                return build(spec, options[0], nulls, variant)
            return build(spec, options[variant % len(options)], nulls, variant)
    if "enum" in schema:
        return schema["enum"][-1]
    kind = schema.get("type")
    if kind == "string":
        return "s-é"
    if kind == "integer":
        return 1_700_000_000_123
    if kind == "number":
        return 12.5
    if kind == "boolean":
        return True
    if kind == "array":
        item = schema.get("items", {})
        return [build(spec, item, nulls, variant), build(spec, item, nulls, variant + 1)]
    props, _ = spec.props(schema)
    if not props:
        return dict(FREE_OBJECT)
    out: dict[str, Any] = {}
    for name, prop in props.items():
        if nulls and spec.nullable(prop):
            out[name] = None
        else:
            out[name] = build(spec, prop, nulls, variant)
    return out


def walk_instances(obj: Any) -> typing.Iterator[Any]:
    if attrs.has(type(obj)):
        yield obj
        for a in attrs.fields(type(obj)):
            yield from walk_instances(getattr(obj, a.name))
    elif isinstance(obj, list):
        for item in obj:
            yield from walk_instances(item)


# --------------------------------------------------------------------------- closure


def test_schema_models_cover_the_response_closure(spec: Spec) -> None:
    seen_resp: set[str] = set()
    names: set[str] = set()
    table = [op for _, op in operation_table()]
    queue: list[Any] = [spec.ops[op]["responses"] for op in table]
    while queue:
        node = queue.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref:
                kind, name = ref.split("/")[-2:]
                if kind == "responses" and name not in seen_resp:
                    seen_resp.add(name)
                    queue.append(spec.responses[name])
                elif kind == "schemas" and name not in names:
                    names.add(name)
                    queue.append(spec.schemas[name])
            queue.extend(v for k, v in node.items() if k != "$ref")
        elif isinstance(node, list):
            queue.extend(node)
    assert len(table) == 37
    assert "TOTP" in names  # via CreateUserTOTP in the second file
    assert set(SCHEMA_MODELS) == names


def test_verification_map_matches_spec(spec: Spec) -> None:
    expected = {}
    for name, cls in SCHEMA_MODELS.items():
        if name.startswith("verification_"):
            expected[spec.schemas[name]["properties"]["object"]["enum"][0]] = cls
    assert expected == VERIFICATION_BY_OBJECT


# --------------------------------------------------------------------------- fields


def check_fields(spec: Spec, cls: type[Any], schema: dict[str, Any]) -> None:
    props, required = spec.props(schema)
    fields = json_fields(cls)
    assert set(fields) == set(props), f"{cls.__name__}: fields differ from the spec"
    for name, prop in props.items():
        a = fields[name]
        optional = name not in required or spec.nullable(prop)
        assert admits_none(a.type) == optional, f"{cls.__name__}.{name}: nullability"
        assert (a.default is not attrs.NOTHING) == optional, f"{cls.__name__}.{name}: default"
        if a.default is not attrs.NOTHING:
            assert a.default is None
        if is_verification_oneof(spec, prop):
            assert "Verification" in str(a.type), f"{cls.__name__}.{name}: not a Verification"


@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
def test_schema_fields(spec: Spec, name: str) -> None:
    cls = SCHEMA_MODELS[name]
    assert attrs.has(cls)
    params = cls.__attrs_attrs__  # frozen, slots, kw_only
    assert all(a.kw_only for a in params)
    assert "__slots__" in cls.__dict__
    check_fields(spec, cls, spec.object_schema(name))


@pytest.mark.parametrize("op_id", sorted(INLINE_RESPONSE_MODELS))
def test_inline_response_fields(spec: Spec, op_id: str) -> None:
    check_fields(spec, INLINE_RESPONSE_MODELS[op_id], spec.inline_200(op_id))


def test_models_are_frozen() -> None:
    user_cls = SCHEMA_MODELS["TotalCount"]
    obj = user_cls(object="total_count", total_count=1)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        obj.total_count = 2


# --------------------------------------------------------------------------- round trips


def variants_for(spec: Spec, name: str) -> int:
    """How many verification variants exist anywhere below schema *name*."""
    return max([1, *(len(s.get("oneOf", [])) for s in _all_props_below(spec, name))])


def _all_props_below(spec: Spec, name: str) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        props, _ = spec.props(spec.object_schema(current))
        for prop in props.values():
            out.append(prop)
            node = prop.get("items", prop)
            for option in [node, *node.get("oneOf", []), *node.get("allOf", [])]:
                if "$ref" in option:
                    stack.append(option["$ref"].rsplit("/", 1)[-1])
    return out


@pytest.mark.parametrize("nulls", [True, False], ids=["nulls", "filled"])
@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
def test_maximal_round_trip(spec: Spec, name: str, nulls: bool) -> None:
    cls = SCHEMA_MODELS[name]
    for variant in range(variants_for(spec, name)):
        payload = build(spec, spec.object_schema(name), nulls, variant)
        obj = structure(payload, cls)
        assert isinstance(obj, cls)
        assert unstructure(obj) == payload
        unknown = [o for o in walk_instances(obj) if isinstance(o, UnknownVerification)]
        assert not unknown, "a known verification decoded as unknown"


def test_user_maximal_covers_every_verification_class(spec: Spec) -> None:
    user = SCHEMA_MODELS["User"]
    found: set[type[Any]] = set()
    for variant in range(variants_for(spec, "User")):
        payload = build(spec, spec.schemas["User"], False, variant)
        obj = structure(payload, user)
        assert unstructure(obj) == payload
        found.update(type(o) for o in walk_instances(obj))
    # Every list on the user is filled and every verification kind shows up.
    assert set(VERIFICATION_BY_OBJECT.values()) <= found
    assert all(payload[k] for k, p in spec.props(spec.schemas["User"])[0].items() if "items" in p)


@pytest.mark.parametrize("op_id", sorted(INLINE_RESPONSE_MODELS))
def test_inline_round_trip(spec: Spec, op_id: str) -> None:
    payload = build(spec, spec.inline_200(op_id), False, 0)
    assert unstructure(structure(payload, INLINE_RESPONSE_MODELS[op_id])) == payload


# --------------------------------------------------------------------------- requests


@pytest.mark.parametrize("op_id", sorted(REQUEST_MODELS))
def test_request_fields(spec: Spec, op_id: str) -> None:
    cls = REQUEST_MODELS[op_id]
    props, required = spec.props(spec.body(op_id))
    fields = json_fields(cls)
    assert set(fields) == set(props)
    for name, prop in props.items():
        a = fields[name]
        if name in required:
            assert a.default is attrs.NOTHING, name
            assert not admits_unset(a.type), name
        else:
            assert a.default is UNSET, name
            assert admits_unset(a.type), name
            assert admits_none(a.type) == spec.nullable(prop), name


@pytest.mark.parametrize("encode", [to_body, unstructure], ids=["to_body", "generated"])
@pytest.mark.parametrize("op_id", sorted(REQUEST_MODELS))
def test_to_body_drops_unset_keeps_none(
    spec: Spec, op_id: str, encode: Callable[[Any], Any]
) -> None:
    cls = REQUEST_MODELS[op_id]
    props, required = spec.props(spec.body(op_id))
    req_values = {name: build(spec, props[name], False, 0) for name in required}
    assert encode(cls(**req_values)) == req_values
    for name, prop in props.items():
        if name in required:
            continue
        value = None if spec.nullable(prop) else build(spec, prop, False, 0)
        body = encode(cls(**req_values, **{name: value}))
        assert body == {**req_values, name: value}
        if isinstance(value, list | dict):
            # Another sequence or mapping goes out as a plain list or object.
            other = tuple(value) if isinstance(value, list) else MappingProxyType(value)
            sent = encode(cls(**req_values, **{name: other}))
            assert sent == {**req_values, name: value}
            assert type(sent[name]) is type(value)
    full = {name: build(spec, prop, False, 0) for name, prop in props.items()}
    obj = cls(**full)
    assert to_body(obj) == full
    assert unstructure(obj) == full
    assert structure(full, cls) == obj
    assert structure(req_values, cls) == cls(**req_values)


# --------------------------------------------------------------------------- generator


def test_generated_models_are_up_to_date(spec: Spec) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "gen_models.py"),
            "--check",
            "--spec-dir",
            str(SPEC_DIR),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------- generated code, field by field


def _wrong(value: Any) -> Any:
    """A JSON value of another type than *value* (a bool is not an int, nor vice versa)."""
    if isinstance(value, (bool, dict, list)):
        return 5
    if isinstance(value, (int, float)):
        return "5"
    return 5.5  # for str


def _payloads(spec: Spec) -> list[tuple[str, type[Any], dict[str, Any]]]:
    out = [(name, SCHEMA_MODELS[name], build(spec, spec.object_schema(name), False, 0))
           for name in sorted(SCHEMA_MODELS)]
    out += [(op, INLINE_RESPONSE_MODELS[op], build(spec, spec.inline_200(op), False, 0))
            for op in sorted(INLINE_RESPONSE_MODELS)]
    out += [(op, REQUEST_MODELS[op], build(spec, spec.body(op), False, 0))
            for op in sorted(REQUEST_MODELS)]
    return out


def test_every_field_of_every_model_checks_its_type_and_names_itself(spec: Spec) -> None:
    from clerk_async import ClerkDecodeError

    checked = 0
    for name, cls, payload in _payloads(spec):
        fields = json_fields(cls)
        for key, value in payload.items():
            bad_payload = {**payload, key: _wrong(value)}
            if fields[key].type == "Any" or fields[key].type is Any:
                continue
            with pytest.raises(ClerkDecodeError) as caught:
                structure(bad_payload, cls)
            assert caught.value.field == key, (name, key)
            checked += 1
            if isinstance(value, list) and value and isinstance(value[0], dict):
                items = [value[0], _wrong(value[0])]
                with pytest.raises(ClerkDecodeError) as caught:
                    structure({**payload, key: items}, cls)
                assert caught.value.field == f"{key}[1]", (name, key)
            required = fields[key].default is attrs.NOTHING
            missing = {k: v for k, v in payload.items() if k != key}
            if required:
                with pytest.raises(ClerkDecodeError, match="missing required field") as caught:
                    structure(missing, cls)
                assert caught.value.field == key, (name, key)
            else:
                structure(missing, cls)  # optional: absent is fine
    assert checked > 500


def test_every_model_has_value_semantics_and_attrs_behaviour(spec: Spec) -> None:
    import copy
    import pickle

    for name, cls, payload in _payloads(spec):
        obj = structure(payload, cls)
        fields = attrs.fields(cls)
        clone = cls(**{a.alias: getattr(obj, a.name) for a in fields})
        assert clone == obj and (clone != obj) is False, name
        assert obj != object() and obj.__eq__(object()) is NotImplemented
        assert pickle.loads(pickle.dumps(obj)) == obj and copy.copy(obj) == obj
        assert repr(clone) == repr(obj) == str(obj) and repr(obj).startswith(cls.__name__ + "(")
        with contextlib.suppress(TypeError):  # holds a dict or list, as attrs' would
            assert hash(clone) == hash(obj)
        first = fields[0]
        evolved = attrs.evolve(obj, **{first.alias: None})
        assert getattr(evolved, first.name) is None and type(evolved) is cls
        if getattr(obj, first.name) is not None:
            assert evolved != obj, name
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(obj, first.name, None)
