"""``summarizer eval baseline NAME``: a no-model method's candidates for a dataset.

They are written like ``eval run`` writes a model's, to be scored by ``eval score``:
the floor a model must beat. No model SDK is imported, and milliseconds an article.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from summarizer.cli.errors import handle_errors
from summarizer.cli.eval_options import Selection, with_selection
from summarizer.cli.eval_results import check_writable
from summarizer.errors import DatasetError


@with_selection()
@handle_errors
def eval_baseline(
    name: Annotated[str, typer.Argument(help="The method: lead or textrank.")],
    selection: Selection,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the <id>.json candidates.")],
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute every summary.")] = False,
) -> None:
    """Write a no-model method's candidates for a dataset (no model call, milliseconds an
    article), to score with `eval score` like a model's: the floor a model must beat.
    """
    from summarizer.cache import ResponseCache
    from summarizer.evals.baselines import check_method, write_baseline

    check_method(name)
    dataset = selection.dataset
    ids = selection.ids()
    check_writable(out, "--out", folder=True)
    cache = None if no_cache else ResponseCache()
    try:
        errors = write_baseline(dataset, name, out, ids, cache=cache)
    finally:
        if cache is not None:
            cache.close()
    for case_id, message in errors.items():
        typer.echo(f"  {case_id}: {message}", err=True)
    typer.echo(f"wrote {len(ids) - len(errors)} {name} candidates to {out}")
    typer.echo(f"score them: summarizer eval score {selection.flags()} --candidates {out}")
    if errors:
        raise DatasetError(f"{len(errors)} article(s) of {dataset} could not be read")
