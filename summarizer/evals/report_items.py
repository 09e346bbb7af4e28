"""One article's golden and candidate items, and their evidence in its text, as HTML.

Every item gets a label (K1 is key point 1; A actors, C commitments, Q open questions)
that also marks its quotes in the article, so that a reader can go from an item to its
evidence and back: the page links the two both ways. Item states come from the scored
report (matched, missed, extra) and are checked against the summaries, since a report
may be rendered against goldens that changed since.
"""

from __future__ import annotations

import html
import itertools
import math
from dataclasses import dataclass
from typing import Any

from summarizer.contract.models import ArticleSummary, Evidence
from summarizer.grounding import Aligner, evidence_spans

#: The item lists of a summary: (section, label letter, name shown).
ITEM_SECTIONS = (
    ("key_points", "K", "key points"),
    ("actors", "A", "actors"),
    ("commitments", "C", "commitments"),
    ("open_questions", "Q", "open questions"),
)
_PATHS = {"key_points": "key_summary.key_points"}


@dataclass
class Item:
    """One golden or candidate item as the page shows it."""

    dom_id: str
    side: str  # "g" or "c"
    label: str  # "K1"
    text: str
    state: str  # matched, missed, extra, optional
    spans: list[tuple[int, int]]
    partner: str | None = None  # the matched item's dom id
    partner_label: str | None = None
    similarity: float | None = None
    lacks: list[str] | None = None  # the words its own quotes do not support
    anchored: bool = False  # its evidence is marked in the article (a link target exists)


def _entries(summary: ArticleSummary, section: str) -> list[tuple[str, list[Evidence]]]:
    if section == "key_points":
        return [(kp.text, kp.evidence) for kp in summary.key_summary.key_points]
    if section == "actors":
        return [
            (f"{a.name} ({a.kind}{', ' + a.role if a.role else ''})", a.evidence)
            for a in summary.actors
        ]
    if section == "commitments":
        return [
            (f"{c.actor}: {c.action} [{c.kind}, {c.certainty}]", c.evidence)
            for c in summary.commitments
        ]
    return [(q.question, q.evidence) for q in summary.open_questions]


def section_items(
    art: str,
    section: str,
    letter: str,
    result: dict[str, Any],
    golden: ArticleSummary,
    candidate: ArticleSummary | None,
    lacking: dict[str, list[str]],
    aligner: Aligner,
) -> tuple[list[Item], list[Item]]:
    """The section's golden and candidate items with their states and evidence spans.
    Indices come from the report and are checked: a report rendered against other
    goldens must not crash the page."""

    def build(side: str, summary: ArticleSummary, state: str) -> list[Item]:
        entries = enumerate(_entries(summary, section), 1)
        return [
            Item(f"{art}{side}{letter}{n}", side, f"{letter}{n}", text, state, spans)
            for n, (text, evidence) in entries
            for spans in [evidence_spans(evidence, aligner)]
        ]

    gold = build("g", golden, "optional" if candidate else "unscored")
    cand = build("c", candidate, "extra") if candidate else []
    for g in result.get("missed", []) if candidate else []:
        if isinstance(g, int) and 0 <= g < len(gold):
            gold[g].state = "missed"
    for match in result.get("matched", []) if candidate else []:
        if not (isinstance(match, list) and len(match) == 3):
            continue
        g, c, similarity = match
        if not (isinstance(g, int) and isinstance(c, int)):
            continue
        if 0 <= g < len(gold) and 0 <= c < len(cand):
            for mine, other in ((gold[g], cand[c]), (cand[c], gold[g])):
                mine.state = "matched"
                mine.partner, mine.partner_label = other.dom_id, other.label
                mine.similarity = _number(similarity)
    path = _PATHS.get(section, section)
    for i, item in enumerate(cand):
        item.lacks = lacking.get(f"{path}[{i}]")
    return gold, cand


def highlight(text: str, items: list[Item]) -> str:
    """The article as HTML: each stretch of evidence in a ``mark`` (class ``g``, ``c``
    or ``gc``: golden, candidate, both) inside a span naming the items it is evidence
    of, and at the start of each item's quote a label linking to the item (the first
    one is the target of the item's "evidence" link)."""
    n = len(text)
    spans = [(item, max(0, s), min(e, n)) for item in items for s, e in item.spans]
    spans = [(item, s, e) for item, s, e in spans if s < e]
    bounds = sorted({0, n, *(s for _, s, _ in spans), *(e for _, _, e in spans)})
    first: set[str] = set()
    starts: dict[int, list[Item]] = {}
    for item, s, _ in sorted(spans, key=lambda x: (x[1], x[0].side, x[0].dom_id)):
        starts.setdefault(s, []).append(item)
    out: list[str] = []
    for a, b in itertools.pairwise(bounds):
        for item in starts.get(a, []):
            anchor = "" if item.dom_id in first else f' id="{item.dom_id}-ev"'
            first.add(item.dom_id)
            item.anchored = True
            out.append(f'<a class="tag {item.side}"{anchor} href="#{item.dom_id}">{item.label}</a>')
        chunk = html.escape(text[a:b])
        covering = list({i.dom_id: i for i, s, e in spans if s <= a and b <= e}.values())
        if not covering:
            out.append(chunk)
            continue
        sides = {i.side for i in covering}
        cls = "gc" if len(sides) == 2 else sides.pop()
        names = ", ".join(
            f"{'golden' if i.side == 'g' else 'candidate'} {i.label}" for i in covering
        )
        keys = " ".join(i.dom_id for i in covering)
        mark = f'<mark class="{cls}">{chunk}</mark>'
        out.append(f'<span class="ev" data-i="{keys}" title="{names}">{mark}</span>')
    return "".join(out)


def lacking_words(result: dict[str, Any]) -> dict[str, list[str]]:
    """Candidate item path -> the words its quotes lack, from the scored result."""
    supported = result.get("supported")
    if not isinstance(supported, dict):
        return {}
    return {
        u["item"]: [str(w) for w in u.get("missing", [])]
        for u in supported.get("unsupported", [])
        if isinstance(u, dict) and isinstance(u.get("item"), str)
    }


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None
