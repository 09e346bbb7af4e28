"""The ``summarizer`` command: the Typer app, ``--version`` and the entry point.

The CLI is a thin layer over the library (see :mod:`summarizer`): each command lives
in the module named after it and is only registered here, so the order below is the
order ``--help`` lists them in. Importing this module must stay cheap (it runs for
``summarizer --version``): command modules import what they need, the pipeline and
its SDKs above all, inside the commands; ``tests/test_cli.py`` checks that.
"""

from __future__ import annotations

from typing import Annotated

import typer

from summarizer.cli import coercion
from summarizer.cli.batch import batch
from summarizer.cli.cache import cache_app
from summarizer.cli.config import config_app
from summarizer.cli.evals import eval_app
from summarizer.cli.logs import logs_app
from summarizer.cli.merge import merge
from summarizer.cli.models import models
from summarizer.cli.reference import exit_codes, prompts_app, schema
from summarizer.cli.serve import keys_app, serve
from summarizer.cli.summarize import summarize

coercion.install()  # plain option values without pydantic: see the module

app = typer.Typer(
    name="summarizer",
    help=(
        "Turn a news article into a structured, verifiable summary: headline, key "
        "points, actors, commitments and open questions, each backed by a verbatim "
        "quote located in the article."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion, --show-completion: bash, zsh, fish, pwsh
)


def _version(value: bool) -> None:
    if value:
        from summarizer._version import __version__

        typer.echo(f"summarizer {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    # A plain bool, not `bool | None`: typer passes a bool flag's value through as is,
    # but builds a pydantic validator (about 0.1 s to import) for any other type.
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="Say on stderr what is done: model requests (latency, tokens), re-asks "
            "and why, retries, cache hits. -vv: more.",
        ),
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Errors only on stderr: no notices or warnings.")
    ] = False,
) -> None:
    """Summarize news articles into the JSON summary contract (schema v1)."""
    from summarizer import calllog
    from summarizer.cli.errors import fail
    from summarizer.cli.verbosity import configure
    from summarizer.errors import SummarizerError

    configure(verbose, quiet)

    def back_to_the_library_defaults() -> None:  # for the next command in this process
        configure(0, False)
        calllog.enable(False)

    ctx.call_on_close(back_to_the_library_defaults)
    try:
        calllog.enable()  # the command line logs every model call (`summarizer logs`)
    except SummarizerError as error:  # SUMMARIZER_LOG=garbage: one line, exit 20
        fail(error)


app.command()(summarize)
app.command()(batch)
app.command()(merge)
app.command()(schema)
app.command("exit-codes")(exit_codes)
app.command()(models)
app.add_typer(prompts_app, name="prompts")
app.add_typer(eval_app, name="eval")
app.add_typer(cache_app, name="cache")
app.add_typer(config_app, name="config")
app.add_typer(logs_app, name="logs")
app.command()(serve)
app.add_typer(keys_app, name="keys")


def run() -> None:
    """Console-script entry point (``summarizer``; ``python -m summarizer`` too)."""
    app()
