"""The benchmark report: targets, spreads, RESULTS.md, the chart and the README's block.

Not a public module; ``run.py`` imports it as ``_report``. Everything a reader
sees comes from one run's numbers: the README's performance table is written
between :data:`README_START` and :data:`README_END` by the same run that
writes RESULTS.md, never by hand.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


@dataclass
class Target:
    name: str
    measured: str
    goal: str
    ok: bool | None  # None: not measured (contender missing)
    ratio: float | None = None  # measured / limit, for the chart (<= 1 passes)


@dataclass
class Report:
    quick: bool
    notes: list[str] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)  # (title, markdown)
    targets: list[Target] = field(default_factory=list)
    chart: dict[str, dict[str, float]] = field(default_factory=dict)
    # The README's table: (what, clerk-users, clerk-backend-api, comparison) per row,
    # and sentences under it; each a section's own summary of its medians and ranges.
    headlines: list[list[str]] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)

    def log(self, text: str) -> None:
        print(text, flush=True)

    def merge(self, part: Report) -> None:
        self.notes += part.notes
        self.sections += part.sections
        self.targets += part.targets
        self.headlines += part.headlines
        self.claims += part.claims
        for key, values in part.chart.items():
            self.chart.setdefault(key, {}).update(values)


# --------------------------------------------------------------------------- numbers


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt(value: float, unit: str = "") -> str:
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def spread(values: Sequence[float]) -> str:
    """The rounds' half-range around their median, as ``±N%`` (``1 run`` for one value)."""
    if len(values) < 2:
        return "(1 run)"
    mid = median(values)
    if mid == 0:
        return f"(range {min(values):g}-{max(values):g})"
    return f"±{(max(values) - min(values)) / 2 / abs(mid) * 100:.0f}%"


def cell(values: Sequence[float], unit: str = "") -> str:
    """A table cell: the median of the rounds and their spread."""
    return f"{fmt(median(values), unit)} {spread(values)}"


def per_round(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Round-by-round ratios: round i of each contender ran under the same machine load."""
    return [n / d for n, d in zip(numerators, denominators, strict=True)]


def ratio_range(ratios: Sequence[float], digits: int = 2) -> str:
    """``1.08x (1.02-1.15)``: the median of per-round ratios and their range."""
    if len(ratios) < 2:
        return f"{median(ratios):.{digits}f}x (1 round)"
    return (f"{median(ratios):.{digits}f}x "
            f"({min(ratios):.{digits}f}-{max(ratios):.{digits}f})")


def rounded(value: float) -> str:
    """Two significant figures, for the README's ranges (no false precision)."""
    if value == 0:
        return "0"
    return f"{float(f'{value:.2g}'):g}"


def rounded_range(values: Sequence[float]) -> str:
    lo, hi = rounded(min(values)), rounded(max(values))
    return lo if lo == hi else f"{lo}-{hi}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- RESULTS.md


def _versions() -> list[tuple[str, str]]:
    out = [("python", platform.python_version())]
    for dist in ("clerk-users", "aiohttp", "attrs", "cattrs", "orjson", "anyio",
                 "clerk-backend-api", "httpx", "pydantic", "pydantic-core"):
        try:
            out.append((dist, importlib.metadata.version(dist)))
        except importlib.metadata.PackageNotFoundError:
            out.append((dist, "not installed"))
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores"


def _result(t: Target) -> str:
    return "n/a" if t.ok is None else ("pass" if t.ok else "**miss**")


def write_markdown(report: Report, path: Path, png_name: str, elapsed: float) -> None:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks: clerk-users vs Clerk's official Python SDK",
        "",
        "Generated by `python benchmarks/run.py`"
        + (" --quick (smoke run: few rounds, small sizes)" if report.quick else "")
        + f" in {elapsed:.0f} s. Reproduce: `pip install -e '.[bench]' && "
        "python benchmarks/run.py`. Every figure is the median of alternated rounds "
        "with its spread (±half the range of the rounds) or its range of per-round "
        "ratios; a wide spread means a busy machine, so compare ratios, not absolutes.",
        "",
        f"- Date: {now}",
        f"- Machine: {machine()}; load average at the end of the run "
        + "/".join(f"{x:.1f}" for x in os.getloadavg())
        + " (1/5/15 min: other work on the machine widens the spreads)",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in _versions()),
        "",
        "## Targets",
        "",
        table(["target", "measured", "goal", "result"],
              [[t.name, t.measured, t.goal, _result(t)] for t in report.targets]),
        "",
    ]
    if png_name:
        lines += [f"![ratios]({png_name})", ""]
    for claim in report.claims:
        lines += [claim, ""]
    for note in report.notes:
        lines += [f"> Note: {note}", ""]
    for title, body in report.sections:
        lines += [f"## {title}", "", body, ""]
    path.write_text("\n".join(lines), encoding="utf-8")


