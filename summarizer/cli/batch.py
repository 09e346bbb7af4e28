"""``summarizer batch``: many articles into a JSONL file, with a cost ledger.

The batch runner (and with it the pipeline, the OpenAI SDK and Instructor) and the
progress bar (rich) are imported inside the command, when it runs, so that the other
commands start without them. Batch names come from the ``summarizer.batch`` package
only; its modules are being reorganized.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from summarizer.cli import verbosity
from summarizer.cli.errors import handle_errors
from summarizer.cli.options import DEFAULT_OPTIONS, ModelOptions, NoCacheOpt, with_model_options
from summarizer.errors import BatchFailuresError, BudgetExceededError


@handle_errors(
    interrupted="summarizer: interrupted; finished articles are in {out}: run the same "
    "command again to continue"
)
@with_model_options
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
    options: ModelOptions = DEFAULT_OPTIONS,
    no_cache: NoCacheOpt = False,
) -> None:
    """Summarize many articles concurrently into a JSONL file, with a cost ledger.

    Exit 0 when every article has a summary, 60 when some failed (their error lines
    are in the output), 61 when --max-cost left some unstarted, 63 when another batch
    is writing the same --out, 130 on Ctrl-C.
    """
    from summarizer.backends import backend_for
    from summarizer.batch import (
        BatchOptions,
        OutputLock,
        collect_items,
        load_prices,
        parse_rate_limit,
        run_batch,
    )
    from summarizer.cli.progress import BatchProgress, describe_stats

    settings = options.settings()
    rpm, tpm = parse_rate_limit(rate_limit) if rate_limit else (None, None)
    batch_options = BatchOptions(
        concurrency=concurrency, workers=workers, rpm=rpm, tpm=tpm, max_cost=max_cost,
        use_cache=not no_cache, language=language,
    )  # fmt: skip
    price_table = load_prices(prices)
    # Refused at once if another batch writes `out`, before the inputs are read (URLs
    # are fetched then); run_batch takes the same lock again, as a no-op.
    with OutputLock(out):
        items = collect_items(inputs)
        notice = backend_for(settings).notice
        if notice:
            verbosity.notice(notice)
        with BatchProgress(len(items), enabled=progress) as bar:
            stats = run_batch(
                inputs, out, settings, batch_options, prices=price_table,
                on_change=bar.update, items=items,
            )  # fmt: skip
    described = describe_stats(stats)
    if stats.cost_usd is None:  # said once, in the summary line, not as another line
        described = described.replace(
            "cost unknown", f"cost unknown (no price known for {settings.model_ref}; --prices)"
        )
    typer.echo(f"summarizer: {described} -> {out}", err=True)
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
