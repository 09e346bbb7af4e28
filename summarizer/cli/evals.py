"""``summarizer eval check|score|run``: golden datasets and evals.

``check`` and ``score`` call no model and run in CI on every change, so they import
only the golden and scoring code when they run; ``run`` imports the pipeline (the
OpenAI SDK and Instructor) inside the command.

These commands gate CI, so they fail loudly and early, never by passing: selecting
nothing fails (exit 52), a baseline without scores fails (51), and everything that can
be checked before the work (the baseline, the goldens, where the results go) is checked
before it, and before any model call. A golden file that is broken is a problem of that
file in ``check``; the others are still checked. Once scores exist, the reports are
written first, and the gate's verdict is the exit code even if printing fails.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from summarizer.cli.errors import handle_errors
from summarizer.cli.options import ModelOptions
from summarizer.errors import (
    ConfigurationError,
    DatasetError,
    InputNotFoundError,
    RegressionError,
)

eval_app = typer.Typer(help="Golden datasets and evals.", no_args_is_help=True)


BaselineOption = Annotated[
    Path | None,
    typer.Option(help="A previous JSON report to compare with (exit 51 if it has no scores)."),
]
MaxDropOption = Annotated[
    float,
    typer.Option(help="Fail (exit 50) if overall or a section drops more than this."),
]
GateFloorOption = Annotated[
    bool,
    typer.Option(
        "--gate-floor",
        help="Fail (exit 50) if overall or a section scores below the lead baseline.",
    ),
]


def _load_baseline(baseline: Path | None, max_drop: float) -> tuple[Path, dict[str, Any]] | None:
    """The baseline report (exit 51 if it cannot be gated against) and a usable
    --max-drop, both checked before any work."""
    from summarizer.evals.runs import load_report

    if not math.isfinite(max_drop) or max_drop < 0:  # nan would pass every drop
        raise ConfigurationError(f"--max-drop {max_drop:g}: expected a number from 0 to 1")
    return None if baseline is None else (baseline, load_report(baseline))


def _check_writable(path: Path, option: str, *, folder: bool = False) -> None:
    """Refuse now, before any work or model call, a path the results cannot go to."""
    if folder and path.exists() and not path.is_dir():
        raise ConfigurationError(f"{option} {path}: is a file, not a folder")
    if not folder and path.is_dir():
        raise ConfigurationError(f"{option} {path}: is a folder; pass a file name")
    if not folder and path.exists() and not path.is_file():
        raise ConfigurationError(f"{option} {path}: not a regular file")
    parent = path if folder else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # the results write the missing folders
    if parent.exists() and not parent.is_dir():
        raise ConfigurationError(f"{option} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigurationError(f"{option} {path}: {parent} is not writable")
    missing = path if folder else path.parent
    if not missing.exists():
        # /proc and /sys pass the checks above and refuse anyway: find out now, by
        # making the first missing folder and taking it away again (no trace left).
        while not missing.parent.exists():
            missing = missing.parent
        try:
            missing.mkdir()
            missing.rmdir()
        except OSError as e:
            raise ConfigurationError(f"{option} {path}: cannot create it: {e.strerror}") from e


def _write(path: Path, render: Callable[[], str], what: str) -> Exception | None:
    """Write ``render()`` to ``path`` whole or not at all (a previous report, maybe the
    baseline, is never left half-overwritten); returns the failure instead of raising
    it, so that the other report and the gate still happen."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        text = render()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return ConfigurationError(f"{path}: cannot write the {what}: {e.strerror or e}")
    except Exception as e:  # noqa: BLE001 - raised after the gate (an internal error)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return e
    return None


def _print_results(print_table: Callable[[], None], lines: list[str]) -> Exception | None:
    """The table, then ``lines``; returns why the table could not be printed, if it
    could not (the reports are written by then, and the gate still decides)."""
    failure = None
    try:
        print_table()
    except BrokenPipeError:
        raise
    except Exception as e:  # noqa: BLE001 - printing must not cost the gate its verdict
        failure = e
    for line in lines:
        typer.echo(line)
    return failure


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
    """Check every golden file: contract shape, quotes verbatim at their offsets, actors.

    Exit 15 if any fails (each file's problems are listed, and every file is checked),
    52 if there is nothing to check.
    """
    from summarizer.evals.goldens import check_case, select_ids

    ids = select_ids(dataset, only)
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


@eval_app.command("baseline")
@handle_errors
def eval_baseline(
    name: Annotated[str, typer.Argument(help="The method: lead or textrank.")],
    dataset: Annotated[Path, typer.Option(help="Dataset folder: articles/ (and golden/).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the <id>.json candidates.")],
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Only these ids (repeatable).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N articles.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute every summary.")] = False,
) -> None:
    """Write a no-model method's candidates for a dataset (no model call, milliseconds an
    article), to score with `eval score` like a model's: the floor a model must beat.
    """
    from summarizer.cache import ResponseCache
    from summarizer.evals.baselines import check_method, write_baseline
    from summarizer.evals.goldens import select_ids

    check_method(name)
    ids = select_ids(dataset, only)[:limit]
    _check_writable(out, "--out", folder=True)
    cache = None if no_cache else ResponseCache()
    try:
        errors = write_baseline(dataset, name, out, ids, cache=cache)
    finally:
        if cache is not None:
            cache.close()
    for case_id, message in errors.items():
        typer.echo(f"  {case_id}: {message}", err=True)
    typer.echo(f"wrote {len(ids) - len(errors)} {name} candidates to {out}")
    typer.echo(f"score them: summarizer eval score --golden {dataset} --candidates {out}")
    if errors:
        raise DatasetError(f"{len(errors)} article(s) of {dataset} could not be read")


