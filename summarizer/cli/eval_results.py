"""Where the results of ``eval score`` and ``eval run`` go, and the gates they pass.

These commands gate CI, so they fail loudly and early, never by passing: everything
that can be checked before the work (the baseline, --max-drop, where the results go)
is checked before it, and before any model call. Once scores exist, the reports are
written first, and the gate's verdict is the exit code even if a report cannot be
written or the table cannot be printed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import typer

from summarizer.cli import verbosity
from summarizer.errors import ConfigurationError, MissingCandidatesError, RegressionError


class Gate(NamedTuple):
    """What the run must pass: no drop over ``max_drop`` below ``baseline`` (its path
    and report), and with ``floor``, not below the lead baseline."""

    max_drop: float = 0.05
    baseline: tuple[Path, dict[str, Any]] | None = None
    floor: bool = False


def load_gate(baseline: Path | None, max_drop: float, floor: bool) -> Gate:
    """The gate, with the baseline report read (a run folder means its report.json;
    exit 51 if it cannot be gated against) and --max-drop checked, both before any work."""
    from summarizer.evals.gate import load_report, report_path

    if not math.isfinite(max_drop) or max_drop < 0:  # nan would pass every drop
        raise ConfigurationError(f"--max-drop {max_drop:g}: expected a number from 0 to 1")
    loaded = None if baseline is None else (report_path(baseline), load_report(baseline))
    return Gate(max_drop, loaded, floor)


def check_gate(gate: Gate, ids: list[str]) -> None:
    """Before any work: the baseline must have scored some of the articles this run
    will score (``ids``), the only ones its means are compared on (exit 51 if none)."""
    from summarizer.evals.gate import check_shared

    if gate.baseline is not None:
        check_shared(gate.baseline[0], gate.baseline[1], ids)


def check_writable(path: Path, option: str, *, folder: bool = False) -> None:
    """Refuse now, before any work or model call, a path the results cannot go to."""
    if folder and path.exists() and not path.is_dir():
        raise ConfigurationError(f"{option} {path}: is a file, not a folder")
    if not folder and path.is_dir():
        raise ConfigurationError(f"{option} {path}: is a folder; pass a file name")
    if not folder and path.exists() and not path.is_file():
        raise ConfigurationError(f"{option} {path}: not a regular file")
    parent = path if folder else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # the results write the missing folders
    if parent.exists() and not parent.is_dir():
        raise ConfigurationError(f"{option} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigurationError(f"{option} {path}: {parent} is not writable")
    missing = path if folder else path.parent
    if not missing.exists():
        # /proc and /sys pass the checks above and refuse anyway: find out now, by
        # making the first missing folder and taking it away again (no trace left).
        while not missing.parent.exists():
            missing = missing.parent
        try:
            missing.mkdir()
            missing.rmdir()
        except OSError as e:
            raise ConfigurationError(f"{option} {path}: cannot create it: {e.strerror}") from e


def _write(path: Path, render: Callable[[], str], what: str) -> Exception | None:
    """Write ``render()`` to ``path`` whole or not at all (a previous report, maybe the
    baseline, is never left half-overwritten); returns the failure instead of raising
    it, so that the other report and the gate still happen."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        text = render()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return ConfigurationError(f"{path}: cannot write the {what}: {e.strerror or e}")
    except Exception as e:  # noqa: BLE001 - raised after the gate (an internal error)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return e
    return None


def _print_results(print_table: Callable[[], None], lines: list[str]) -> Exception | None:
    """The table, then ``lines``; returns why the table could not be printed, if it
    could not (the reports are written by then, and the gate still decides)."""
    failure = None
    try:
        print_table()
    except BrokenPipeError:
        raise
    except Exception as e:  # noqa: BLE001 - printing must not cost the gate its verdict
        failure = e
    for line in lines:
        typer.echo(line)
    return failure


def _one_line(error: Exception) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


def _summary_lines(report: dict[str, Any], gate: Gate, allow_missing: bool) -> list[str]:
    """What the table does not show: missing candidates, the floor, the baseline."""
    from summarizer.evals.baselines import FLOOR

    lines: list[str] = []
    missing = report["missing"]
    if missing:
        selected = len(missing) + len(report["articles"])
        scored = "--allow-missing: the means are over" if allow_missing else "scored only"
        lines.append(
            f"missing: no candidate for {len(missing)} of {selected} selected articles "
            f"({scored} the other {len(report['articles'])}): " + ", ".join(missing)
        )
    under = report["below_floor"]
    if under:
        lines.append(
            f"below the {FLOOR} baseline (no model: title and first sentences): " + ", ".join(under)
        )
    else:
        lines.append(f"not below the {FLOOR} baseline overall or in any section")
    compared = report.get("baseline")
    if compared:
        worse = compared["regressions"]
        dropped = (
            f"; {len(worse)} article(s) dropped more than {gate.max_drop:g}: " if worse else ""
        )
        own = compared["own"]
        over = f" over its {own['articles']}" if own["articles"] else ""
        theirs = (
            f" (its own mean{over}: {own['score']:.3f})"
            if own["articles"] != compared["articles"]
            else ""
        )
        lines.append(
            f"against {compared['path']}, {_on_shared(compared)}{theirs}: overall "
            f"{compared['aggregate']['score']:.3f} -> {compared['current']['score']:.3f} "
            f"({compared['delta']['score']:+.3f})" + dropped + ", ".join(worse)
        )
        if compared["passed"]:
            lines.append(f"gate: no drop over {gate.max_drop:g} against {compared['path']}")
    if gate.floor and not under:
        lines.append(f"gate: not below the {FLOOR} floor")
    return lines


