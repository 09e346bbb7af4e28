"""The embedded model's live status line on stderr: elapsed time, tokens, tokens/s.

An answer from the embedded model takes a minute or more on two cores; without this
the CLI printed one notice and then nothing. Drawn only when stderr is a terminal,
in place, and gone when the answer is (nothing is left in the scrollback, and
stdout, where the JSON goes, is never touched). Elsewhere (CI logs, pipes) the
library's plain log lines on ``summarizer.local`` serve instead, when logging is on
(``-v``). Imported by the commands that run a model, inside the command: rich costs
start-up time that ``--help`` need not pay.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from summarizer.backends.progress import LOG, GenerationProgress, ReportsProgress

REFRESH_PER_SECOND = 4


class _DropPeriodic(logging.Filter):
    """The periodic progress log lines say what the live line already shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "progress", None) != "periodic"


class GenerationStatus:
    """Draws the line; :meth:`update` is the backend's ``on_progress``.

    ``update`` runs on the generating thread, once per report (at most 4 a second);
    the line itself is redrawn by rich's own thread, so its clock keeps moving while
    llama.cpp reads the prompt, when no report comes for seconds.
    """

    def __init__(self, console: Console, *, clock: Callable[[], float] = time.perf_counter) -> None:
        self.console = console
        self.clock = clock
        self.answers = 0
        self._latest: GenerationProgress | None = None
        self._at = 0.0
        self._lock = threading.Lock()
        self._spinner = Spinner("dots", style="cyan")
        self._live: Live | None = None

    def update(self, progress: GenerationProgress) -> None:
        with self._lock:
            self._latest, self._at = progress, self.clock()
            if progress.done:
                self._stop()
            elif self._live is None:
                self.answers += 1
                self._live = Live(
                    console=self.console,
                    get_renderable=self.render,
                    refresh_per_second=REFRESH_PER_SECOND,
                    transient=True,
                    redirect_stdout=False,
                    redirect_stderr=False,
                )
                self._live.start()

    def line(self) -> str:
        """The status text for the latest report, its clock moved to now."""
        progress = self._latest
        if progress is None:
            return "embedded model: starting"
        elapsed = progress.elapsed_s + (0.0 if progress.done else self.clock() - self._at)
        answer = f"answer {self.answers}, " if self.answers > 1 else ""
        if progress.first_token_s is None:
            return f"embedded model: {answer}reading the article, {elapsed:.0f} s"
        rate = progress.tokens_per_s
        speed = f", {rate:.1f} tokens/s" if rate is not None else ""
        return (
            f"embedded model: {answer}{progress.tokens}/{progress.max_tokens} tokens, "
            f"{elapsed:.0f} s (first token after {progress.first_token_s:.1f} s{speed})"
        )

    def render(self) -> Any:
        self._spinner.update(text=Text(self.line()))
        return self._spinner

    def _stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def close(self) -> None:
        with self._lock:
            self._stop()


def is_quiet() -> bool:
    return logging.getLogger("summarizer").getEffectiveLevel() >= logging.ERROR


@contextlib.contextmanager
def generation_status(
    backend: object, *, console: Console | None = None
) -> Iterator[GenerationStatus | None]:
    """Show the live line while the block runs, if the backend reports progress,
    stderr is a terminal and the command is not quiet (``-q`` sets the ``summarizer``
    logger to ERROR); yields the status (None when nothing is drawn)."""
    if not isinstance(backend, ReportsProgress) or is_quiet():
        yield None
        return
    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    status = GenerationStatus(console)
    previous = backend.on_progress
    backend.on_progress = status.update
    quiet = _DropPeriodic()
    LOG.addFilter(quiet)
    try:
        yield status
    finally:
        status.close()
        backend.on_progress = previous
        LOG.removeFilter(quiet)
