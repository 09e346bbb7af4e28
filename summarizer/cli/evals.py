"""``summarizer eval check|score|run``: golden datasets and evals.

``check`` and ``score`` call no model and run in CI on every change, so they import
only the golden and scoring code when they run; ``run`` imports the pipeline (the
OpenAI SDK and Instructor) inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from summarizer.cli.errors import handle_errors
from summarizer.cli.options import ModelOptions
from summarizer.errors import DatasetError, InputNotFoundError, RegressionError

eval_app = typer.Typer(help="Golden datasets and evals.", no_args_is_help=True)

BaselineOption = Annotated[
    Path | None, typer.Option(help="A previous JSON report to compare with.")
]
MaxDropOption = Annotated[
    float, typer.Option(help="Fail (exit 50) if overall or a section drops more than this.")
]


@eval_app.command("check")
@handle_errors
def eval_check(
    dataset: Annotated[
        Path, typer.Argument(help="Folder with articles/<id>.txt (or .html) and golden/<id>.json.")
    ],
    fill_offsets: Annotated[
        bool, typer.Option(help="Write start/end for quotes found verbatim, then check.")
    ] = False,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Check only these ids (repeatable).")
    ] = None,
) -> None:
    """Check every golden file: contract shape, quotes verbatim at their offsets, actors."""
    from summarizer.evals.goldens import article_text, check_golden, dataset_ids, read_text
    from summarizer.evals.goldens import fill_offsets as fill_offsets_in

    ids = [i for i in dataset_ids(dataset) if not only or i in only]
    failed = 0
    for case_id in ids:
        path = dataset / "golden" / f"{case_id}.json"
        if not path.is_file():
            typer.echo(f"{case_id}: MISSING golden/{case_id}.json")
            failed += 1
            continue
        text = article_text(dataset, case_id)
        raw = json.loads(read_text(path))
        if fill_offsets and fill_offsets_in(text, raw):
            path.write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n", "utf-8")
        problems = check_golden(text, raw)
        failed += bool(problems)
        typer.echo(f"{case_id}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
        for problem in problems:
            typer.echo(f"  - {problem}")
    typer.echo(f"{len(ids) - failed}/{len(ids)} golden files pass")
    if failed:
        raise DatasetError(f"{failed} golden file(s) in {dataset} fail the checks")


def _finish_eval(
    articles: dict[str, dict[str, Any]],
    run_info: dict[str, Any],
    dataset: Path,
    candidates: Path,
    report_path: Path | None,
    html_path: Path | None,
    baseline: Path | None,
    max_drop: float,
) -> None:
    """Write the reports, print the table, then apply the regression gate (exit 50)."""
    from summarizer.evals.report import print_table, render_html
    from summarizer.evals.runs import build_report, load_report, regressions

    report = build_report(articles, run_info)
    if report_path:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if html_path:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(report, dataset, candidates), encoding="utf-8")
    print_table(report)
    if report_path:
        typer.echo(f"report: {report_path}")
    if html_path:
        typer.echo(f"html:   {html_path}")
    if baseline is not None:
        dropped = regressions(report, load_report(baseline), max_drop)
        if dropped:
            raise RegressionError(
                f"eval gate: dropped more than {max_drop:g} below {baseline}: " + "; ".join(dropped)
            )
        typer.echo(f"gate: no drop over {max_drop:g} against {baseline}")


@eval_app.command("score")
@handle_errors
def eval_score(
    golden: Annotated[Path, typer.Option(help="Dataset folder: articles/ and golden/.")],
    candidates: Annotated[Path, typer.Option(help="Folder of <id>.json candidate summaries.")],
    report: Annotated[Path | None, typer.Option(help="Write the JSON report here.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    baseline: BaselineOption = None,
    max_drop: MaxDropOption = 0.05,
) -> None:
    """Score candidate summaries against goldens, without calling any model."""
    from summarizer.evals.runs import score_dataset

    if not candidates.is_dir():
        raise InputNotFoundError(f"{candidates}: no such folder of candidates")
    articles = score_dataset(golden, candidates)
    run_info = {
        "dataset": str(golden),
        "candidates": str(candidates),
        "model": None,
        "prompt": None,
    }
    _finish_eval(articles, run_info, golden, candidates, report, html, baseline, max_drop)


@eval_app.command("run")
@handle_errors
def eval_run(
    dataset: Annotated[Path, typer.Option(help="Dataset folder: articles/ and golden/.")],
    model: Annotated[str | None, typer.Option(help="As for `summarize`.")] = None,
    base_url: Annotated[str | None, typer.Option(help="As for `summarize`.")] = None,
    prompt: Annotated[str | None, typer.Option(help="NAME@VERSION or a .toml file.")] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for candidates/, report.json and report.html.")
    ] = Path("eval-out"),
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only these ids (repeatable).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Run only the first N articles.")] = None,
    baseline: BaselineOption = None,
    max_drop: MaxDropOption = 0.05,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Always call the model.")] = False,
    max_reasks: Annotated[int | None, typer.Option(help="As for `summarize`.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="As for `summarize`.")] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Articles at once (remote models).")
    ] = 4,
) -> None:
    """Summarize every article of a dataset, then score the results (answers are cached)."""
    # A subset of the model options, with help of its own, so not with_model_options.
    from summarizer.cache import ResponseCache
    from summarizer.evals.goldens import dataset_ids
    from summarizer.evals.runs import run_dataset, score_dataset
    from summarizer.pipeline import Summarizer

    ids = [i for i in dataset_ids(dataset) if (dataset / "golden" / f"{i}.json").is_file()]
    ids = [i for i in ids if not only or i in only][: limit or None]
    if not ids:
        raise DatasetError(f"{dataset}: no articles with golden files to run")
    settings = ModelOptions(
        model=model, base_url=base_url, prompt=prompt, max_reasks=max_reasks,
        max_tokens=max_tokens,
    ).settings()  # fmt: skip
    cache = None if no_cache else ResponseCache()
    candidates = out / "candidates"
    with Summarizer(settings, cache=cache) as summarizer:
        typer.echo(
            f"running {len(ids)} articles with {settings.model}, {summarizer.prompt.ref}",
            err=True,
        )
        errors = run_dataset(
            dataset, summarizer, candidates, ids,
            progress=lambda i, status: typer.echo(f"  {i}: {status}", err=True),
            concurrency=concurrency,
        )  # fmt: skip
        prompt_ref = f"{summarizer.prompt.ref} ({summarizer.prompt.short_hash})"
    articles = score_dataset(dataset, candidates, ids)
    for case_id, message in errors.items():
        articles[case_id]["error"] = message
    run_info = {
        "dataset": str(dataset), "candidates": str(candidates), "model": settings.model,
        "prompt": prompt_ref, "cache": cache.stats() | {"hits": cache.hits} if cache else None,
    }  # fmt: skip
    _finish_eval(
        articles, run_info, dataset, candidates, out / "report.json", out / "report.html",
        baseline, max_drop,
    )  # fmt: skip
