"""How much a command says on stderr: ``-v`` (what it is doing), ``-vv`` (more),
``-q`` (errors only); the app's global options.

The library only logs, on loggers under ``summarizer.`` (model requests with their
latency and tokens, re-asks and why, transport retries and the wait, cache hits);
this is the one place a handler is installed for them. By default none is, so a
command prints exactly what it printed before: warnings reach stderr through
logging's last resort. ``-q`` raises the bar to errors and silences notices (the
embedded model's "using the embedded model" line), which commands print through
:func:`notice`.
"""

from __future__ import annotations

import logging
import sys

import typer

_handler: logging.Handler | None = None
_quiet = False


class _Lines(logging.Formatter):
    """``summarizer [  1.23s] what happened``: seconds since the program started."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage().removeprefix("summarizer: ")
        return f"summarizer [{record.relativeCreated / 1000:6.2f}s] {text}"


def configure(verbose: int, quiet: bool) -> None:
    """Set this process's verbosity; called again (tests run many commands in one
    process), it replaces what it set before."""
    global _handler, _quiet
    if verbose and quiet:
        raise typer.BadParameter("-v/--verbose and -q/--quiet contradict each other")
    logger = logging.getLogger("summarizer")
    if _handler is not None:
        logger.removeHandler(_handler)
        _handler = None
    _quiet = quiet
    logger.setLevel(logging.ERROR if quiet else logging.NOTSET)
    if verbose:
        # Bound to the stderr of now: a test runner swaps sys.stderr per command.
        _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(_Lines())
        logger.addHandler(_handler)
        logger.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)


def notice(text: str) -> None:
    """A line for the person at the terminal (which model runs, ...), unless ``-q``."""
    if not _quiet:
        typer.echo(f"summarizer: {text}", err=True)
