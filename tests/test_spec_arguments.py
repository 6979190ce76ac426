"""One rule for every optional argument, taken from Clerk's spec: a value the
spec cannot take is refused locally, naming the argument, before any request.

For each operation of the table, every query parameter and JSON body field
the spec lists is tried with a value of the wrong JSON type and, where the
spec does not allow null, with ``None``. The client points at a closed port:
a request that went out would surface as a connection error instead. The
annotations must tell the same story (``None`` only where the spec allows
null), so that mypy catches at the desk what this rule catches at run time.
"""

from __future__ import annotations

import inspect
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from clerk_async import AsyncClerk, ClerkConnectionError, Users

from spec import example, operation_table, operations, parameters, request_schema, requires_spec

pytestmark = requires_spec
KEY = "sk_test_ARGSsecretKEY0123456789abcdef"
#: Valid stand-ins where a sample from the schema would not do.
VALID = {"amount": 250, "limit": 5, "offset": 1, "order_by": "-created_at",
         "status": "pending", "starting_after": "user_prev", "action": "increase",
         "email_address_identification_status": ["verified"],
         "phone_number_identification_status": ["verified"]}
#: A value of the wrong JSON type for each spec type.
WRONG = {"string": 5, "integer": "5", "boolean": "yes", "number": "1.5", "array": 5,
         "object": ["not", "an", "object"]}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _table() -> list[tuple[str, str]]:
    try:
        return operation_table()
    except FileNotFoundError:
        return []


def spec_arguments(op_id: str) -> Iterator[tuple[str, str, dict[str, Any], bool]]:
    """(name, where, schema, required) of every query parameter and JSON body field."""
    _, _, op = operations()[op_id]
    for param in parameters(op):
        if param["in"] in ("query", "path"):
            yield param["name"], param["in"], param["schema"], bool(param.get("required"))
    body = request_schema(op)
    if body is not None and body[0] == "application/json":
        schema = body[1]
        for name, prop in schema.get("properties", {}).items():
            yield name, "body", prop, name in schema.get("required", [])


def spec_type(schema: dict[str, Any]) -> str:
    from spec import resolve

    schema = resolve(schema)
    if "type" not in schema:
        for key in ("oneOf", "anyOf", "allOf"):
            if key in schema:
                return spec_type(schema[key][0])
    return str(schema.get("type", "object"))


def nullable(schema: dict[str, Any]) -> bool:
    from spec import resolve

    return bool(resolve(schema).get("nullable"))


def baseline(op_id: str) -> dict[str, Any]:
    """Valid values for every required argument."""
    kwargs: dict[str, Any] = {}
    for name, where, schema, required in spec_arguments(op_id):
        if where == "path":
            kwargs[name] = f"{name}_1"
        elif required:
            kwargs[name] = VALID.get(name, example(schema))
    _, _, op = operations()[op_id]
    body = request_schema(op)
    if body is not None and body[0] == "multipart/form-data":
        kwargs["file"] = b"\x89PNG"
    return kwargs


CASES = [
    (method, op_id, name, where, schema)
    for method, op_id in _table()
    for name, where, schema, _ in spec_arguments(op_id)
    if where != "path"
]


@pytest.fixture
async def offline() -> Any:
    client = AsyncClerk(secret_key=KEY, base_url=f"http://127.0.0.1:{closed_port()}",
                        rate_limit=None, retry=None, timeout=5)
    yield client
    await client.aclose()


async def call(client: AsyncClerk, method: str, kwargs: dict[str, Any]) -> None:
    result = getattr(client.users, method)(**kwargs)
    if hasattr(result, "__anext__"):
        async for _ in result:
            pass
    else:
        await result


@pytest.mark.parametrize(("method", "op_id"), _table())
async def test_the_baseline_call_passes_validation(
    offline: AsyncClerk, method: str, op_id: str
) -> None:
    with pytest.raises(ClerkConnectionError):
        await call(offline, method, baseline(op_id))


@pytest.mark.parametrize(("method", "op_id", "name", "where", "schema"), CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
async def test_a_value_of_the_wrong_type_is_refused_locally(
    offline: AsyncClerk, method: str, op_id: str, name: str, where: str, schema: dict[str, Any]
) -> None:
    kwargs = {**baseline(op_id), name: WRONG[spec_type(schema)]}
    with pytest.raises((TypeError, ValueError), match=rf"\b{name}\b"):
        await call(offline, method, kwargs)


BODY_CASES = [c for c in CASES if c[3] == "body"]


@pytest.mark.parametrize(("method", "op_id", "name", "where", "schema"), BODY_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in BODY_CASES])
async def test_null_goes_out_only_where_the_spec_allows_it(
    offline: AsyncClerk, method: str, op_id: str, name: str, where: str, schema: dict[str, Any]
) -> None:
    kwargs = {**baseline(op_id), name: None}
    if nullable(schema):
        with pytest.raises(ClerkConnectionError):
            await call(offline, method, kwargs)
    else:
        with pytest.raises((TypeError, ValueError), match=rf"\b{name}\b"):
            await call(offline, method, kwargs)


@pytest.mark.parametrize(("method", "op_id", "name", "where", "schema"), BODY_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in BODY_CASES])
def test_annotations_admit_none_only_where_the_spec_does(
    method: str, op_id: str, name: str, where: str, schema: dict[str, Any]
) -> None:
    # As written: some names of the module exist only for type checkers.
    annotation = inspect.signature(getattr(Users, method), eval_str=False).parameters[name]
    text = str(annotation.annotation)
    admits_none = re.search(r"\bNone\b", text) is not None
    assert admits_none == nullable(schema), (
        f"users.{method}({name}=...): annotation {text} vs spec nullable={nullable(schema)}"
    )
    # Optional in the spec, optional here: Unset[...] (or a query default).
    assert text.startswith("Unset[") or name in baseline(op_id), text


def test_the_issue_s_examples_through_the_sync_facade_too() -> None:
    from clerk_sync import Clerk

    with Clerk(secret_key=KEY, base_url=f"http://127.0.0.1:{closed_port()}",
               rate_limit=None, retry=None) as clerk:
        with pytest.raises(TypeError, match=r"^query must be a str, got int$"):
            clerk.users.list(query=5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^first_name must be a str, got int$"):
            clerk.users.create(first_name=5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^private_metadata cannot be None"):
            clerk.users.replace_metadata("user_1", private_metadata=None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^password_hasher cannot be None"):
            clerk.users.create(password_digest="x", password_hasher=None)  # type: ignore[arg-type]
        # Null where the spec allows it still goes out (and here meets a closed port).
        with pytest.raises(ClerkConnectionError):
            clerk.users.create(first_name=None)


async def test_the_checked_iter_closes_what_it_wraps_when_left_early() -> None:
    from clerk_async.testing import FakeClerk

    async with FakeClerk() as fake, AsyncClerk(
        secret_key=fake.secret_key, base_url=fake.base_url, rate_limit=None
    ) as clerk:
        for i in range(3):
            fake.store.add_user(email_address=f"u{i}@example.com")
        pages: Any = clerk.users.iter(page_size=1)
        async for _user in pages:
            break
        (inner,) = [v for v in pages.ag_frame.f_locals.values() if inspect.isasyncgen(v)]
        await pages.aclose()
        # Closed now, not later in a task of the loop's asyncgen hook (a
        # generator dropped unclosed is finished there, after the caller moved on).
        assert inner.ag_frame is None
