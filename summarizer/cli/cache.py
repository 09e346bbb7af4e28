"""``summarizer cache stats|clear``: the cache of model answers (see :mod:`summarizer.cache`).

Neither command calls a model; ``summarizer.cache`` (sqlite) is imported when one runs.
"""

from __future__ import annotations

import json

import typer

from summarizer.cli.errors import handle_errors

cache_app = typer.Typer(help="The cache of model answers.", no_args_is_help=True)


@cache_app.command("stats")
@handle_errors
def cache_stats() -> None:
    """Where the cache is and how much it holds."""
    from summarizer.cache import ResponseCache

    stats = ResponseCache().stats()
    typer.echo(json.dumps(stats, indent=2))


@cache_app.command("clear")
@handle_errors
def cache_clear() -> None:
    """Delete every cached answer."""
    from summarizer.cache import ResponseCache

    typer.echo(f"removed {ResponseCache().clear()} cached answer(s)")
