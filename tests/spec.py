"""Reading Clerk's OpenAPI spec in tests: where it is, the 37 operations, and
example payloads built from its schemas.

The spec stays in ``../shared/clerk-openapi/`` (never copied into the project);
tests that need it skip with a clear reason when it is absent.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import pytest

SPEC_DIR = Path(
    os.environ.get("CLERK_OPENAPI_DIR")
    or Path(__file__).resolve().parents[2] / "shared" / "clerk-openapi"
)
MAIN_SPEC = SPEC_DIR / "bapi-2026-05-12.yml"
TOTP_SPEC = SPEC_DIR / "create-user-totp-2024-10-01.yml"
TABLE = SPEC_DIR / "README.md"

requires_spec = pytest.mark.skipif(
    not MAIN_SPEC.is_file(),
    reason=f"Clerk's OpenAPI spec not found at {SPEC_DIR} (set CLERK_OPENAPI_DIR)",
)


@functools.cache
def spec() -> dict[str, Any]:
    """The main spec with the CreateUserTOTP fragment merged in."""
    import yaml

    main: dict[str, Any] = yaml.safe_load(MAIN_SPEC.read_text())
    extra: dict[str, Any] = yaml.safe_load(TOTP_SPEC.read_text())
    for path, item in extra["paths"].items():
        main["paths"].setdefault(path, {}).update(item)
    for section, entries in extra["components"].items():
        main["components"].setdefault(section, {}).update(entries)
    return main


@functools.cache
def operation_table() -> list[tuple[str, str]]:
    """(SDK method name, operationId) for every row of the table, in order."""
    rows: list[tuple[str, str]] = []
    for line in TABLE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not re.fullmatch(r"[A-Z]\w+( / [A-Z]\w+)*", cells[1]):
            continue
        methods = [m.strip() for m in cells[0].split("/")]
        op_ids = [o.strip() for o in cells[1].split("/")]
        rows.extend(zip(methods, op_ids, strict=True))
    return rows


@functools.cache
def operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (HTTP method, path template, operation object)."""
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in spec()["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                found[op["operationId"]] = (method.upper(), path, op)
    return found


def resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def parameters(op: dict[str, Any]) -> list[dict[str, Any]]:
    return [resolve(p) for p in op.get("parameters", [])]


def request_schema(op: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    body = op.get("requestBody")
    if not body:
        return None
    content_type, media = next(iter(resolve(body)["content"].items()))
    return content_type, resolve(media["schema"])


def response_schema(op: dict[str, Any], status: str = "200") -> dict[str, Any]:
    response = resolve(op["responses"][status])
    return resolve(response["content"]["application/json"]["schema"])


def example(schema: Any, *, nulls: bool = False, depth: int = 0) -> Any:
    """A maximal instance: every property present; nullable ones null if ``nulls``."""
    schema = resolve(schema)
    if nulls and schema.get("nullable") and depth > 0:
        return None
    for key in ("oneOf", "anyOf", "allOf"):
        # A schema with its own properties uses these only as constraints.
        if key in schema and "properties" not in schema:
            return example(schema[key][0], nulls=nulls, depth=depth)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties")
        if not props:
            return {"key": "value", "nested": {"n": 1}}
        return {
            name: example(sub, nulls=nulls, depth=depth + 1) for name, sub in props.items()
        }
    if kind == "array":
        return [example(schema["items"], nulls=nulls, depth=depth + 1)]
    if kind == "integer":
        return 7
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if schema.get("format") == "date-time":
        return "2026-05-12T10:00:00Z"
    return "text"
