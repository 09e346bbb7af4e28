"""Eval reports for people: a terminal table and a self-contained HTML page.

The HTML page shows, per article, the golden and candidate summaries side by side
with each item marked matched, missed or extra, and the article text with the
golden and candidate evidence highlighted. One file, no scripts or fetches, so it can
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
    for case_id, result in sorted(report["articles"].items()):
        name = case_id + (f" ({result['error'][:40]})" if "error" in result else "")
        scores = [result["score"], *(result["sections"][s]["score"] for s in SECTIONS)]
        table.add_row(Text(name), *(f"{x:.3f}" for x in scores))
    agg = report["aggregate"]
    table.add_section()
    table.add_row(
        f"mean of {agg['articles']}",
        f"{agg['score']:.3f}",
        *[f"{agg['sections'][s]:.3f}" for s in SECTIONS],
        style="bold",
    )
    console.print(table)


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


def _side_by_side(
    section: str, result: dict[str, Any], golden: ArticleSummary, candidate: ArticleSummary
) -> dict[str, Any]:
    g_items, c_items = _items(golden, section), _items(candidate, section)
    g_state = ["optional"] * len(g_items)
    c_state = ["extra"] * len(c_items)
    for g in result.get("missed", []):
        g_state[g] = "missed"
    for g, c, _ in result.get("matched", []):
        g_state[g] = "matched"
        c_state[c] = "matched"
    return {
        "name": section.replace("_", " "),
        "golden": list(zip(g_items, g_state, strict=True)),
        "candidate": list(zip(c_items, c_state, strict=True)),
    }


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
            entry["golden_headline"] = golden.key_summary.headline
            entry["candidate_headline"] = candidate.key_summary.headline
            entry["sides"] = [
                _side_by_side(
                    "key_points", sections["key_summary"]["key_points"], golden, candidate
                ),
                *(
                    _side_by_side(s, sections[s], golden, candidate)
                    for s in ("actors", "commitments", "open_questions")
                ),
            ]
        entry["article_html"] = highlight(text, g_spans, c_spans)
        articles.append(entry)
    return _template().render(
        run=report["run"], agg=report["aggregate"], sections=SECTIONS, articles=articles
    )
