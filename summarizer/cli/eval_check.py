"""``summarizer eval check``: every golden file of a dataset against the contract and
the labeling rules.

It calls no model and runs in CI on every change, so it imports only the golden code,
when it runs. A golden file that is broken is a problem of that file: the others are
still checked, and selecting nothing fails (exit 52) rather than passing.
"""

from __future__ import annotations

from typing import Annotated

import typer

from summarizer.cli.errors import handle_errors
from summarizer.cli.eval_options import Selection, with_selection
from summarizer.errors import DatasetError


@with_selection(legacy="argument")
@handle_errors
def eval_check(
    selection: Selection,
    fill_offsets: Annotated[
        bool, typer.Option(help="Write start/end for quotes found verbatim, then check.")
    ] = False,
) -> None:
    """Check every golden file: contract shape, quotes verbatim at their offsets, actors.

    Exit 15 if any fails (each file's problems are listed, and every file is checked),
    52 if there is nothing to check.
    """
    from summarizer.evals.goldens import check_case

    dataset = selection.dataset
    ids = selection.ids()
    failed = 0
    for case_id in ids:
        if not (dataset / "golden" / f"{case_id}.json").is_file():
            typer.echo(f"{case_id}: MISSING golden/{case_id}.json")
            failed += 1
            continue
        problems = check_case(dataset, case_id, fill=fill_offsets)
        failed += bool(problems)
        typer.echo(f"{case_id}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
        for problem in problems:
            typer.echo(f"  - {problem}")
    typer.echo(f"{len(ids) - failed}/{len(ids)} golden files pass")
    if failed:
        raise DatasetError(f"{failed} golden file(s) in {dataset} fail the checks")
