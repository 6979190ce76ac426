"""The README's quickstart runs as written (against FakeClerk via the env vars it documents)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from clerk_async.testing import FakeClerk

README = Path(__file__).resolve().parents[1] / "README.md"


def python_block(heading: str) -> str:
    text = README.read_text()
    section = text.split(f"## {heading}\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block under {heading!r}"
    return match.group(1)


async def test_quickstart_runs_as_written(fake_clerk: FakeClerk) -> None:
    code = python_block("Quickstart")
    env = {**os.environ, "CLERK_SECRET_KEY": fake_clerk.secret_key,
           "CLERK_API_URL": fake_clerk.base_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-W", "error::ResourceWarning", "-c", code, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    assert err == b""
    assert b"404 resource_not_found" in out
    assert fake_clerk.stats.users == 1
