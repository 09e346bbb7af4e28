"""How every command fails: one line on stderr and a distinct exit code, never a traceback.

Users script against the exit codes (see ``summarizer exit-codes``) and read stderr
as one line, so every command is wrapped by :func:`handle_errors` instead of each
repeating the same ``try``/``except`` chain:

* an error this package raises on purpose (:class:`~summarizer.errors.SummarizerError`)
  -> ``summarizer: error: MESSAGE`` and the error's own exit code;
* Ctrl-C -> ``summarizer: interrupted`` (or the command's own message) and 130;
* a closed stdout (``| head``) -> silence and 141, as a shell reports SIGPIPE;
* anything else is a bug -> ``summarizer: internal error: ...`` and 1.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, overload

import typer

from summarizer.errors import SummarizerError

R = TypeVar("R")

INTERRUPTED = "summarizer: interrupted"


def fail(error: BaseException) -> NoReturn:
    """Report ``error`` in one line on stderr and exit with its code."""
    if isinstance(error, BrokenPipeError):
        # The reader went away (`| head`): not an error of ours. Point stdout at
        # devnull so the interpreter's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(141)
    if isinstance(error, SummarizerError):
        typer.echo(f"summarizer: error: {error}", err=True)
        raise typer.Exit(error.exit_code)
    typer.echo(
        f"summarizer: internal error: {type(error).__name__}: {error} "
        "(please report this with the command you ran)",
        err=True,
    )
    raise typer.Exit(1)


def _wrap(command: Callable[..., R], interrupted: str) -> Callable[..., R]:
    @functools.wraps(command)  # typer reads the signature and the help through this
    def run_command(*args: Any, **kwargs: Any) -> R:
        try:
            return command(*args, **kwargs)
        except typer.Exit:  # a RuntimeError: it must not become an "internal error"
            raise
        except KeyboardInterrupt:
            typer.echo(interrupted.format(**kwargs), err=True)
            raise typer.Exit(130) from None
        except Exception as error:  # noqa: BLE001 - the CLI must never show a traceback
            fail(error)

    return run_command


@overload
def handle_errors(command: Callable[..., R], /) -> Callable[..., R]: ...


@overload
def handle_errors(*, interrupted: str) -> Callable[[Callable[..., R]], Callable[..., R]]: ...


def handle_errors(
    command: Callable[..., R] | None = None, /, *, interrupted: str = INTERRUPTED
) -> Callable[..., R] | Callable[[Callable[..., R]], Callable[..., R]]:
    """Wrap a command so that it fails as the module docstring says.

    Use it bare (``@handle_errors``) or with the line to print on Ctrl-C, a
    :meth:`str.format` template filled with the command's parameters, e.g.
    ``@handle_errors(interrupted="summarizer: interrupted; results are in {out}")``.
    Put it right under the typer registration (``@app.command()``), above any other
    wrapper such as :func:`~summarizer.cli.options.with_model_options`, so that
    everything the command does, its imports included, is covered.
    """
    if command is not None:
        return _wrap(command, interrupted)
    return lambda command: _wrap(command, interrupted)
