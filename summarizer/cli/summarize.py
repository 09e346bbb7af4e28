"""``summarizer summarize``: articles in, their summaries out.

One input prints its summary in the chosen format. Several inputs (or ``--jsonl``)
print JSON lines, one contract per line in input order, or, for markdown and text,
the summaries one after another with a rule between them. A bad input among several
costs only its own summary: its error is one line on stderr, naming it, the others
are summarized, and the exit code is the first failure's. An error that every input
would meet alike (no model configured, bad credentials, an endpoint that cannot be
reached) stops at once, as for one input. For many articles with concurrency,
resuming and a cost ledger there is ``summarizer batch``; this stays a loop over one
:class:`~summarizer.pipeline.Summarizer`.

The pipeline (and with it the OpenAI SDK and Instructor, about 1.5 s) is imported
inside the command, when it runs: every other command, and ``--help``, starts
without it.
"""

from __future__ import annotations

import contextlib
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from summarizer.cli import verbosity
from summarizer.cli.errors import handle_errors
from summarizer.cli.options import DEFAULT_OPTIONS, ModelOptions, NoCacheOpt, with_model_options
from summarizer.cli.output import Results, check_output
from summarizer.errors import (
    AuthenticationError,
    ConfigurationError,
    ProviderUnreachableError,
    SummarizerError,
)

if TYPE_CHECKING:
    from summarizer.pipeline import Summarizer

# What no other input would escape: stop at once rather than fail each in turn.
_FATAL = (ConfigurationError, AuthenticationError, ProviderUnreachableError)
# Between two summaries for people: a thematic break (markdown), a line (text).
_RULES = {"markdown": "\n---\n\n", "text": "\n" + "=" * 72 + "\n\n"}


class OutputFormat(StrEnum):
    """What ``--format`` accepts: the contract (json) or a rendering for people."""

    json = "json"
    markdown = "markdown"
    text = "text"


@handle_errors
@with_model_options
def summarize(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="input",
            show_default=False,
            help="Article files (UTF-8, or UTF-16/32 with a byte-order mark, text or a "
            "saved .html page), - for stdin, or http(s) URLs; from HTML only the "
            "article's text and title are kept. Files and stdin are capped at 10 MB "
            "(env SUMMARIZER_INPUT_MAX_BYTES). Several: one JSON summary per line, in "
            "input order.",
        ),
    ],
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="json is the contract; markdown/text are for reading."),
    ] = OutputFormat.json,
    jsonl: Annotated[
        bool,
        typer.Option("--jsonl", help="JSON lines even for one input, as for several."),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="<file>",
            help="Write here instead of stdout, every summary (checked before the model "
            "is called; written whole or not at all).",
        ),
    ] = None,
    options: ModelOptions = DEFAULT_OPTIONS,
    no_cache: NoCacheOpt = False,
    title: Annotated[
        str | None, typer.Option(metavar="<text>", help="Article title, if known (one input).")
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(metavar="<language>", help="Output language (default: the article's)."),
    ] = None,
) -> None:
    """Summarize articles (files, - for stdin, URLs) and print their summaries."""
    from summarizer.cache import ResponseCache
    from summarizer.cli.status import generation_status
    from summarizer.contract.render import render
    from summarizer.inputs.read import read_article
    from summarizer.pipeline import Summarizer

    several = jsonl or len(inputs) > 1
    _check_inputs(inputs, fmt, jsonl, title)
    # The output path first: a bad -o fails before a URL is fetched or a model paid.
    if output is not None:
        check_output(output)
    results = Results(output, _RULES.get(fmt.value, ""))
    first_failure = 0
    try:
        with contextlib.ExitStack() as stack:
            summarizer: Summarizer | None = None
            for target in inputs:
                try:
                    # The input before the model: a missing file is reported before a
                    # model misconfiguration.
                    article = read_article(target)
                    if summarizer is None:
                        cache = None if no_cache else ResponseCache()
                        summarizer = stack.enter_context(
                            Summarizer(options.settings(), cache=cache)
                        )
                        if summarizer.backend.notice:
                            verbosity.notice(summarizer.backend.notice)
                        # The embedded model's live line (a terminal only; -q off).
                        stack.enter_context(generation_status(summarizer.backend))
                    result = summarizer.summarize(
                        article.text,
                        source=article.source,
                        title=title or article.title,
                        language=language,
                        input_meta=article.meta,
                    )
                except SummarizerError as error:
                    if not several or isinstance(error, _FATAL):
                        raise
                    typer.echo(f"summarizer: error: {_named(target, error)}", err=True)
                    first_failure = first_failure or error.exit_code
                    continue
                results.add(result.model_dump_json() if several and fmt is OutputFormat.json
                            else render(result, fmt.value))  # fmt: skip
    except (Exception, KeyboardInterrupt):
        # A failure or Ctrl-C keeps the summaries finished before it (each was
        # paid for); the file is still written whole, then the error or 130.
        results.close()
        raise
    results.close()
    if first_failure:
        raise typer.Exit(first_failure)


def _check_inputs(inputs: list[str], fmt: OutputFormat, jsonl: bool, title: str | None) -> None:
    """Refuse option combinations that cannot mean what they say, before any work."""
    if jsonl and fmt is not OutputFormat.json:
        raise ConfigurationError(
            f"--jsonl prints the JSON contract, one per line; drop --format {fmt.value}"
        )
    if title is not None and len(inputs) > 1:
        raise ConfigurationError(
            "--title names one article; with several inputs each keeps its own title"
        )
    if inputs.count("-") > 1:
        raise ConfigurationError("- (stdin) is given more than once; it can be read once")


def _named(target: str, error: SummarizerError) -> str:
    """The error's message, starting with the input it is about."""
    message = str(error)
    name = "<stdin>" if target == "-" else target
    return message if message.startswith((name, str(Path(name)))) else f"{name}: {message}"
