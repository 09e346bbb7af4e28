"""``summarizer eval compare``: several eval runs (models, prompts) side by side.

It reads reports only, calls no model and imports only the comparison code when it
runs (:mod:`summarizer.evals.compare`). The first report is the one the others are
compared with. It is not a gate: it exits 0 whatever the scores (``eval run
--baseline`` is the gate); a report that cannot be read fails with exit 11 or 15
before anything is printed or written (one over 64 MB with exit 24, from its size,
before it is read). ``-o`` writes what would be shown: the HTML page, or with
``--json`` the JSON (then not printed).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Annotated

import typer

from summarizer.cli.errors import handle_errors
from summarizer.errors import ConfigurationError


@handle_errors
def eval_compare(
    reports: Annotated[
        list[Path],
        typer.Argument(
            help="Two or more report.json files (or run folders holding one); the first "
            "is the one the others are compared with.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Also write the comparison as one HTML page (with --json: write the JSON "
            "here instead of printing it).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The comparison as JSON instead of tables.")
    ] = False,
    max_drop: Annotated[
        float,
        typer.Option(help="An article whose overall drops more than this is a regression."),
    ] = 0.05,
) -> None:
    """Compare eval runs: each run's means beside the lead floor, and per article each
    run's scores, the best of each row and the change from the first run.

    An article a run has no result for is shown as missing there, not as 0. Runs on
    different datasets or goldens are compared with a warning.
    """
    from summarizer.cli.eval_results import check_writable
    from summarizer.evals.compare import compare_runs, load_runs, render_compare_html
    from summarizer.evals.report import print_comparison

    if len(reports) < 2:
        raise ConfigurationError("eval compare needs two or more reports to compare")
    if not math.isfinite(max_drop) or max_drop < 0:
        raise ConfigurationError(f"--max-drop {max_drop:g}: expected a number from 0 to 1")
    if out is not None:
        check_writable(out, "--out")
    comparison = compare_runs(load_runs(reports), max_drop=max_drop)
    text = json.dumps(comparison, indent=2, ensure_ascii=False) + "\n" if as_json else ""
    if out is not None:
        _write_whole(out, text if as_json else render_compare_html(comparison, out))
    for warning in comparison["warnings"]:
        typer.echo(f"summarizer: warning: {warning}", err=True)
    if as_json and out is not None:
        typer.echo(f"json: {out}", err=True)
    elif as_json:
        typer.echo(text, nl=False)
    else:
        print_comparison(comparison)
        if out is not None:
            typer.echo(f"html: {out}")


def _write_whole(path: Path, text: str) -> None:
    """``text`` into ``path`` whole or not at all (a page open in a browser is never
    left half-written)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ConfigurationError(f"--out {path}: cannot write it: {e.strerror or e}") from e
