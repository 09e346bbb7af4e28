"""Commands that describe what the tool works with and call no model: ``schema``,
``exit-codes`` and ``prompts list|show``.

They are what scripts and people run to look things up, so they must start fast:
``schema`` and ``prompts`` print from :mod:`summarizer.cli.reference_snapshot` while
it matches the sources, and only otherwise import what computing their output needs
(pydantic for the schema, pydantic and jinja2 for the prompts), inside the command;
nothing here imports a model SDK. Both ways go through the same formatting below.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from summarizer.cli.errors import handle_errors
from summarizer.cli.output import write_output

prompts_app = typer.Typer(help="List and inspect the versioned prompts.", no_args_is_help=True)


@handle_errors
def schema(
    llm: Annotated[
        bool, typer.Option("--llm", help="Print the schema the model is asked to fill instead.")
    ] = False,
) -> None:
    """Print the JSON schema of the summary contract."""
    from summarizer.cli import reference_snapshot

    doc = reference_snapshot.schema(llm)
    if doc is None and llm:
        from summarizer.contract.llm_schema import llm_json_schema

        doc = llm_json_schema()
    elif doc is None:
        from summarizer.contract import contract_json_schema

        doc = contract_json_schema()
    write_output(json.dumps(doc, indent=2))


@handle_errors
def exit_codes(
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help='For scripts: [{"code": 0, "name": "ok", "meaning": "Success"}, ...].'
        ),
    ] = False,
) -> None:
    """List every exit code and what it means (--json for scripts)."""
    from summarizer.errors import EXIT_CODES

    if as_json:
        rows = [{"code": c, "name": n, "meaning": m} for c, (n, m) in EXIT_CODES.items()]
        write_output(json.dumps(rows, indent=2))
        return
    write_output("\n".join(f"{c:>3}  {n:<26} {m}" for c, (n, m) in EXIT_CODES.items()))


@prompts_app.command("list")
@handle_errors
def prompts_list() -> None:
    """List available prompts (NAME@VERSION, hash, description)."""
    from summarizer.cli import reference_snapshot

    listed = reference_snapshot.listed_prompts()
    if listed is None:
        from summarizer.prompts import list_prompts

        listed = [reference_snapshot.prompt_fields(p) for p in list_prompts()]
    for p in listed:
        typer.echo(f"{p['ref']:<28} {p['sha256'][:12]}  {p['description']}")


@prompts_app.command("show")
@handle_errors
def prompts_show(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION, NAME (latest) or a .toml file.")],
) -> None:
    """Show one prompt: metadata, parameters and templates."""
    from summarizer.cli import reference_snapshot

    p = reference_snapshot.shown_prompt(ref)
    if p is None:
        from summarizer.prompts import load_prompt

        p = reference_snapshot.prompt_fields(load_prompt(ref))
    typer.echo(f"{p['ref']}  sha256:{p['sha256']}")
    typer.echo(f"{p['description']}")
    typer.echo(f"format: {p['format']}  parameters: {json.dumps(p['parameters'])}")
    typer.echo(f"file: {p['path']}")
    typer.echo("\n--- system ---\n" + p["system"].strip())
    typer.echo("\n--- user ---\n" + p["user"].strip())
