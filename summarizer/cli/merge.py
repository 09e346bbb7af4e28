"""``summarizer merge``: the outputs of ``batch --shard K/N`` joined into one.

A thin layer over :func:`summarizer.batch.shards.merge_outputs`, imported when the
command runs (the batch package imports the pipeline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from summarizer.cli import verbosity
from summarizer.cli.errors import handle_errors


@handle_errors
def merge(
    shards: Annotated[
        list[str],
        typer.Argument(
            metavar="SHARDS",
            help="Outputs of `summarizer batch --shard K/N`, each with its .ledger.json "
            "beside it (e.g. out-*.jsonl).",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="<file>",
            help="The merged JSONL; its ledger goes to <file>.ledger.json. A batch can "
            "resume into it (failed articles are retried).",
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Replace --out and its ledger if they exist.")
    ] = False,
) -> None:
    """Merge shard outputs into one batch output, with one ledger.

    One line per article id: a summary wins over an error; of two summaries (or two
    errors) the one in the shard given first wins. The ledger sums every shard's runs
    (tokens, cost, counts) and lists the shards. Shards made with another model, prompt
    or schema version are refused (exit 64); a missing or malformed shard or ledger
    (an edited one too: a negative, NaN or absurd figure) stops the merge with one
    line (exit 11 or 15). Exit 0 once written, even when some articles failed or a
    shard of N is not among the inputs (both said on stderr, and in the ledger).
    """
    from summarizer.batch.shards import merge_outputs

    result = merge_outputs([Path(s) for s in shards], out, overwrite=force)
    cost = "cost unknown" if result.cost_usd is None else f"${result.cost_usd:.4f}"
    parts = [
        f"{result.articles} article(s): {result.ok} ok, {result.failed} failed",
        f"{result.duplicates} duplicate line(s) left out",
        f"{result.runs} run(s), {result.total_tokens:,} tokens, {cost}",
    ]
    if result.shards:
        parts.insert(0, f"shards {', '.join(result.shards)}")
    typer.echo(f"summarizer: merged {'; '.join(parts)} -> {out}", err=True)
    if result.missing:
        verbosity.notice(f"shard(s) {', '.join(result.missing)} not among the inputs")
