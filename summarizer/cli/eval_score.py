"""``summarizer eval score``: candidate summaries scored against a dataset's goldens.

It calls no model and runs in CI on every change, so it imports the golden and scoring
code only when it runs. Every selected article is expected to have a candidate: one
that has none is listed as missing, not scored as 0 (31 zeros in a mean of 33 would
read as a terrible model rather than a half-empty folder), and the command fails
(exit 53) unless ``--allow-missing``, with the reports written first. One that is
there but not a summary (not JSON, the wrong shape, over 2 MB, a folder or a FIFO) is
the model's or tool's failure: it scores 0 with its reason, listed under the table and
counted on stderr, and the command still exits 0, as ``eval run`` does for a model's
failures (the gates decide).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from summarizer.cli.errors import handle_errors
from summarizer.cli.eval_options import (
    BaselineOpt,
    GateFloorOpt,
    MaxDropOpt,
    Selection,
    with_selection,
)
from summarizer.cli.eval_results import check_gate, check_writable, finish_eval, load_gate
from summarizer.errors import InputNotFoundError, MissingCandidatesError


@with_selection(legacy="--golden")
@handle_errors
def eval_score(
    selection: Selection,
    candidates: Annotated[
        Path,
        typer.Option(help="Folder of <id>.json candidate summaries (at most 2 MB each)."),
    ],
    report: Annotated[Path | None, typer.Option(help="Write the JSON report here.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    allow_missing: Annotated[
        bool,
        typer.Option(
            "--allow-missing",
            help="Selected articles with no candidate file do not fail the command (exit "
            "53 otherwise); the means are over the scored ones either way.",
        ),
    ] = False,
    baseline: BaselineOpt = None,
    max_drop: MaxDropOpt = 0.05,
    gate_floor: GateFloorOpt = False,
) -> None:
    """Score candidate summaries against goldens, without calling any model.

    A candidate that is unreadable, not JSON or not a summary scores 0 with the
    reason; one that is not there is listed as missing and not scored (exit 53 unless
    --allow-missing); a golden file that cannot be used stops the scoring (exit 15).
    """
    from summarizer.evals.runs import load_cases, missing_candidates, score_dataset

    if not candidates.is_dir():
        what = "not a folder" if candidates.exists() else "no such folder"
        raise InputNotFoundError(f"--candidates {candidates}: {what} of candidate summaries")
    gate = load_gate(baseline, max_drop, gate_floor)
    for path, option in ((report, "--report"), (html, "--html")):
        if path is not None:
            check_writable(path, option)
    dataset = selection.dataset
    cases = load_cases(dataset, selection.ids())
    missing = missing_candidates(candidates, list(cases))
    if len(missing) == len(cases):
        raise MissingCandidatesError(
            f"--candidates {candidates}: no candidate for any of the {len(cases)} selected "
            f"articles (<id>.json, e.g. {missing[0]}.json); nothing to score"
        )
    present = {i: case for i, case in cases.items() if i not in missing}
    check_gate(gate, list(present))
    articles = score_dataset(dataset, candidates, cases=present)
    run_info = {
        "dataset": str(dataset),
        "candidates": str(candidates),
        "model": None,
        "prompt": None,
        "selection": selection.run_info(),
    }
    finish_eval(
        articles, run_info, present, dataset=dataset, candidates=candidates,
        report_path=report, html_path=html, gate=gate, missing=missing,
        allow_missing=allow_missing,
    )  # fmt: skip
