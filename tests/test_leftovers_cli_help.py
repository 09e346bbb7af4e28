"""``--help`` names a positional list by what to type (``INPUTS...``), never by its
Python type (``<list[str]>``): every command, eval commands included."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from summarizer.cli import app
from tests.conftest import SEED

runner = CliRunner()


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        out += _commands(sub, (*path, name))
    return out


COMMANDS = _commands(typer.main.get_command(app))


def _help(command: tuple[str, ...]) -> str:
    helped = runner.invoke(app, [*command, "--help"], terminal_width=200)
    assert helped.exit_code == 0, helped.output
    return helped.stdout


def test_every_command_was_found() -> None:
    assert {("summarize",), ("batch",), ("eval", "compare"), ("eval", "run")} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(["summarizer", *c]))
def test_no_help_shows_a_python_list_type(command: tuple[str, ...]) -> None:
    helped = _help(command)
    assert "<list[" not in helped
    assert "list[str]" not in helped
    assert "list[Path]" not in helped


@pytest.mark.parametrize(
    ("command", "name"),
    [(("summarize",), "INPUT"), (("batch",), "INPUTS"), (("eval", "compare"), "REPORTS")],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else v,
)
def test_a_positional_list_reads_as_its_name(command: tuple[str, ...], name: str) -> None:
    helped = _help(command)
    usage = next(line for line in helped.splitlines() if "Usage:" in line)
    assert usage.rstrip().endswith(f"{{{name}}}...")
    row = next(line for line in helped.splitlines() if f" {name}..." in line)
    assert row.strip("│ *").startswith(f"{name}...")
    # The help text follows the name: no type column in between.
    assert row.split(f"{name}...", 1)[1].split()[0][0] not in "<["


def test_a_missing_list_is_named_in_the_error() -> None:
    missing = runner.invoke(app, ["batch", "-o", "out.jsonl"])
    assert missing.exit_code == 2
    assert "Missing argument 'INPUTS'" in missing.stderr


def test_the_list_still_reaches_the_command(tmp_path: Path) -> None:
    """Only its display changed: the values still arrive, several of them."""
    one, two = tmp_path / "a.txt", tmp_path / "b.txt"
    one.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    two.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    done = runner.invoke(app, ["summarize", str(one), str(two), "-m", "rules"])
    assert done.exit_code == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2
