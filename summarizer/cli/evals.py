"""``summarizer eval``: golden datasets and evals, one module per command.

``check`` (:mod:`.eval_check`), ``baseline`` (:mod:`.eval_baseline`), ``score``
(:mod:`.eval_score`) and ``run`` (:mod:`.eval_run`) share their dataset and selection
options (:mod:`.eval_options`: ``--dataset/-d``, ``--only``, ``--limit``) and the way
results are written and gated (:mod:`.eval_results`). This module only names them, in
``eval_commands``, which :mod:`summarizer.cli.app` registers as ``eval``; the order
below is the order ``summarizer eval --help`` lists them in.

``check`` and ``score`` call no model and run in CI on every change: like every
command module, these import only typer and their own option types at import time,
and each command's module is imported only when it runs (or ``--help`` lists it):
``eval score`` does not wait for ``eval run``'s model options to be built (see
:mod:`summarizer.cli.lazy_commands`). ``eval_app``, the same commands as a plain
``typer.Typer`` with all of them imported, is made when something asks for it.
"""

from __future__ import annotations

import functools

import typer

from summarizer.cli.eval_options import HiddenArgumentCommand
from summarizer.cli.lazy_commands import Lazy, LazyTyper

eval_commands = LazyTyper(
    commands=(
        # old: `check DATASET`, hidden from the usage line too
        Lazy("check", "summarizer.cli.eval_check:eval_check", {"cls": HiddenArgumentCommand}),
        Lazy("baseline", "summarizer.cli.eval_baseline:eval_baseline"),
        Lazy("score", "summarizer.cli.eval_score:eval_score"),
        Lazy("run", "summarizer.cli.eval_run:eval_run"),
        Lazy("compare", "summarizer.cli.eval_compare:eval_compare"),
        # More eval commands register here, one line each.
    ),
    help="Golden datasets and evals.",
    no_args_is_help=True,
)


@functools.cache
def _eval_app() -> typer.Typer:
    return eval_commands.eager()


def __getattr__(name: str) -> typer.Typer:
    """``eval_app``: every eval command imported and registered in a plain Typer, for
    code that reads typer's ``registered_commands`` (the CLI uses ``eval_commands``)."""
    if name == "eval_app":
        return _eval_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
