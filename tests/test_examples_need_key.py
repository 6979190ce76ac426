"""The examples refuse to start without CLERK_SECRET_KEY, saying so in one line,
instead of starting and answering every request with "Clerk is unreachable"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def without_key() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CLERK_SECRET_KEY"}


def test_fastapi_example_refuses_to_start_without_a_key() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "examples.fastapi_app.main:app", "--port", "0"],
        cwd=ROOT, env=without_key(), capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert errors[0] == (
        "ERROR:    fastapi_app: CLERK_SECRET_KEY is not set; export your Clerk secret key "
        "(or a FakeClerk's, see the README) before starting"
    ), result.stderr
    assert "Traceback" not in result.stderr


def test_django_example_refuses_to_start_without_a_key() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "runserver", "--noreload", "127.0.0.1:0"],
        cwd=ROOT / "examples" / "django_project", env=without_key(),
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "django_project: CLERK_SECRET_KEY is not set; export your Clerk secret key "
        "(or a FakeClerk's, see the README) before starting\n"
    )
