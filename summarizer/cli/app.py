"""Command line: parse arguments, call the library, render, map errors to exit codes.

No logic lives only here. Every error this package raises on purpose becomes one line
on stderr and its own exit code (see :mod:`summarizer.errors`); anything else is a
bug, reported in one line with exit code 1.
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from summarizer._version import __version__
from summarizer.backends import backend_for
from summarizer.batch.pricing import load_prices
from summarizer.batch.ratelimit import parse_rate_limit
from summarizer.batch.runner import BatchOptions, collect_items, run_batch
from summarizer.cache import ResponseCache
from summarizer.cli.progress import BatchProgress, describe_stats
from summarizer.contract import contract_json_schema
from summarizer.contract.llm_schema import llm_json_schema
from summarizer.contract.render import render
from summarizer.errors import (
    EXIT_CODES,
    BatchFailuresError,
    BudgetExceededError,
    DatasetError,
    InputNotFoundError,
    RegressionError,
    SummarizerError,
)
from summarizer.evals.goldens import article_text, check_golden, dataset_ids, read_text
from summarizer.evals.goldens import fill_offsets as fill_offsets_in
from summarizer.evals.report import print_table, render_html
from summarizer.evals.runs import build_report, load_report, regressions, run_dataset, score_dataset
from summarizer.inputs.read import read_article
from summarizer.pipeline import Summarizer
from summarizer.prompts import list_prompts, load_prompt
from summarizer.settings import Settings

app = typer.Typer(
    name="summarizer",
    help=(
        "Turn a news article into a structured, verifiable summary: headline, key "
        "points, actors, commitments and open questions, each backed by a verbatim "
        "quote located in the article."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
prompts_app = typer.Typer(help="List and inspect the versioned prompts.", no_args_is_help=True)
app.add_typer(prompts_app, name="prompts")
eval_app = typer.Typer(help="Golden datasets and evals.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


class OutputFormat(StrEnum):
    json = "json"
    markdown = "markdown"
    text = "text"


class ModeOption(StrEnum):
    tools = "tools"
    json_schema = "json_schema"
    json = "json"
    md_json = "md_json"


# Options shared by the commands that call a model.
ModelOpt = Annotated[
    str | None,
    typer.Option(
        help="provider/name (openai/gpt-4o-mini, ollama/llama3.1, vllm/NAME), a "
        "bare name for --base-url, or local[:PATH.gguf]. Env: SUMMARIZER_MODEL.",
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1. Env: OPENAI_BASE_URL."
    ),
]
PromptOpt = Annotated[str | None, typer.Option(help="NAME@VERSION or a .toml prompt file.")]
StrictOpt = Annotated[
    bool,
    typer.Option(
        help="Fail (exit 41) instead of dropping items whose quotes are not in the article."
    ),
]
ModeOpt = Annotated[
    ModeOption | None,
    typer.Option(help="Instructor mode; default: tools for OpenAI, json_schema elsewhere."),
]
MaxReasksOpt = Annotated[
    int | None, typer.Option(help="Re-asks after an invalid or ungrounded answer.")
]
TemperatureOpt = Annotated[float | None, typer.Option(help="Override the prompt's default.")]
MaxTokensOpt = Annotated[int | None, typer.Option(help="Override the prompt's default.")]
RetriesOpt = Annotated[
    int | None,
    typer.Option(help="Transport retries per request (429, 5xx, timeouts, connection errors)."),
]
TimeoutOpt = Annotated[float | None, typer.Option(help="Seconds per request.")]
ContextWindowOpt = Annotated[
    int | None,
    typer.Option(help="The model's context in tokens, when the built-in table does not know it."),
]
MaxPartsOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Split an article over the context into at most this many parts (default "
        "16; 1: never split).",
    ),
]
NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache", help="Always call the model (answers are cached by default; see `cache`)."
    ),
]


def _settings(
    model: str | None,
    base_url: str | None,
    prompt: str | None,
    strict: bool,
    mode: ModeOption | None,
    max_reasks: int | None,
    temperature: float | None,
    max_tokens: int | None,
    retries: int | None,
    timeout: float | None,
    context_window: int | None = None,
    max_parts: int | None = None,
) -> Settings:
    return Settings.resolve(
        context_window=context_window,
        max_parts=max_parts,
        model=model,
        base_url=base_url,
        prompt=prompt,
        strict=strict or None,
        mode=mode.value if mode else None,
        max_reasks=max_reasks,
        max_transport_retries=retries,
        temperature=temperature,
        max_tokens=max_tokens,
        timeout=timeout,
    )


def _fail(error: BaseException) -> NoReturn:
    if isinstance(error, BrokenPipeError):
        # The reader went away (`| head`): not an error of ours. Point stdout at
        # devnull so the interpreter's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(141)
    if isinstance(error, SummarizerError):
        typer.echo(f"summarizer: error: {error}", err=True)
        raise typer.Exit(error.exit_code)
    typer.echo(
        f"summarizer: internal error: {type(error).__name__}: {error} "
        "(please report this with the command you ran)",
        err=True,
    )
    raise typer.Exit(1)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"summarizer {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """Summarize news articles into the JSON summary contract (schema v1)."""


@app.command()
def summarize(
    path: Annotated[
        str,
        typer.Argument(
            help="Article file (UTF-8 text or a saved .html page), - for stdin, or an "
            "http(s) URL; from HTML only the article's text and title are kept."
        ),
    ],
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="json is the contract; markdown/text are for reading."),
    ] = OutputFormat.json,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    prompt: PromptOpt = None,
    strict: StrictOpt = False,
    mode: ModeOpt = None,
    max_reasks: MaxReasksOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    retries: RetriesOpt = None,
    timeout: TimeoutOpt = None,
    context_window: ContextWindowOpt = None,
    max_parts: MaxPartsOpt = None,
    no_cache: NoCacheOpt = False,
    title: Annotated[str | None, typer.Option(help="Article title, if known.")] = None,
    language: Annotated[
        str | None, typer.Option(help="Output language (default: the article's).")
    ] = None,
) -> None:
    """Summarize one article and print the summary."""
    try:
        article = read_article(path)
        settings = _settings(
            model, base_url, prompt, strict, mode, max_reasks, temperature, max_tokens,
            retries, timeout, context_window, max_parts,
        )  # fmt: skip
        with Summarizer(settings, cache=None if no_cache else ResponseCache()) as summarizer:
            if summarizer.backend.notice:
                typer.echo(f"summarizer: {summarizer.backend.notice}", err=True)
            result = summarizer.summarize(
                article.text,
                source=article.source,
                title=title or article.title,
                language=language,
                input_meta=article.meta,
            )
        _write(render(result, fmt.value), output)
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        typer.echo("summarizer: interrupted", err=True)
        raise typer.Exit(130) from None
    except Exception as error:  # noqa: BLE001 - the CLI must never show a traceback
        _fail(error)


@app.command()
def batch(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Article files (.txt or .html), http(s) URLs, directories (their .txt "
            'and .html files, recursively), or JSONL files with {"id", "text"} per line.'
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="JSONL results, one line per article; running the same command again "
            "skips articles already summarized there and retries failed ones.",
        ),
    ],
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Requests in flight at once.")
    ] = 8,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes sharing the work (default: one per 25 concurrent requests, "
            "up to the CPU count; for the embedded model one per core, up to 2).",
        ),
    ] = None,
    rate_limit: Annotated[
        str | None,
        typer.Option(help="Stay under the provider's limits, e.g. 500rpm or 500rpm,90000tpm."),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option(help="USD: start no article that could take the run's cost past this."),
    ] = None,
    prices: Annotated[
        Path | None,
        typer.Option(help="TOML file of model prices (USD per 1M tokens); env SUMMARIZER_PRICES."),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option(help="Progress bar on stderr (default: when stderr is a terminal)."),
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Output language (default: each article's own).")
    ] = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    prompt: PromptOpt = None,
    strict: StrictOpt = False,
    mode: ModeOpt = None,
    max_reasks: MaxReasksOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    retries: RetriesOpt = None,
    timeout: TimeoutOpt = None,
    context_window: ContextWindowOpt = None,
    max_parts: MaxPartsOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Summarize many articles concurrently into a JSONL file, with a cost ledger.

    Exit 0 when every article has a summary, 60 when some failed (their error lines
    are in the output), 61 when --max-cost left some unstarted, 130 on Ctrl-C.
    """
    try:
        settings = _settings(
            model, base_url, prompt, strict, mode, max_reasks, temperature, max_tokens,
            retries, timeout, context_window, max_parts,
        )  # fmt: skip
        rpm, tpm = parse_rate_limit(rate_limit) if rate_limit else (None, None)
        options = BatchOptions(
            concurrency=concurrency, workers=workers, rpm=rpm, tpm=tpm, max_cost=max_cost,
            use_cache=not no_cache, language=language,
        )  # fmt: skip
        price_table = load_prices(prices)
        items = collect_items(inputs)
        notice = backend_for(settings).notice
        if notice:
            typer.echo(f"summarizer: {notice}", err=True)
        with BatchProgress(len(items), enabled=progress) as bar:
            stats = run_batch(
                inputs, out, settings, options, prices=price_table, on_change=bar.update,
                items=items,
            )  # fmt: skip
        typer.echo(f"summarizer: {describe_stats(stats)} -> {out}", err=True)
        if stats.budget_hit and stats.not_started:
            raise BudgetExceededError(
                f"--max-cost {max_cost:g} reached: {stats.not_started} article(s) not "
                "started; run again with a higher --max-cost to continue"
            )
        if stats.failed:
            raise BatchFailuresError(
                f"{stats.failed} of {stats.total} article(s) failed; their error lines "
                f"are in {out} (run the same command again to retry them)"
            )
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        typer.echo(
            f"summarizer: interrupted; finished articles are in {out}: run the same "
            "command again to continue",
            err=True,
        )
        raise typer.Exit(130) from None
    except Exception as error:  # noqa: BLE001
        _fail(error)


