"""The progress display of ``clerk-users import``.

On a terminal it is a ``rich`` progress bar: rich fits it to the width,
redraws it in place and leaves it standing at the end. Anywhere else (a pipe,
a log file) it is a plain line now and then, without any control code.

While requests are answered 429 the line says ``rate limited``: that is when
a 429 has come in since the last row finished (the transport then holds
every request until the block is over, so no row finishes either).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from ._stats import ClientStats
from .bulk import BulkProgress

if TYPE_CHECKING:
    from rich.progress import Progress, Task

__all__ = ["ImportDisplay", "progress_line"]

#: Seconds between two plain lines when the output is not a terminal.
LOG_INTERVAL = 10.0


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress_line(p: BulkProgress, state: str) -> str:
    """One plain line for logs: the same facts as the bar, no bar."""
    done = f"{p.done}/{p.total}" if p.total else f"{p.done}"
    parts = [state, f"{done} rows", f"{p.rate_per_s:.1f} users/s"]
    if p.total and p.rate_per_s > 0:
        parts.append(f"ETA {_duration((p.total - p.done) / p.rate_per_s)}")
    if p.failed:
        parts.append(f"failed {p.failed}")
    return "  ".join(parts)


class ImportDisplay:
    """Shows :class:`BulkProgress` snapshots; call :meth:`close` at the end."""

    def __init__(self, stream: IO[str], total: int | None, stats: ClientStats, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.total = total
        self.stats = stats
        self.clock = clock
        self.latest = BulkProgress(0, total, 0, 0, 0.0, 0.0)
        self.limited_seen = stats.rate_limited
        self.last_line = clock()
        self.bar: Progress | None = None
        if getattr(stream, "isatty", lambda: False)():
            self.bar = self._rich_bar()

    def state(self) -> str:
        return "rate limited" if self.stats.rate_limited > self.limited_seen else "importing"

    def _rich_bar(self) -> Progress:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        display = self

        class State(ProgressColumn):
            # Rendered by rich's refresh thread too, so a back-off shows while
            # no row finishes and no snapshot arrives.
            def render(self, task: Task) -> Text:
                state = display.state()
                return Text(f"{state:<12}", style="yellow" if state != "importing" else "")

        bar = Progress(
            State(), BarColumn(bar_width=16), MofNCompleteColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
            TextColumn("{task.fields[failed]}"),
            console=Console(file=self.stream), refresh_per_second=4,
        )
        self.task = bar.add_task("import", total=self.total, rate="", failed="")
        bar.start()
        return bar

    def __call__(self, progress: BulkProgress) -> None:
        if progress.done > self.latest.done:
            self.limited_seen = self.stats.rate_limited  # a row got through
        self.latest = progress
        if self.bar is not None:
            self.bar.update(self.task, completed=progress.done, **self._fields(progress))
            return
        now = self.clock()
        if now - self.last_line >= LOG_INTERVAL:
            self.last_line = now
            self._line()

    @staticmethod
    def _fields(p: BulkProgress) -> dict[str, Any]:
        return {"rate": f"{p.rate_per_s:.1f}/s", "failed": f"failed {p.failed}" if p.failed
                else ""}

    def _line(self, state: str | None = None) -> None:
        self.stream.write(progress_line(self.latest, state or self.state()) + "\n")
        self.stream.flush()

    def close(self, *, finished: bool) -> None:
        """Draw the last state and leave it on screen (or write the last line)."""
        if finished:
            self.limited_seen = self.stats.rate_limited
        if self.bar is not None:
            self.bar.update(self.task, completed=self.latest.done, **self._fields(self.latest))
            self.bar.stop()
        elif finished:  # after a stop, the error says what happened
            self._line("finished")
