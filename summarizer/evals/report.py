"""Eval reports for people: terminal tables (a run's, a comparison's) and a
self-contained HTML page.

The HTML page (:mod:`summarizer.evals.report_html`) opens on the article table and
shows, per article, the golden and candidate items matched, missed or extra (a
candidate item its own quotes do not support marked unsupported, with the words they
lack), each labeled and linked to its evidence highlighted in the article text. Both
show the ``supported`` rate beside the scores. One file, with no fetches, so it can
be attached to a CI run and opened anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarizer.evals.runs import SECTIONS

if TYPE_CHECKING:  # rich is imported where a table is printed (about 20 ms)
    from rich.console import Console

#: An article's error as listed under the table, at most (a pydantic message with the
#: input it quotes can run long; the report keeps it whole).
ERROR_CHARS = 300


def print_table(report: dict[str, Any], console: Console | None = None) -> None:
    """The scores as a table, then each article's error on a line of its own under it
    (in a column, it would be cut to a few characters). Paths, ids and error messages
    come from the user's files, so they go in as :class:`~rich.text.Text`, never parsed
    for markup or emoji (a folder named ``[/red]`` would otherwise crash the table)."""
    # Piped output (CI logs) gets rich's 80 columns by default: too narrow to read.
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console(width=None if Console().is_terminal else 150)
    title = Text(f"eval: {report['run'].get('dataset', '')}", style="table.title")
    table = Table(title=title, show_lines=False)
    table.add_column("article")
    table.add_column("overall", justify="right")
    for s in SECTIONS:
        table.add_column(s.replace("_", " "), justify="right")
    table.add_column("supported", justify="right")
    for case_id, result in sorted(report["articles"].items()):
        name = case_id + (" (error, below)" if "error" in result else "")
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
    errors = {i: r["error"] for i, r in sorted(report["articles"].items()) if "error" in r}
    if errors:
        console.print(f"errors (scored 0): {len(errors)} of {agg['articles']}")
    for case_id, error in errors.items():
        line = " ".join(str(error).split())
        line = line if len(line) <= ERROR_CHARS else line[: ERROR_CHARS - 3] + "..."
        console.print(Text(f"  {case_id}: {line}"), soft_wrap=True)


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


def print_comparison(comparison: dict[str, Any], console: Console | None = None) -> None:
    """The means and the per-article overall scores as terminal tables. Labels and ids
    come from the user's files: they go in as ``Text``, never parsed as markup."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console(width=None if Console().is_terminal else 150)
    runs = comparison["runs"]

    def cell(row: dict[str, Any], k: int) -> Text:
        value, delta = row["runs"][k], row["delta"][k]
        if value is None:
            return Text("missing", style="dim")
        text = Text(f"{value:.3f}", style="bold green" if k in row["best"] else "")
        if k and delta is not None:
            worse = -delta > comparison["max_drop"]
            text.append(f" {delta:+.3f}", style="red" if worse else "green" if delta > 0 else "dim")
        return text

    n, differ = comparison["compared_articles"], comparison["common"] is not None
    title = f"means over the {n} articles every run scored" if differ else "means"
    means = Table(title=title, title_justify="left")
    means.add_column("")
    means.add_column(Text(f"{comparison['floor']['method'] or 'lead'} floor"), justify="right")
    for run in runs:
        means.add_column(Text(run["label"]), justify="right")
    floor = comparison["floor"]["scores"] or {}
    for name, row in comparison["means"].items():
        f = floor.get(name)
        means.add_row(name, Text("—" if f is None else f"{f:.3f}", style="dim"),
                      *(cell(row, k) for k in range(len(runs))))  # fmt: skip
    counts = [
        f"{r['articles']}" + (f" (+{len(r['missing'])} missing)" if r["missing"] else "")
        for r in runs
    ]
    means.add_row("articles", "", *([str(n)] * len(runs) if differ else counts), style="dim")
    console.print(means)
    if differ:  # each run's own means: shown, labeled, never compared
        # Printed as a line: a table's title wraps at the (narrow) table's width.
        console.print("own means: each run's, over the articles it scored (not compared)")
        own = Table()
        own.add_column("")
        for run in runs:
            own.add_column(Text(run["label"]), justify="right")
        for name, values in comparison["own_means"].items():
            own.add_row(name, *("—" if v is None else f"{v:.3f}" for v in values))
        own.add_row("articles", *counts, style="dim")
        console.print(own)
    table = Table(title="overall per article", title_justify="left")
    table.add_column("article")
    for run in runs:
        table.add_column(Text(run["label"]), justify="right")
    table.add_column("")
    for article in comparison["articles"]:
        notes = Text()
        if article["regressed"]:
            notes.append("regressed: " + ", ".join(article["regressed"]), style="red")
        table.add_row(
            Text(article["id"]),
            *(cell(article["scores"]["overall"], k) for k in range(len(runs))),
            notes,
        )
    console.print(table)


def render_html(report: dict[str, Any], dataset: Path, candidates: Path) -> str:
    """The HTML page (:mod:`summarizer.evals.report_html`, imported only for it)."""
    from summarizer.evals.report_html import render_page

    return render_page(report, dataset, candidates)
