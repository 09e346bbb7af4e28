"""Command line: parse arguments, call the library, render, map errors to exit codes.

No logic lives only here. Every error this package raises on purpose becomes one line
on stderr and its own exit code (see :mod:`summarizer.errors`); anything else is a
bug, reported in one line with exit code 1.
"""

from __future__ import annotations

import json
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from summarizer import __version__
from summarizer.errors import EXIT_CODES, DatasetError, SummarizerError
from summarizer.goldens import check_golden, dataset_ids, read_text
from summarizer.goldens import fill_offsets as fill_offsets_in
from summarizer.inputs import read_article
from summarizer.pipeline import Summarizer
from summarizer.prompts import list_prompts, load_prompt
from summarizer.render import render
from summarizer.schema import contract_json_schema, llm_json_schema
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


def _fail(error: BaseException) -> NoReturn:
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
    path: Annotated[str, typer.Argument(help="Article file (UTF-8 text), or - for stdin.")],
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="json is the contract; markdown/text are for reading."),
    ] = OutputFormat.json,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="provider/name (openai/gpt-4o-mini, ollama/llama3.1, vllm/NAME), a "
            "bare name for --base-url, or local[:PATH.gguf]. Env: SUMMARIZER_MODEL.",
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1. Env: OPENAI_BASE_URL."
        ),
    ] = None,
    prompt: Annotated[str | None, typer.Option(help="NAME@VERSION or a .toml prompt file.")] = None,
    strict: Annotated[
        bool,
        typer.Option(
            help="Fail (exit 41) instead of dropping items whose quotes are not in the article."
        ),
    ] = False,
    mode: Annotated[
        ModeOption | None,
        typer.Option(help="Instructor mode; default: tools for OpenAI, json_schema elsewhere."),
    ] = None,
    max_reasks: Annotated[
        int | None, typer.Option(help="Re-asks after an invalid or ungrounded answer.")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(help="Override the prompt's default.")
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Override the prompt's default.")] = None,
    retries: Annotated[
        int | None,
        typer.Option(help="Transport retries per request (429, 5xx, timeouts, connection errors)."),
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds per request.")] = None,
    title: Annotated[str | None, typer.Option(help="Article title, if known.")] = None,
    language: Annotated[
        str | None, typer.Option(help="Output language (default: the article's).")
    ] = None,
) -> None:
    """Summarize one article and print the summary."""
    try:
        article = read_article(path)
        settings = Settings.resolve(
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
        with Summarizer(settings) as summarizer:
            if settings.model_ref.is_local:
                typer.echo(
                    f"summarizer: using the embedded model ({settings.model}); for better "
                    "summaries set OPENAI_API_KEY or pass --model/--base-url",
                    err=True,
                )
            result = summarizer.summarize(
                article.text, source=article.source, title=title, language=language
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
    """List the exit codes and the errors they stand for."""
    for name, code in sorted(EXIT_CODES.items(), key=lambda kv: kv[1]):
        typer.echo(f"{code:>3}  {name}")


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
        Path, typer.Argument(help="Folder with articles/<id>.txt and golden/<id>.json.")
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
            text = read_text(dataset / "articles" / f"{case_id}.txt")
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


def run() -> None:
    """Console-script entry point."""
    # Instructor logs every failed attempt at ERROR; we report outcomes ourselves, in
    # one line, so its records must not reach stderr through logging's last resort.
    logging.getLogger("instructor").addHandler(logging.NullHandler())
    logging.getLogger("instructor").propagate = False
    app()
