"""The command lines explain themselves: --version, help on every argument, examples,
and a dry run that needs no secret key."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clerk_async import __version__
from clerk_async import cli as clerk_cli
from clerk_async.testing import __main__ as fake_cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def actions(parser: argparse.ArgumentParser, where: str) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from actions(sub, f"{where} {name}")
        else:
            yield f"{where} {'/'.join(action.option_strings) or action.dest}", action


@pytest.mark.parametrize(
    "parser", [clerk_cli._parser(), fake_cli._parser()], ids=["clerk-users", "testing"]
)
def test_every_argument_and_flag_has_help(parser: argparse.ArgumentParser) -> None:
    missing = [name for name, action in actions(parser, parser.prog)
               if not action.help or action.help == argparse.SUPPRESS]
    assert missing == []


def test_version_from_the_installed_script() -> None:
    script = Path(sys.executable).parent / "clerk-users"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"clerk-users {__version__}\n"


def test_import_help_shows_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert clerk_cli.main(["import", "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:\n  clerk-users import examples/users.csv --dry-run" in out
    assert "rows to import: .jsonl" in out


def test_dry_run_needs_no_secret_key(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CLERK_SECRET_KEY", raising=False)
    # An unroutable base URL: a dry run that tried to send anything would fail.
    monkeypatch.setenv("CLERK_API_URL", "http://127.0.0.1:9/v1")
    assert clerk_cli.main(["import", str(EXAMPLES / "users.csv"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "validated (dry run)         50" in out


def test_a_real_run_still_needs_the_key(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CLERK_SECRET_KEY", raising=False)
    assert clerk_cli.main(["import", str(EXAMPLES / "users.csv")]) == 2
    assert "set the CLERK_SECRET_KEY environment variable" in capsys.readouterr().err
