"""The batch progress bar: done / failed / cached / tokens / cost / rate / ETA on stderr.

Drawn only when stderr is a terminal (or when asked), so logs and CI output stay
clean; the one-line summary at the end is printed either way. Imported by the
``batch`` command only: rich costs start-up time the other commands need not pay.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:  # the package imports the batch runner; only `batch` may pay for it
    from summarizer.batch import BatchStats


def describe_stats(stats: BatchStats) -> str:
    """``"498 ok, 2 failed (31 cached), 1,234,567 tokens, $0.1234, 12.3 s"``."""
    info = stats.as_dict()
    articles = info["articles"]
    parts = [f"{articles['ok']} ok", f"{articles['failed']} failed"]
    if stats.cached:
        parts[-1] += f" ({stats.cached} cached)"
    if stats.skipped:
        parts.append(f"{stats.skipped} already done")
    if stats.not_started:
        parts.append(f"{stats.not_started} not started")
    parts.append(f"{stats.tokens:,} tokens")
    parts.append("cost unknown" if stats.cost_usd is None else f"${stats.cost_usd:.4f}")
    parts.append(f"{info['wall_s']:.1f} s")
    return ", ".join(parts)


class BatchProgress:
    """A context manager; pass :meth:`update` as the batch's ``on_change``."""

    def __init__(self, total: int, *, enabled: bool | None = None) -> None:
        console = Console(stderr=True)
        self.enabled = console.is_terminal if enabled is None else enabled
        self._progress = Progress(
            TextColumn("[bold]summarizing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not self.enabled,
            refresh_per_second=4,
        )
        self._task: TaskID = self._progress.add_task("batch", total=total, detail="")

    def update(self, stats: BatchStats) -> None:
        if not self.enabled:
            return
        elapsed = max(stats.as_dict()["wall_s"], 1e-9)
        cost = "" if stats.cost_usd is None else f" ${stats.cost_usd:.4f}"
        detail = (
            f"failed {stats.failed} cached {stats.cached} "
            f"tokens {stats.tokens:,}{cost} {stats.done / elapsed:.1f}/s"
        )
        self._progress.update(self._task, completed=stats.skipped + stats.done, detail=detail)

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()
