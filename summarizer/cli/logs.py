"""``summarizer logs``: the local log of model calls (see :mod:`summarizer.calllog`).

``summarizer logs`` lists the last calls, ``logs show ID`` prints one in full (its
request and raw answer) as JSON, ``logs path`` says where the file is, ``logs
on|off|status`` whether calls are logged. No command here calls a model;
``summarizer.calllog`` (sqlite) is imported when one runs.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from summarizer.cli.errors import handle_errors
from summarizer.errors import ConfigurationError, InputNotFoundError

if TYPE_CHECKING:
    from summarizer.calllog import CallLog

logs_app = typer.Typer(
    help="The log of model calls: what each request sent and got back.",
    invoke_without_command=True,
)


class Outcome(StrEnum):
    """The kinds of outcome a logged call has (see :mod:`summarizer.calllog`)."""

    ok = "ok"
    reask = "reask"
    invalid = "invalid"
    error = "error"


_COLUMNS = ("id", "time", "model", "source", "outcome", "tokens", "latency")


def _existing_log() -> CallLog | None:
    """The log file if there is one: reading must not create it. One that cannot be
    read is one error line (the reader does not warn first)."""
    from summarizer.calllog import LOG_FILE, CallLog, log_dir

    path = log_dir() / LOG_FILE
    if not path.exists():
        return None
    if not path.is_file():
        raise ConfigurationError(
            f"the call log at {path} is not a file; move it away and the next model "
            "call starts a new log"
        )
    return _readable(CallLog(path, warn=False))


def _readable(log: CallLog) -> CallLog:
    """``log``, or the error that says why it cannot be read (it turns itself off on a
    fault, when opened or on a query)."""
    if log.disabled:
        raise ConfigurationError(
            f"the call log at {log.path} cannot be read ({log.disabled}); remove it to start anew"
        )
    return log


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    tokens = f"{row['prompt_tokens'] or '-'}/{row['completion_tokens'] or '-'}"
    latency = "-" if row["latency_s"] is None else f"{row['latency_s']:.2f}s"
    outcome = row["outcome"] if len(row["outcome"]) <= 50 else row["outcome"][:47] + "..."
    when = str(row["time"])[:19].replace("T", " ")
    return (str(row["id"]), when, row["model"] or "", row["source"] or "", outcome, tokens, latency)


@logs_app.callback()
@handle_errors
def logs_list(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("-n", "--count", min=1, help="How many calls.")] = 20,
    model: Annotated[str | None, typer.Option(help="Only models whose name contains this.")] = None,
    source: Annotated[
        str | None, typer.Option(help="Only sources (article ids) containing this.")
    ] = None,
    outcome: Annotated[Outcome | None, typer.Option(help="Only calls with this outcome.")] = None,
) -> None:
    """List the last model calls, newest first (UTC times; tokens in/out)."""
    if ctx.invoked_subcommand is not None:
        return
    log = _existing_log()
    kind = outcome.value if outcome else None
    rows = log.calls(limit=count, model=model, source=source, outcome=kind) if log else []
    if log:
        _readable(log)
    if not rows:
        typer.echo("no model calls logged" + (" match" if log else " yet"), err=True)
        return
    table = [_COLUMNS, *(_cells(r) for r in reversed(rows))]
    widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS))]
    for line in table:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


@logs_app.command("show")
@handle_errors
def logs_show(call_id: Annotated[int, typer.Argument(metavar="ID", help="From `logs`.")]) -> None:
    """One call as JSON: its request (messages and parameters) and raw answer."""
    log = _existing_log()
    row = log.get(call_id) if log else None
    if log:
        _readable(log)
    if row is None:  # not there, pruned, or no id at all (0, negative, past 2**63)
        raise InputNotFoundError(f"no logged model call {call_id}; see `summarizer logs`")
    typer.echo(json.dumps(row, indent=2, ensure_ascii=False))


@logs_app.command("path")
@handle_errors
def logs_path() -> None:
    """Where the log is (SUMMARIZER_CACHE_DIR or ~/.cache/summarizer, then logs.db)."""
    from summarizer.calllog import LOG_FILE, log_dir

    typer.echo(str(log_dir() / LOG_FILE))


@logs_app.command("status")
@handle_errors
def logs_status() -> None:
    """Whether model calls are logged, and why."""
    from summarizer.calllog import status

    typer.echo(f"model call log: {status()[1]}")


@logs_app.command("on")
@handle_errors
def logs_on() -> None:
    """Log model calls again (the default)."""
    from summarizer.calllog import OFF_FILE, log_dir

    (log_dir() / OFF_FILE).unlink(missing_ok=True)
    logs_status()


@logs_app.command("off")
@handle_errors
def logs_off() -> None:
    """Stop logging model calls (the calls already logged stay)."""
    from summarizer.calllog import OFF_FILE, log_dir

    try:
        log_dir().mkdir(parents=True, exist_ok=True)
        (log_dir() / OFF_FILE).touch()
    except OSError as e:
        raise ConfigurationError(f"cannot write {log_dir() / OFF_FILE}: {e}") from e
    logs_status()
