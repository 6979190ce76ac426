"""The benchmark report's plumbing: the README block is generated between its
markers, only a full run may rewrite the committed report, ranges and ratios
are computed round by round."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module(name)


def test_readme_has_one_generated_block() -> None:
    report = _load("_report")
    text = (BENCH.parent / "README.md").read_text(encoding="utf-8")
    assert text.count(report.README_START) == 1 and text.count(report.README_END) == 1
    assert text.index(report.README_START) < text.index(report.README_END)


def test_readme_block_is_replaced_in_place_from_the_report() -> None:
    report = _load("_report")
    run = report.Report(quick=False)
    run.headlines.append(["bulk import", "12 s, 0 429s", "16 s", "1.3x faster"])
    run.claims.append("Ours is honest.")
    run.targets.append(report.Target("cold start", "+80 ms", "<= +30 ms", False))
    text = f"intro\n{report.README_START}\nold figures\n{report.README_END}\nrest\n"
    new = report.replace_block(text, report.readme_block(run))
    assert new.startswith("intro\n" + report.README_START + "\n")
    assert new.endswith(report.README_END + "\nrest\n")
    assert "old figures" not in new
    assert "| bulk import | 12 s, 0 429s | 16 s | 1.3x faster |" in new
    assert "- Ours is honest." in new
    assert "missed: cold start." in new
    with pytest.raises(ValueError, match="exactly one"):
        report.replace_block("no markers here", "x")
    with pytest.raises(ValueError, match="exactly one"):
        report.replace_block(text + text, "x")


def test_spreads_and_round_by_round_ratios() -> None:
    report = _load("_report")
    assert report.per_round([2.0, 3.0], [1.0, 2.0]) == [2.0, 1.5]
    with pytest.raises(ValueError):
        report.per_round([1.0, 2.0], [1.0])  # rounds must pair up
    assert report.ratio_range([1.0, 1.2, 1.1]) == "1.10x (1.00-1.20)"
    assert report.ratio_range([1.0]) == "1.00x (1 round)"
    assert report.spread([90.0, 100.0, 110.0]) == "±10%"
    assert report.spread([5.0]) == "(1 run)"
    assert report.rounded_range([24.6, 37.4]) == "25-37"
    assert report.rounded_range([1.04, 1.01]) == "1"  # two significant figures only
    assert report.rounded_range([1.04, 1.4]) == "1-1.4"


@pytest.mark.parametrize("argv", [["--quick"], ["--only", "bulk"]])
def test_partial_runs_refuse_to_overwrite_the_committed_report(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    run = _load("run")
    with pytest.raises(SystemExit) as exc:
        run.main([*argv, "--out", str(BENCH)])
    assert exc.value.code == 2
    assert "may not overwrite the committed report" in capsys.readouterr().err