@app.command()
def schema(
    llm: Annotated[
        bool, typer.Option("--llm", help="Print the schema the model is asked to fill instead.")
    ] = False,
) -> None:
    """Print the JSON schema of the summary contract."""
    doc = llm_json_schema() if llm else contract_json_schema()
    _write(json.dumps(doc, indent=2), None)


@app.command("exit-codes")
def exit_codes() -> None:
    """List the exit codes, the errors they stand for, and what they mean."""
    for code, (name, meaning) in EXIT_CODES.items():
        typer.echo(f"{code:>3}  {name:<26} {meaning}")


@prompts_app.command("list")
def prompts_list() -> None:
    """List available prompts (NAME@VERSION, hash, description)."""
    try:
        for p in list_prompts():
            typer.echo(f"{p.ref:<28} {p.short_hash}  {p.spec.description}")
    except Exception as error:  # noqa: BLE001
        _fail(error)


@prompts_app.command("show")
def prompts_show(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION, NAME (latest) or a .toml file.")],
) -> None:
    """Show one prompt: metadata, parameters and templates."""
    try:
        p = load_prompt(ref)
    except Exception as error:  # noqa: BLE001
        _fail(error)
    info = p.info()
    typer.echo(f"{p.ref}  sha256:{p.sha256}")
    typer.echo(f"{info['description']}")
    typer.echo(f"format: {info['format']}  parameters: {json.dumps(info['parameters'])}")
    typer.echo(f"file: {info['path']}")
    typer.echo("\n--- system ---\n" + p.spec.system.strip())
    typer.echo("\n--- user ---\n" + p.spec.user.strip())


