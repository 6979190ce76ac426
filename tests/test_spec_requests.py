"""Every one of the 37 operations sends what the spec says and decodes what it returns.

For each row of the operation table, the SDK method is called with every
parameter and body property the spec lists (sample values), the request is
captured, and a maximal response built from the spec's schema is decoded.
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses

from clerk_async import AsyncClerk, Users

from spec import (
    example,
    operation_table,
    operations,
    parameters,
    request_schema,
    requires_spec,
    response_schema,
)

pytestmark = requires_spec

SPECIAL_QUERY_VALUES: dict[str, object] = {
    "limit": 5,
    "offset": 3,
    "order_by": "-created_at",
    "status": "pending",
    "starting_after": "user_prev",
}


def _table() -> list[tuple[str, str]]:
    try:
        return operation_table()
    except FileNotFoundError:
        return []


def query_value(param: dict[str, Any]) -> object:
    name = param["name"]
    if name in SPECIAL_QUERY_VALUES:
        return SPECIAL_QUERY_VALUES[name]
    schema = param["schema"]
    kind = schema.get("type")
    if kind == "array":
        return [f"{name}_a", f"{name}_b"]
    if kind == "integer":
        return 1700000000000
    if kind == "boolean":
        return True
    return f"{name}_q"


def test_table_is_read_whole() -> None:
    # The table's heading says 38 but it holds 37 distinct operations; every
    # one must be found, and each method name must be unique.
    rows = _table()
    assert len(rows) >= 37
    assert len({m for m, _ in rows}) == len(rows) == len({o for _, o in rows})
    assert set(operations()) >= {o for _, o in rows}


@pytest.mark.parametrize(("method_name", "op_id"), _table())
def test_operation_exists_under_its_exact_name(method_name: str, op_id: str) -> None:
    method = getattr(Users, method_name, None)
    assert method is not None, f"users.{method_name} ({op_id}) is missing"
    assert inspect.iscoroutinefunction(method)
    assert method.__doc__, f"users.{method_name} has no docstring"


@pytest.mark.parametrize(("method_name", "op_id"), _table())
async def test_request_and_response_follow_the_spec(
    api: AsyncClerk, mocked: aioresponses, method_name: str, op_id: str
) -> None:
    http_method, template, op = operations()[op_id]
    kwargs: dict[str, Any] = {}
    expected_path = "/v1" + template
    expected_query: dict[str, object] = {}
    for param in parameters(op):
        if param["in"] == "path":
            value = f"{param['name']}_ü 1"[:-2] + "%x"  # needs encoding, stays one segment
            kwargs[param["name"]] = value
            expected_path = expected_path.replace(
                "{" + param["name"] + "}", quote(value, safe="")
            )
        elif param["in"] == "query":
            value = query_value(param)
            kwargs[param["name"]] = value
            expected_query[param["name"]] = value
    body = request_schema(op)
    if body is not None:
        content_type, schema = body
        if content_type == "multipart/form-data":
            kwargs["file"] = b"\x89PNG..."
        else:
            for name, prop in schema.get("properties", {}).items():
                kwargs[name] = example(prop)
                if name == "amount":
                    kwargs[name] = 250

    captured: list[tuple[str, Any, dict[str, Any]]] = []
    reply = example(response_schema(op))

    def record(verb: str) -> Any:
        def callback(url: Any, **request: Any) -> CallbackResult:
            captured.append((verb, url, request))
            return CallbackResult(payload=reply)

        return callback

    any_url = re.compile(r"^https://api\.clerk\.com/.*$")
    for verb in ("get", "post", "put", "patch", "delete"):
        getattr(mocked, verb)(any_url, callback=record(verb.upper()), repeat=True)

    result = await getattr(api.users, method_name)(**kwargs)
    assert result is not None

    assert len(captured) == 1, "exactly one request, no retry"
    verb, url, request = captured[0]
    assert verb == http_method
    assert url.raw_path == expected_path
    assert set(url.query.keys()) == set(expected_query)
    for name, value in expected_query.items():
        got = url.query.getall(name)
        if isinstance(value, list):
            assert got == value
        elif isinstance(value, bool):
            assert got == ["true"]
        else:
            assert got == [str(value)]
    if body is None:
        assert request.get("data") is None
    elif isinstance(request["data"], aiohttp.FormData):
        fields = request["data"]._fields
        assert [f[0]["name"] for f in fields] == ["file"]
    else:
        sent = json.loads(request["data"])
        assert set(sent) == set(body[1].get("properties", {}))
