"""Eval reports for people: a terminal table and a self-contained HTML page.

The HTML page (:mod:`summarizer.evals.report_html`) opens on the article table and
shows, per article, the golden and candidate items matched, missed or extra (a
candidate item its own quotes do not support marked unsupported, with the words they
lack), each labeled and linked to its evidence highlighted in the article text. Both
show the ``supported`` rate beside the scores. One file, with no fetches, so it can
be attached to a CI run and opened anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from summarizer.evals.runs import SECTIONS


def print_table(report: dict[str, Any], console: Console | None = None) -> None:
    """The scores as a table. Paths, ids and error messages come from the user's files,
    so they go in as :class:`~rich.text.Text`, never parsed for markup or emoji
    (a folder named ``[/red]`` would otherwise crash the table)."""
    # Piped output (CI logs) gets rich's 80 columns by default: too narrow to read.
    console = console or Console(width=None if Console().is_terminal else 150)
    title = Text(f"eval: {report['run'].get('dataset', '')}", style="table.title")
    table = Table(title=title, show_lines=False)
    table.add_column("article")
    table.add_column("overall", justify="right")
    for s in SECTIONS:
        table.add_column(s.replace("_", " "), justify="right")
    table.add_column("supported", justify="right")
    for case_id, result in sorted(report["articles"].items()):
        name = case_id + (f" ({result['error'][:40]})" if "error" in result else "")
        scores = [result["score"], *(result["sections"][s]["score"] for s in SECTIONS)]
        table.add_row(Text(name), *(f"{x:.3f}" for x in scores), _rate(supported_rate(result)))
    agg = report["aggregate"]
    table.add_section()
    table.add_row(
        f"mean of {agg['articles']}",
        f"{agg['score']:.3f}",
        *[f"{agg['sections'][s]:.3f}" for s in SECTIONS],
        _rate(mean_supported(report)),
        style="bold",
    )
    floor = report.get("floor")
    if floor:
        fagg = floor["aggregate"]
        below = {line.split()[0] for line in report.get("below_floor", [])}
        table.add_row(
            Text(f"{floor['method']} baseline (no model)"),
            Text(f"{fagg['score']:.3f}", style="red" if "overall" in below else ""),
            *[
                Text(f"{fagg['sections'][s]:.3f}", style="red" if s in below else "")
                for s in SECTIONS
            ],
            _rate(fagg.get("supported")),
            style="dim",
        )
    console.print(table)


def supported_rate(result: dict[str, Any]) -> float | None:
    """An article's share of candidate items their own quotes support (``None``: not
    scored, or a report from before the figure existed)."""
    supported = result.get("supported")
    return float(supported["rate"]) if isinstance(supported, dict) else None


def mean_supported(report: dict[str, Any]) -> float | None:
    """The run's mean supported rate: the aggregate's, else the articles' mean (a
    report whose aggregate predates the figure); ``None`` when no article has one."""
    agg = report.get("aggregate", {})
    if isinstance(agg.get("supported"), int | float):
        return float(agg["supported"])
    rates = [r for r in map(supported_rate, report["articles"].values()) if r is not None]
    return round(sum(rates) / len(rates), 4) if rates else None


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def render_html(report: dict[str, Any], dataset: Path, candidates: Path) -> str:
    """The HTML page (:mod:`summarizer.evals.report_html`, imported only for it)."""
    from summarizer.evals.report_html import render_page

    return render_page(report, dataset, candidates)
