"""``summarizer summarize``: one article in, its summary out.

The pipeline (and with it the OpenAI SDK and Instructor, about 1.5 s) is imported
inside the command, when it runs: every other command, and ``--help``, starts
without it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from summarizer.cli.errors import handle_errors
from summarizer.cli.options import DEFAULT_OPTIONS, ModelOptions, NoCacheOpt, with_model_options
from summarizer.cli.output import check_output, write_output


class OutputFormat(StrEnum):
    """What ``--format`` accepts: the contract (json) or a rendering for people."""

    json = "json"
    markdown = "markdown"
    text = "text"


@handle_errors
@with_model_options
def summarize(
    path: Annotated[
        str,
        typer.Argument(
            help="Article file (UTF-8, or UTF-16/32 with a byte-order mark, text or a "
            "saved .html page), - for stdin, or an http(s) URL; from HTML only the "
            "article's text and title are kept. Files and stdin are capped at 10 MB "
            "(env SUMMARIZER_INPUT_MAX_BYTES)."
        ),
    ],
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="json is the contract; markdown/text are for reading."),
    ] = OutputFormat.json,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write here instead of stdout (checked before the model is called; "
            "written whole or not at all).",
        ),
    ] = None,
    options: ModelOptions = DEFAULT_OPTIONS,
    no_cache: NoCacheOpt = False,
    title: Annotated[str | None, typer.Option(help="Article title, if known.")] = None,
    language: Annotated[
        str | None, typer.Option(help="Output language (default: the article's).")
    ] = None,
) -> None:
    """Summarize one article and print the summary."""
    from summarizer.cache import ResponseCache
    from summarizer.contract.render import render
    from summarizer.inputs.read import read_article
    from summarizer.pipeline import Summarizer

    # The output path first: a bad -o fails before a URL is fetched or a model paid.
    if output is not None:
        check_output(output)
    # Then the input: a missing file is reported before a model misconfiguration.
    article = read_article(path)
    settings = options.settings()
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
    write_output(render(result, fmt.value), output)
