"""``summarizer eval``: golden datasets and evals, one module per command.

``check`` (:mod:`.eval_check`), ``baseline`` (:mod:`.eval_baseline`), ``score``
(:mod:`.eval_score`) and ``run`` (:mod:`.eval_run`) share their dataset and selection
options (:mod:`.eval_options`: ``--dataset/-d``, ``--only``, ``--limit``) and the way
results are written and gated (:mod:`.eval_results`). This module only gathers them
into ``eval_app``, which :mod:`summarizer.cli.app` registers as ``eval``; the order
below is the order ``summarizer eval --help`` lists them in.

``check`` and ``score`` call no model and run in CI on every change: like every
command module, these import only typer and their own option types at import time.
"""

from __future__ import annotations

import typer

from summarizer.cli.eval_baseline import eval_baseline
from summarizer.cli.eval_check import eval_check
from summarizer.cli.eval_compare import eval_compare
from summarizer.cli.eval_options import HiddenArgumentCommand
from summarizer.cli.eval_run import eval_run
from summarizer.cli.eval_score import eval_score

eval_app = typer.Typer(help="Golden datasets and evals.", no_args_is_help=True)

eval_app.command("check", cls=HiddenArgumentCommand)(eval_check)  # old: `check DATASET`
eval_app.command("baseline")(eval_baseline)
eval_app.command("score")(eval_score)
eval_app.command("run")(eval_run)
eval_app.command("compare")(eval_compare)
# More eval commands register here, one line each (with their import above).
