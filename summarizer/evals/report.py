"""Eval reports for people: a terminal table and a self-contained HTML page.

The HTML page shows, per article, the golden and candidate summaries side by side
with each item marked matched, missed or extra (and a candidate item its own quotes
do not support marked unsupported, with the words they lack), and the article text
with the golden and candidate evidence highlighted. Both show the ``supported`` rate
beside the scores. One file, no scripts or fetches, so it can
be attached to a CI run and opened anywhere.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from summarizer.contract.models import ArticleSummary
from summarizer.evals.goldens import article_text, read_text
from summarizer.evals.runs import SECTIONS
from summarizer.grounding import Aligner, evidence_spans

if TYPE_CHECKING:
    import jinja2


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


def highlight(text: str, golden: list[tuple[int, int]], candidate: list[tuple[int, int]]) -> str:
    """The article as HTML with golden (g), candidate (c) and shared (gc) evidence marked."""
    marks = [0] * len(text)
    for start, end in golden:
        for i in range(start, min(end, len(text))):
            marks[i] |= 1
    for start, end in candidate:
        for i in range(start, min(end, len(text))):
            marks[i] |= 2
    out: list[str] = []
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and marks[j] == marks[i]:
            j += 1
        chunk = html.escape(text[i:j])
        cls = {1: "g", 2: "c", 3: "gc"}.get(marks[i])
        out.append(f'<mark class="{cls}">{chunk}</mark>' if cls else chunk)
        i = j
    return "".join(out)


def _items(summary: ArticleSummary, section: str) -> list[str]:
    if section == "key_points":
        return [kp.text for kp in summary.key_summary.key_points]
    if section == "actors":
        return [f"{a.name} ({a.kind}{', ' + a.role if a.role else ''})" for a in summary.actors]
    if section == "commitments":
        return [f"{c.actor}: {c.action} [{c.kind}, {c.certainty}]" for c in summary.commitments]
    return [q.question for q in summary.open_questions]


_PATHS = {"key_points": "key_summary.key_points"}


def _side_by_side(
    section: str,
    result: dict[str, Any],
    golden: ArticleSummary,
    candidate: ArticleSummary,
    unsupported: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """One section's items side by side; a candidate item its own quotes do not
    support carries the missing words (the third element, else ``None``)."""
    g_items, c_items = _items(golden, section), _items(candidate, section)
    g_state = ["optional"] * len(g_items)
    c_state = ["extra"] * len(c_items)
    for g in result.get("missed", []):
        g_state[g] = "missed"
    for g, c, _ in result.get("matched", []):
        g_state[g] = "matched"
        c_state[c] = "matched"
    path = _PATHS.get(section, section)
    lacking = [(unsupported or {}).get(f"{path}[{i}]") for i in range(len(c_items))]
    return {
        "name": section.replace("_", " "),
        "golden": [(t, st, None) for t, st in zip(g_items, g_state, strict=True)],
        "candidate": list(zip(c_items, c_state, lacking, strict=True)),
    }


def _unsupported(result: dict[str, Any]) -> dict[str, list[str]]:
    """Candidate item path -> the words its quotes lack, from the scored result."""
    supported = result.get("supported")
    if not isinstance(supported, dict):
        return {}
    return {u["item"]: list(u["missing"]) for u in supported.get("unsupported", [])}


@cache
def _template() -> jinja2.Template:
    import jinja2  # here: `eval score` without --html does not need it

    source = resources.files("summarizer.evals") / "templates" / "report.html.j2"
    return jinja2.Environment(autoescape=True).from_string(source.read_text(encoding="utf-8"))


def render_html(report: dict[str, Any], dataset: Path, candidates: Path) -> str:
    articles = []
    for case_id, result in sorted(report["articles"].items()):
        entry: dict[str, Any] = {
            "id": case_id,
            "score": result["score"],
            "error": result.get("error"),
            "sections": {s: result["sections"][s]["score"] for s in SECTIONS},
            "supported": supported_rate(result),
            "sides": [],
            "article_html": "",
        }
        text = article_text(dataset, case_id)
        aligner = Aligner(text)
        golden = ArticleSummary.model_validate(
            json.loads(read_text(dataset / "golden" / f"{case_id}.json"))
        )
        g_spans = evidence_spans(golden.evidence(), aligner)
        c_spans: list[tuple[int, int]] = []
        cand_path = candidates / f"{case_id}.json"
        if "error" not in result and cand_path.is_file():
            candidate = ArticleSummary.model_validate_json(read_text(cand_path))
            c_spans = evidence_spans(candidate.evidence(), aligner)
            sections = result["sections"]
            lacking = _unsupported(result)
            entry["golden_headline"] = golden.key_summary.headline
            entry["candidate_headline"] = candidate.key_summary.headline
            entry["headline_lacks"] = lacking.get("key_summary.headline")
            entry["sides"] = [
                _side_by_side(
                    "key_points", sections["key_summary"]["key_points"], golden, candidate, lacking
                ),
                *(
                    _side_by_side(s, sections[s], golden, candidate, lacking)
                    for s in ("actors", "commitments", "open_questions")
                ),
            ]
        entry["article_html"] = highlight(text, g_spans, c_spans)
        articles.append(entry)
    return _template().render(
        run=report["run"],
        agg=report["aggregate"],
        sections=SECTIONS,
        articles=articles,
        supported=mean_supported(report),
        floor=report.get("floor"),
        below_floor=report.get("below_floor", []),
    )