@eval_app.command("check")
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
    try:
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
    except typer.Exit:
        raise
    except Exception as error:  # noqa: BLE001
        _fail(error)


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


BaselineOption = Annotated[
    Path | None, typer.Option(help="A previous JSON report to compare with.")
]
MaxDropOption = Annotated[
    float, typer.Option(help="Fail (exit 50) if overall or a section drops more than this.")
]


@eval_app.command("score")
def eval_score(
    golden: Annotated[Path, typer.Option(help="Dataset folder: articles/ and golden/.")],
    candidates: Annotated[Path, typer.Option(help="Folder of <id>.json candidate summaries.")],
    report: Annotated[Path | None, typer.Option(help="Write the JSON report here.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    baseline: BaselineOption = None,
    max_drop: MaxDropOption = 0.05,
) -> None:
    """Score candidate summaries against goldens, without calling any model."""
    try:
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
    except typer.Exit:
        raise
    except Exception as error:  # noqa: BLE001
        _fail(error)


@eval_app.command("run")
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
    try:
        ids = [i for i in dataset_ids(dataset) if (dataset / "golden" / f"{i}.json").is_file()]
        ids = [i for i in ids if not only or i in only][: limit or None]
        if not ids:
            raise DatasetError(f"{dataset}: no articles with golden files to run")
        settings = Settings.resolve(
            model=model, base_url=base_url, prompt=prompt, max_reasks=max_reasks,
            max_tokens=max_tokens,
        )  # fmt: skip
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
    except typer.Exit:
        raise
    except Exception as error:  # noqa: BLE001
        _fail(error)


cache_app = typer.Typer(help="The cache of model answers.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("stats")
def cache_stats() -> None:
    """Where the cache is and how much it holds."""
    stats = ResponseCache().stats()
    typer.echo(json.dumps(stats, indent=2))


@cache_app.command("clear")
def cache_clear() -> None:
    """Delete every cached answer."""
    typer.echo(f"removed {ResponseCache().clear()} cached answer(s)")


def run() -> None:
    """Console-script entry point."""
    app()
