"""Check response bodies against Clerk's published OpenAPI spec.

The spec lives outside the project (``../shared/clerk-openapi``, or the folder
named by ``CLERK_OPENAPI_DIR``); tests that need it skip when it is absent.
OpenAPI 3.0 schemas are turned into JSON Schema 2020-12: ``nullable: true``
becomes ``anyOf: [null, <schema>]`` (correct even beside ``enum``, ``allOf`` or
``oneOf``, where adding "null" to ``type`` would not be), and component refs
point into ``$defs``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from spec import SPEC_DIR

SPEC_FILE = "bapi-2026-05-12.yml"
TOTP_FILE = "create-user-totp-2024-10-01.yml"
_DROP = {"nullable", "discriminator", "example", "examples", "deprecated", "externalDocs", "xml"}


def spec_dir() -> Path:
    return SPEC_DIR


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key.startswith("x-"):
            continue
        if key == "$ref":
            out[key] = value.replace("#/components/schemas/", "#/$defs/")
        elif key in ("properties", "patternProperties"):
            out[key] = {name: _convert(sub) for name, sub in value.items()}
        elif key in ("enum", "required", "default"):
            out[key] = value
        else:
            out[key] = _convert(value)
    if node.get("nullable") is True:
        return {"anyOf": [{"type": "null"}, out]}
    return out


class SpecValidator:
    """Validates (operationId, status, body) triples and remembers what it saw."""

    def __init__(self, folder: Path) -> None:
        import yaml

        spec = yaml.safe_load((folder / SPEC_FILE).read_text())
        totp = yaml.safe_load((folder / TOTP_FILE).read_text())
        self._components = spec["components"]
        for section in ("schemas", "responses"):
            self._components[section].update(totp["components"].get(section, {}))
        self.operations: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for source in (spec, totp):
            for path, item in source["paths"].items():
                for method, op in item.items():
                    if isinstance(op, dict) and "operationId" in op:
                        self.operations[op["operationId"]] = (method.upper(), path, op)
        self._defs = {n: _convert(s) for n, s in self._components["schemas"].items()}
        self._validators: dict[tuple[str, int], Any] = {}
        self.seen: set[tuple[str, int]] = set()

    def _resolve_response(self, response: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in response:
            response = self._components["responses"][response["$ref"].rsplit("/", 1)[-1]]
        return response

    def schema_for(self, operation_id: str, status: int) -> dict[str, Any] | None:
        """The JSON schema for this response; error statuses the spec does not
        declare (or declares without a body) fall back to ClerkErrors, because
        every Clerk error body has that shape."""
        _, _, op = self.operations[operation_id]
        declared = op["responses"].get(str(status)) or op["responses"].get("default")
        schema = None
        if declared is not None:
            content = self._resolve_response(declared).get("content", {})
            schema = content.get("application/json", {}).get("schema")
        if schema is None and status >= 400:
            schema = {"$ref": "#/components/schemas/ClerkErrors"}
        if schema is None and declared is None:
            raise AssertionError(f"{operation_id} has no {status} response in the spec")
        return schema

    def validate(self, operation_id: str, status: int, body: Any) -> None:
        from jsonschema import Draft202012Validator

        key = (operation_id, status)
        if key not in self._validators:
            schema = self.schema_for(operation_id, status)
            root = {"$defs": self._defs, **_convert(schema)} if schema is not None else {}
            self._validators[key] = Draft202012Validator(root)
        errors = sorted(self._validators[key].iter_errors(body), key=lambda e: list(e.path))
        if errors:
            detail = "\n".join(f"  at {list(e.path)}: {e.message[:300]}" for e in errors[:5])
            raise AssertionError(f"{operation_id} {status} body does not match the spec:\n{detail}")
        self.seen.add(key)


@cache
def _load(folder: str) -> SpecValidator | None:
    path = Path(folder)
    if not (path / SPEC_FILE).is_file() or not (path / TOTP_FILE).is_file():
        return None
    return SpecValidator(path)


def load_validator() -> SpecValidator:
    """The shared validator, or skip the calling test when the spec is not there."""
    validator = _load(str(spec_dir()))
    if validator is None:
        pytest.skip(f"Clerk OpenAPI spec not found in {spec_dir()} (set CLERK_OPENAPI_DIR)")
    return validator


class Reply:
    def __init__(self, status: int, body: Any, headers: Any) -> None:
        self.status, self.body, self.headers = status, body, headers

    def __repr__(self) -> str:
        return f"Reply({self.status}, {str(self.body)[:200]})"

    @property
    def code(self) -> str:
        return str(self.body["errors"][0]["code"])


class Api:
    """A raw aiohttp caller that finds method and path by operationId in the spec
    and validates every response body it gets."""

    def __init__(self, session: Any, base_url: str, validator: SpecValidator) -> None:
        self.session, self.base_url, self.spec = session, base_url, validator

    async def call(
        self,
        operation_id: str,
        *path_args: str,
        expect: int | None = 200,
        json: Any = None,
        params: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        from urllib.parse import quote

        method, template, _ = self.spec.operations[operation_id]
        path = template
        for arg in path_args:
            start = path.index("{")
            path = path[:start] + quote(arg, safe="") + path[path.index("}", start) + 1 :]
        assert "{" not in path, f"missing path arguments for {template}"
        async with self.session.request(
            method, self.base_url + path, json=json, params=params, data=data, headers=headers
        ) as response:
            body = await response.json(content_type=None)
            reply = Reply(response.status, body, response.headers)
        self.spec.validate(operation_id, reply.status, body)
        if reply.status >= 400:
            assert reply.headers.get("X-Clerk-Trace-Id") == body["clerk_trace_id"]
            assert set(body["errors"][0]) >= {"message", "long_message", "code", "meta"}
        if expect is not None:
            assert reply.status == expect, reply
        return reply


@asynccontextmanager
async def validated_api(base_url: str, secret_key: str) -> AsyncIterator[Api]:
    """An :class:`Api` on a fresh session authenticated with ``secret_key``."""
    validator = load_validator()
    headers = {"Authorization": f"Bearer {secret_key}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield Api(session, base_url, validator)