# --------------------------------------------------------------------------- README block


def readme_block(report: Report) -> str:
    """The README's performance table and claims, from this run only."""
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    misses = [t.name.replace("`", "") for t in report.targets if t.ok is False]
    lines = [
        f"Generated by `python benchmarks/run.py` on {date} ({machine()}); medians of "
        "alternated rounds, ranges across rounds. Full tables, spreads, method and "
        "versions: [benchmarks/RESULTS.md](benchmarks/RESULTS.md).",
        "",
        table(["", "clerk-users", "clerk-backend-api", ""], report.headlines),
        "",
    ]
    if report.claims:
        lines += [*(f"- {claim}" for claim in report.claims), ""]
    if misses:
        lines += ["Targets this run missed: " + "; ".join(misses) + "."]
    return "\n".join(lines).strip()


def replace_block(text: str, block: str) -> str:
    """``text`` with everything between the README markers replaced by ``block``."""
    if text.count(README_START) != 1 or text.count(README_END) != 1:
        raise ValueError(f"expected exactly one {README_START} … {README_END} pair")
    head, rest = text.split(README_START)
    _, tail = rest.split(README_END)
    return f"{head}{README_START}\n{block}\n{README_END}{tail}"


def write_readme(report: Report, path: Path) -> None:
    path.write_text(replace_block(path.read_text(encoding="utf-8"), readme_block(report)),
                    encoding="utf-8")


# --------------------------------------------------------------------------- chart


def write_chart(report: Report, path: Path) -> bool:
    try:
        import matplotlib
    except ImportError:
        report.notes.append("matplotlib is not installed: no chart")
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [t for t in report.targets if t.ratio is not None]
    speedups = report.chart.get("official (async) / ours (async)", {})
    extra = report.chart.get("official / ours", {})
    panels = 2 if (speedups or extra) else 1
    fig, axes = plt.subplots(panels, 1, figsize=(10, 3 + 0.45 * len(measured) + 2 * (panels - 1)),
                             squeeze=False)
    ax = axes[0][0]
    names = [t.name.replace("`", "") for t in measured][::-1]
    values = [t.ratio for t in measured][::-1]
    colors = ["tab:green" if v is not None and v <= 1 else "tab:red" for v in values]
    ax.barh(names, values, color=colors)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xlabel("measured / target limit (<= 1 passes)")
    ax.set_title("Targets (medians)")
    ax.tick_params(axis="y", labelsize=8)
    if panels == 2:
        ax2 = axes[1][0]
        items = {**{f"CPU/request {k}": v for k, v in speedups.items()}, **extra}
        dec = report.chart.get("decode / json.loads", {})
        if "official" in dec and dec.get("ours"):
            items["decode 500-user page"] = dec["official"] / dec["ours"]
        ax2.barh(list(items)[::-1], list(items.values())[::-1], color="tab:blue")
        ax2.set_xscale("log")
        ax2.axvline(1.0, color="black", linewidth=1)
        ax2.set_xlabel("official SDK / ours (x times faster, log scale)")
        ax2.set_title("Speed-up over clerk-backend-api")
        ax2.tick_params(axis="y", labelsize=8)
        for y, v in enumerate(list(items.values())[::-1]):
            ax2.text(v, y, f" {v:.1f}x", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
