"""``summarizer eval run``: summarize a dataset's articles with a model, then score them.

It imports the pipeline (the OpenAI SDK and Instructor) inside the command, and checks
everything it can (the selection, the goldens, the baseline and --out) before any
model call. An article the model fails on keeps its error and scores 0: that is the
model's result, not a missing candidate.
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
from summarizer.cli.eval_results import check_writable, finish_eval, load_gate
from summarizer.cli.options import ModelOptions


@with_selection()
@handle_errors
def eval_run(
    selection: Selection,
    model: Annotated[str | None, typer.Option(help="As for `summarize`.")] = None,
    base_url: Annotated[str | None, typer.Option(help="As for `summarize`.")] = None,
    prompt: Annotated[str | None, typer.Option(help="NAME@VERSION or a .toml file.")] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for candidates/, report.json and report.html.")
    ] = Path("eval-out"),
    baseline: BaselineOpt = None,
    max_drop: MaxDropOpt = 0.05,
    gate_floor: GateFloorOpt = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Always call the model.")] = False,
    max_reasks: Annotated[int | None, typer.Option(help="As for `summarize`.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="As for `summarize`.")] = None,
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

    # A subset of the model options, with help of its own, so not with_model_options.
    from summarizer.backends import backend_for
    from summarizer.cache import ResponseCache
    from summarizer.prompts import load_prompt

    settings = ModelOptions(
        model=model, base_url=base_url, prompt=prompt, max_reasks=max_reasks,
        max_tokens=max_tokens,
    ).settings()  # fmt: skip
    backend = backend_for(settings)
    loaded = load_prompt(settings.prompt or backend.default_prompt)
    typer.echo(f"running {len(ids)} articles with {settings.model}, {loaded.ref}", err=True)
    if backend.notice:
        verbosity.notice(backend.notice)
    errors, hits = run_dataset(
        dataset, settings, candidates, ids,
        progress=lambda i, status: typer.echo(f"  {i}: {status}", err=True),
        concurrency=concurrency, runs_locally=backend.runs_locally, use_cache=not no_cache,
    )  # fmt: skip
    backend.close()
    prompt_ref = f"{loaded.ref} ({loaded.short_hash})"
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
    )  # fmt: skip
