"""``summarizer eval run``: summarize a dataset's articles with a model, then score them.

It imports the pipeline (the OpenAI SDK and Instructor) inside the command, and checks
everything it can (the selection, the goldens, the baseline and --out) before any
model call. An article the model fails on keeps its error and scores 0: that is the
model's result, not a missing candidate.

A no-model method (``rules``, ``baseline/NAME``: the backend composes the summary
itself) reads no prompt, so none is shown or recorded for it. Into an --out that
already holds candidates of articles this run does not select, the run writes its own
and leaves those in place, with a notice: they may be the only copy of a paid run
(written with settings the cache cannot replay), and the report counts only the
selected articles anyway; a fresh --out keeps runs apart.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from summarizer.cli import verbosity
from summarizer.cli.errors import handle_errors
from summarizer.cli.eval_options import (
    BaselineOpt,
    GateFloorOpt,
    MaxDropOpt,
    Selection,
    with_selection,
)
from summarizer.cli.eval_results import check_gate, check_writable, finish_eval, load_gate
from summarizer.cli.options import (
    BaseUrlOpt,
    MaxReasksOpt,
    MaxTokensOpt,
    ModelOpt,
    ModelOptions,
    NoCacheOpt,
    PromptOpt,
)


@with_selection()
@handle_errors
def eval_run(
    selection: Selection,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    prompt: PromptOpt = None,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder for candidates/, report.json and report.html."),
    ] = Path("eval-out"),
    baseline: BaselineOpt = None,
    max_drop: MaxDropOpt = 0.05,
    gate_floor: GateFloorOpt = False,
    no_cache: NoCacheOpt = False,
    max_reasks: MaxReasksOpt = None,
    max_tokens: MaxTokensOpt = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Articles at once (remote models).")
    ] = 4,
) -> None:
    """Summarize every article of a dataset, then score the results (answers are cached).

    The selection, the goldens, the baseline and --out are checked before any model call.
    """
    from summarizer.evals.runs import load_cases, run_dataset, score_dataset

    dataset = selection.dataset
    ids = selection.ids(need_golden=True)
    gate = load_gate(baseline, max_drop, gate_floor)
    candidates = out / "candidates"
    check_writable(out, "--out", folder=True)
    check_writable(candidates, "--out", folder=True)
    for name in ("report.json", "report.html"):
        check_writable(out / name, "--out")
    cases = load_cases(dataset, ids)
    check_gate(gate, list(cases))

    # A subset of the model options, so not with_model_options (the same declarations).
    from summarizer.backends import Composer, backend_for
    from summarizer.cache import ResponseCache
    from summarizer.prompts import load_prompt

    settings = ModelOptions(
        model=model, base_url=base_url, prompt=prompt, max_reasks=max_reasks,
        max_tokens=max_tokens,
    ).settings()  # fmt: skip
    backend = backend_for(settings)
    prompt_ref = None  # a no-model method composes the summary: no prompt is read
    using = f"{settings.model} (no model)"
    if not isinstance(backend, Composer):
        loaded = load_prompt(settings.prompt or backend.default_prompt)
        prompt_ref = f"{loaded.ref} ({loaded.short_hash})"
        using = f"{settings.model}, {loaded.ref}"
    typer.echo(f"running {len(ids)} articles with {using}", err=True)
    if backend.notice:
        verbosity.notice(backend.notice)
    stale = _stale_candidates(candidates, ids)
    if stale:
        verbosity.notice(
            f"{candidates} holds {stale} candidate file(s) of articles this run does not "
            "select (from an earlier run): left in place, not in this report; use a fresh "
            "--out to keep runs apart"
        )
    errors, hits = run_dataset(
        dataset, settings, candidates, ids,
        progress=lambda i, status: typer.echo(f"  {i}: {status}", err=True),
        concurrency=concurrency, runs_locally=backend.runs_locally, use_cache=not no_cache,
    )  # fmt: skip
    backend.close()
    cache_info = None
    if not no_cache:
        with contextlib.closing(ResponseCache()) as cache:
            cache_info = dict(cache.stats()) | {"hits": hits}
    articles = score_dataset(dataset, candidates, ids, cases)
    for case_id, message in errors.items():
        articles[case_id]["error"] = message
    run_info = {
        "dataset": str(dataset), "candidates": str(candidates), "model": settings.model,
        "prompt": prompt_ref, "cache": cache_info, "selection": selection.run_info(),
    }  # fmt: skip
    finish_eval(
        articles, run_info, cases, dataset=dataset, candidates=candidates,
        report_path=out / "report.json", html_path=out / "report.html", gate=gate,
        failed="articles failed",
    )  # fmt: skip


def _stale_candidates(candidates: Path, ids: list[str]) -> int:
    """How many ``<id>.json`` in ``candidates`` are of articles not in ``ids``."""
    selected = set(ids)
    try:
        return sum(1 for p in candidates.glob("*.json") if p.stem not in selected)
    except OSError:  # unlistable: the run reports that when it writes there
        return 0
