"""The ``summarizer`` command: the Typer app, ``--version`` and the entry point.

The CLI is a thin layer over the library (see :mod:`summarizer`): each command lives
in the module named after it and is only named here, in ``COMMANDS``, whose order is
the order ``--help`` lists them in. A command's module is imported only when that
command runs (or ``--help`` or shell completion needs it: see
:mod:`summarizer.cli.lazy_commands`), so ``summarizer eval score`` does not wait for
``batch``'s or ``serve``'s options to be built. Importing this module must stay cheap
(it runs for ``summarizer --version``): command modules import what they need, the
pipeline and its SDKs above all, inside the commands; ``tests/test_cli.py`` and
``tests/test_startup_imports.py`` check that.
"""

from __future__ import annotations

import gc
from typing import Annotated

import typer

from summarizer.cli import coercion
from summarizer.cli.lazy_commands import Lazy, LazyTyper

coercion.install()  # plain option values without pydantic: see the module

# Each command or sub-app (a typer.Typer), by name and "module:attribute", in the
# order --help lists them; a new command is one line here (one registered with
# app.command() would be imported for every command, and listed after these).
COMMANDS = (
    Lazy("summarize", "summarizer.cli.summarize:summarize"),
    Lazy("batch", "summarizer.cli.batch:batch"),
    Lazy("merge", "summarizer.cli.merge:merge"),
    Lazy("schema", "summarizer.cli.reference:schema"),
    Lazy("exit-codes", "summarizer.cli.reference:exit_codes"),
    Lazy("models", "summarizer.cli.models:models"),
    Lazy("serve", "summarizer.cli.serve:serve"),
    Lazy("prompts", "summarizer.cli.reference:prompts_app"),
    Lazy("eval", "summarizer.cli.evals:eval_commands"),
    Lazy("cache", "summarizer.cli.cache:cache_app"),
    Lazy("config", "summarizer.cli.config:config_app"),
    Lazy("logs", "summarizer.cli.logs:logs_app"),
    Lazy("keys", "summarizer.cli.serve:keys_app"),
)

app = LazyTyper(
    commands=COMMANDS,
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


def run() -> None:
    """Console-script entry point (``summarizer``; ``python -m summarizer`` too).

    On the way out every object the process made is frozen (:func:`gc.freeze`), so
    the interpreter's last garbage collection skips them: it walked everything the
    imports built (pydantic's validators, typer's commands), about 40 ms of a 0.25 s
    ``eval check`` (measured), to free memory the process hands back whole anyway.
    Module teardown, ``atexit`` handlers and the flush of standard streams still
    run; only objects in reference cycles are not finalized.
    """
    try:
        app()
    finally:
        gc.freeze()
