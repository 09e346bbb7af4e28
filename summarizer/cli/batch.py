"""``summarizer batch``: many articles into a JSONL file, with a cost ledger.

The batch runner (and with it the pipeline, the OpenAI SDK and Instructor) and the
progress bar (rich) are imported inside the command, when it runs, so that the other
commands start without them. Batch names come from the ``summarizer.batch`` package
only; its modules are being reorganized.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from summarizer.cli import verbosity
from summarizer.cli.errors import handle_errors
from summarizer.cli.options import DEFAULT_OPTIONS, ModelOptions, NoCacheOpt, with_model_options
from summarizer.errors import BatchFailuresError, BudgetExceededError, ConfigurationError

if TYPE_CHECKING:
    from summarizer.batch.openai_batch import OpenAIBatchEngine


class Engine(StrEnum):
    live = "live"  # this machine: run_batch
    ray = "ray"  # one Ray task per shard (summarizer.batch.ray_engine; the [ray] extra)
    openai_batch = "openai-batch"  # the provider's Batch API (summarizer.batch.openai_batch)


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
    shard: Annotated[
        str | None,
        typer.Option(
            metavar="<K/N>",
            help="Only shard K of N, numbered from 1 (e.g. 2/4): the articles whose id "
            "hashes there (sha256, the same on every machine), with 1/N of --rate-limit "
            "and --max-cost. Give each shard its own -o; `summarizer merge` joins them.",
        ),
    ] = None,
    engine: Annotated[
        Engine,
        typer.Option(
            help="live: this machine. ray: one Ray task per shard, merged into -o (the "
            "ray extra; a local Ray, or the cluster RAY_ADDRESS names). openai-batch: "
            "the provider's Batch API (OpenAI: half the price, up to 24 h); remote "
            "batches are listed in <out>.batches.json and picked up by a rerun.",
        ),
    ] = Engine.live,
    poll: Annotated[
        float,
        typer.Option(
            min=0, help="--engine openai-batch: seconds between two looks at the remote batches."
        ),
    ] = 60.0,
    finish_live: Annotated[
        int,
        typer.Option(
            min=0,
            help="--engine openai-batch: once at most N articles still need a request, "
            "send them live instead of another batch round.",
        ),
    ] = 0,
    cancel: Annotated[
        bool,
        typer.Option(
            "--cancel",
            help="--engine openai-batch: cancel the remote batches of this -o, keep what "
            "they finished, send nothing new.",
        ),
    ] = False,
    shards: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="--engine ray: shards, one Ray task each (default: Ray's CPUs, at most "
            "-c, which is the job's total; a rerun resumes the shards it finds).",
        ),
    ] = None,
    ray_cpus: Annotated[
        int | None,
        typer.Option(min=1, help="--engine ray, a local Ray: its CPUs (default: all)."),
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
    from summarizer.batch.shards import Shard, shard_items
    from summarizer.cli.progress import BatchProgress, describe_stats

    if engine is Engine.ray:
        from summarizer.batch.ray_engine import require_ray

        require_ray()  # before the inputs are read
        if shard is not None:
            raise ConfigurationError("--shard is one shard of a live batch; with --engine ray, "
                                     "--shards N runs them all")  # fmt: skip
    elif shards is not None or ray_cpus is not None:
        raise ConfigurationError("--shards and --ray-cpus are for --engine ray")
    batch_api = None
    if engine is Engine.openai_batch:
        from summarizer.batch.openai_batch import OpenAIBatchEngine

        batch_api = OpenAIBatchEngine(poll=poll, finish_live=finish_live, cancel=cancel)
    elif cancel or finish_live:
        raise ConfigurationError("--cancel and --finish-live are for --engine openai-batch")
    part = Shard.parse(shard) if shard is not None else None
    settings = options.settings()
    rpm, tpm = parse_rate_limit(rate_limit) if rate_limit else (None, None)
    batch_options = BatchOptions(
        concurrency=concurrency, workers=workers, rpm=rpm, tpm=tpm, max_cost=max_cost,
        use_cache=not no_cache, language=language,
    )  # fmt: skip
    price_table = load_prices(prices)
    if batch_api is not None:  # a model the Batch API cannot run: said before anything else
        batch_api.check(backend_for(settings))
    # Refused at once if another batch writes `out`, before the inputs are read (URLs
    # are fetched then); run_batch takes the same lock again, as a no-op.
    with OutputLock(out):
        items = shard_items(inputs, None, part, out) if part else collect_items(inputs)
        notice = backend_for(settings).notice
        if notice:
            verbosity.notice(notice)
        if batch_api is not None and not cancel:
            verbosity.notice(
                "--engine openai-batch: the requests go to the provider's Batch API, which "
                f"may take up to 24 h (looked at every {poll:g} s); Ctrl-C leaves them running"
            )
        with BatchProgress(len(items), enabled=progress) as bar:
            if engine is Engine.ray:
                from summarizer.batch.ray_engine import run_ray_batch

                stats = run_ray_batch(
                    inputs, out, settings, batch_options, prices=price_table, shards=shards,
                    num_cpus=ray_cpus, items=items, on_change=bar.update,
                )  # fmt: skip
            else:
                try:
                    stats = run_batch(
                        inputs, out, settings, batch_options, prices=price_table,
                        on_change=bar.update, items=items, shard=part, engine=batch_api,
                    )  # fmt: skip
                except KeyboardInterrupt:
                    if batch_api is None:
                        raise
                    _batches_left_running(out)
    described = describe_stats(stats)
    if stats.cost_usd is None:  # said once, in the summary line, not as another line
        described = described.replace(
            "cost unknown", f"cost unknown (no price known for {settings.model_ref}; --prices)"
        )
    where = f"{out} (shard {part})" if part else str(out)
    if batch_api is not None:
        where += f" ({_batch_api_said(batch_api)})"
    typer.echo(f"summarizer: {described} -> {where}", err=True)
    if stats.budget_hit and stats.not_started:
        share = f" (shard {part}: 1/{part.n} of it, {(max_cost or 0) / part.n:g})" if part else ""
        raise BudgetExceededError(
            f"--max-cost {max_cost:g}{share} reached: {stats.not_started} article(s) not "
            "started; run again with a higher --max-cost to continue"
        )
    if stats.failed:
        raise BatchFailuresError(
            f"{stats.failed} of {stats.total} article(s) failed; their error lines "
            f"are in {out} (run the same command again to retry them)"
        )


def _batches_left_running(out: Path) -> NoReturn:
    """Ctrl-C with ``--engine openai-batch``: the remote batches go on; say how to go on."""
    from summarizer.batch.openai_batch import manifest_path, running

    left = running(out)
    said = f"summarizer: interrupted; finished articles are in {out}"
    if left:
        said += (
            f", and {left} remote batch(es) keep running at the provider "
            f"({manifest_path(out)}): run the same command again to pick up their "
            "results, or add --cancel to cancel them"
        )
    else:
        said += ": run the same command again to continue"
    typer.echo(said, err=True)
    raise typer.Exit(130)


def _batch_api_said(engine: OpenAIBatchEngine) -> str:
    stats = engine.stats
    said = f"Batch API: {stats.rounds} round(s), {stats.batches_created} batch(es) created"
    if stats.batches_cancelled:
        said += f", {stats.batches_cancelled} cancelled"
    if stats.live_requests:
        said += f", {stats.live_requests} live request(s)"
    return said