def _finish_eval(
    articles: dict[str, dict[str, Any]],
    run_info: dict[str, Any],
    dataset: Path,
    candidates: Path,
    report_path: Path | None,
    html_path: Path | None,
    baseline: tuple[Path, dict[str, Any]] | None,
    max_drop: float,
    cases: dict[str, Any],
    gate_floor: bool = False,
) -> None:
    """Write the reports, print the table, then apply the gates (exit 50): against the
    previous report, and with ``gate_floor`` against the lead floor.

    The gate's verdict is the exit code whatever else fails: a report that cannot be
    written or a table that cannot be printed does not stop the rest.
    """
    from summarizer.evals.baselines import FLOOR, floor_scores
    from summarizer.evals.report import print_table, render_html
    from summarizer.evals.runs import aggregate, build_report, regressions

    floor = {"method": FLOOR, "aggregate": aggregate(floor_scores(cases))}
    report = build_report(articles, run_info, floor=floor)
    dropped = regressions(report, baseline[1], max_drop) if baseline else []
    under = report["below_floor"]
    if gate_floor and under:
        dropped.append(f"below the {FLOOR} floor: " + ", ".join(under))
    failures: list[Exception] = []
    lines: list[str] = []
    outputs = [
        (report_path, "report: ", "JSON report", lambda: json.dumps(report, indent=2) + "\n"),
        (html_path, "html:   ", "HTML report", lambda: render_html(report, dataset, candidates)),
    ]
    written: list[str] = []
    for path, label, what, render in outputs:
        if path is None:
            continue
        failure = _write(path, render, what)
        if failure is None:
            written.append(str(path))
            lines.append(f"{label}{path}")
        else:
            failures.append(failure)
    if under:
        lines.append(
            f"below the {FLOOR} baseline (no model: title and first sentences): " + ", ".join(under)
        )
    else:
        lines.append(f"not below the {FLOOR} baseline overall or in any section")
    if baseline and not dropped:
        lines.append(f"gate: no drop over {max_drop:g} against {baseline[0]}")
    if gate_floor and not under:
        lines.append(f"gate: not below the {FLOOR} floor")
    notes = [_one_line(e) for e in failures]
    try:
        table_failure = _print_results(lambda: print_table(report), lines)
    except BrokenPipeError:  # `| head`: the gate's verdict still goes to stderr
        if not (dropped or failures):
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        table_failure = None
    if table_failure is not None:
        notes.append(f"the table could not be printed: {_one_line(table_failure)}")
    if dropped:
        against = f"dropped more than {max_drop:g} below {baseline[0]}: " if baseline else ""
        raise RegressionError(
            f"eval gate: {against}"
            + "; ".join(dropped)
            + "".join(f" (also: {note})" for note in notes)
        )
    if failures:
        raise failures[0]
    if notes:  # the reports are written and the gate passed: a warning, exit 0
        see = f"; the scores are in {' and '.join(written)}" if written else ""
        typer.echo(f"summarizer: warning: {notes[0]}{see}", err=True)


def _one_line(error: Exception) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


@eval_app.command("score")
@handle_errors
def eval_score(
    golden: Annotated[Path, typer.Option(help="Dataset folder: articles/ and golden/.")],
    candidates: Annotated[Path, typer.Option(help="Folder of <id>.json candidate summaries.")],
    report: Annotated[Path | None, typer.Option(help="Write the JSON report here.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    baseline: BaselineOption = None,
    max_drop: MaxDropOption = 0.05,
    gate_floor: GateFloorOption = False,
) -> None:
    """Score candidate summaries against goldens, without calling any model.

    A candidate that is missing, unreadable, not JSON or not a summary scores 0 with
    the reason; a golden file that cannot be used stops the scoring (exit 15).
    """
    from summarizer.evals.runs import load_cases, score_dataset

    if not candidates.is_dir():
        what = "not a folder" if candidates.exists() else "no such folder"
        raise InputNotFoundError(f"--candidates {candidates}: {what} of candidate summaries")
    gate = _load_baseline(baseline, max_drop)
    for path, option in ((report, "--report"), (html, "--html")):
        if path is not None:
            _check_writable(path, option)
    cases = load_cases(golden)
    articles = score_dataset(golden, candidates, cases=cases)
    run_info = {
        "dataset": str(golden),
        "candidates": str(candidates),
        "model": None,
        "prompt": None,
    }
    _finish_eval(
        articles, run_info, golden, candidates, report, html, gate, max_drop, cases, gate_floor
    )


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
    limit: Annotated[int | None, typer.Option(min=1, help="Run only the first N articles.")] = None,
    baseline: BaselineOption = None,
    max_drop: MaxDropOption = 0.05,
    gate_floor: GateFloorOption = False,
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
    from summarizer.evals.goldens import select_ids
    from summarizer.evals.runs import load_cases, run_dataset, score_dataset

    ids = select_ids(dataset, only, need_golden=True)[:limit]
    gate = _load_baseline(baseline, max_drop)
    candidates = out / "candidates"
    _check_writable(out, "--out", folder=True)
    _check_writable(candidates, "--out", folder=True)
    for name in ("report.json", "report.html"):
        _check_writable(out / name, "--out")
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
        typer.echo(f"summarizer: {backend.notice}", err=True)
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
        "prompt": prompt_ref,
        "cache": cache_info,
    }  # fmt: skip
    _finish_eval(
        articles, run_info, dataset, candidates, out / "report.json", out / "report.html",
        gate, max_drop, cases, gate_floor,
    )  # fmt: skip
