"""The project's test command: every gate CI enforces, in one place.

Run as ``.venv/bin/python scripts/check.py`` (the README's test command).
Stops at the first failing gate and exits with its status; pytest's "no tests
collected" (exit 5) is a failure too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC_DIR = ROOT.parent / "shared" / "clerk-openapi"
PY = sys.executable

GATES: list[tuple[str, list[str]]] = [
    ("ruff", [PY, "-m", "ruff", "check", "."]),
    ("mypy", [PY, "-m", "mypy", "--strict", "clerk_async", "clerk_sync"]),
    ("generated models are current", [PY, "scripts/gen_models.py", "--check"]),
    # coverage runs pytest (rather than pytest-cov inside it) because our own
    # pytest plugin imports clerk_async before pytest-cov would start measuring.
    ("pytest", [PY, "-m", "coverage", "run", "-m", "pytest", "-q", "-p", "no:cacheprovider"]),
    ("coverage >= 90%", [PY, "-m", "coverage", "report", "--skip-covered", "--fail-under=90"]),
    # A smoke run only: it proves the benchmarks still work; CI machines are
    # too noisy for their thresholds to gate anything.
    ("benchmarks (smoke)", [PY, "benchmarks/run.py", "--quick"]),
]


def main() -> int:
    for name, command in GATES:
        if name.startswith("generated") and not SPEC_DIR.is_dir():
            print(f"== {name}: skipped, {SPEC_DIR} is absent", flush=True)
            continue
        print(f"== {name}", flush=True)
        status = subprocess.call(command, cwd=ROOT)
        if status != 0:
            print(f"== {name} failed (exit {status})", flush=True)
            return status or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