def _on_shared(compared: dict[str, Any]) -> str:
    n = compared["articles"]
    return f"on the {n} article{'s' if n != 1 else ''} both runs scored"


def finish_eval(
    articles: dict[str, dict[str, Any]],
    run_info: dict[str, Any],
    cases: dict[str, Any],
    *,
    dataset: Path,
    candidates: Path,
    report_path: Path | None,
    html_path: Path | None,
    gate: Gate,
    missing: list[str] | None = None,
    allow_missing: bool = False,
    failed: str = "candidates invalid",
) -> None:
    """Write the reports, print the table, then apply the gates (exit 50): against the
    previous report, on the articles both scored, and with ``gate.floor`` against the
    lead floor; then fail (exit 53) if candidates are ``missing`` and not
    ``allow_missing``. Articles scored 0 for an error are counted on stderr ("3 of 12
    ``failed`` (scored 0)"): a model's failures, not the command's, so not an exit code.

    The gate's verdict is the exit code whatever else fails: a report that cannot be
    written or a table that cannot be printed does not stop the rest.
    """
    from summarizer.cli.eval_table import print_plain_table
    from summarizer.evals.baselines import FLOOR, floor_scores
    from summarizer.evals.gate import compare_to_baseline
    from summarizer.evals.report import print_table, render_html
    from summarizer.evals.runs import aggregate, build_report

    by_article = floor_scores(cases)
    # Per article too: an HTML page rendered later shows what was scored, not today's floor.
    floor = {
        "method": FLOOR,
        "aggregate": aggregate(by_article),
        "articles": {
            i: {"score": r["score"], "sections": {s: v["score"] for s, v in r["sections"].items()}}
            for i, r in by_article.items()
        },
    }
    report = build_report(articles, run_info, floor=floor, missing=missing)
    dropped: list[str] = []
    if gate.baseline:
        baseline_path, previous = gate.baseline
        report["baseline"] = compare_to_baseline(report, previous, baseline_path, gate.max_drop)
        dropped += report["baseline"]["drops"]
    under = report["below_floor"]
    if gate.floor and under:
        dropped.append(f"below the {FLOOR} floor: " + ", ".join(under))
    unaccepted = bool(report["missing"]) and not allow_missing
    failures: list[Exception] = []
    lines: list[str] = []
    outputs = [
        (report_path, "report: ", "JSON report", lambda: json.dumps(report, indent=2) + "\n"),
        (html_path, "html:   ", "HTML report", lambda: render_html(report, dataset, candidates)),
    ]
    written: list[str] = []
    for path, label, what, render in outputs:
        if path is None:
            continue
        failure = _write(path, render, what)
        if failure is None:
            written.append(str(path))
            lines.append(f"{label}{path}")
        else:
            failures.append(failure)
    lines += _summary_lines(report, gate, allow_missing)
    notes = [_one_line(e) for e in failures]
    try:
        # Drawn without rich where the two draw the same (a pipe, a file): eval_table.
        table_failure = _print_results(
            lambda: None if print_plain_table(report) else print_table(report), lines
        )
    except BrokenPipeError:  # `| head`: the gate's verdict still goes to stderr
        if not (dropped or failures or unaccepted):
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        table_failure = None
    if table_failure is not None:
        notes.append(f"the table could not be printed: {_one_line(table_failure)}")
    errors, scored = report["aggregate"]["errors"], report["aggregate"]["articles"]
    if errors:
        verbosity.notice(f"warning: {errors} of {scored} {failed} (scored 0)")
    also = "".join(f" (also: {note})" for note in notes)
    if dropped:
        against = (
            f"dropped more than {gate.max_drop:g} below {gate.baseline[0]}, "
            f"{_on_shared(report['baseline'])}: "
            if gate.baseline and report["baseline"]["drops"]
            else ""
        )
        if unaccepted:
            also = f" (also: {len(report['missing'])} selected article(s) have no candidate){also}"
        raise RegressionError(f"eval gate: {against}" + "; ".join(dropped) + also)
    if unaccepted:
        raise MissingCandidatesError(_missing_message(report, candidates) + also)
    if failures:
        raise failures[0]
    if notes:  # the reports are written and the gate passed: a warning, exit 0
        see = f"; the scores are in {' and '.join(written)}" if written else ""
        typer.echo(f"summarizer: warning: {notes[0]}{see}", err=True)


def _missing_message(report: dict[str, Any], candidates: Path) -> str:
    missing, scored = report["missing"], len(report["articles"])
    return (
        f"{len(missing)} of {len(missing) + scored} selected articles have no candidate in "
        f"{candidates} (listed above, and in the report's 'missing'), so the means are "
        f"over the other {scored} only; pass --allow-missing to accept that, or select "
        "fewer articles with --only/--limit"
    )
